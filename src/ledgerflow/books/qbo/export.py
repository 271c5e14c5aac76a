"""Export posted journal entries to QuickBooks: through the API, or as an IIF or CSV file.

``export_journal_entries`` is the one entry point (the ``export_to_quickbooks`` job calls it).
It takes the company's *posted* entries that were never exported (``qbo_id`` and
``exported_at`` both null, no row in ``lf_qbo_exports``), dated ``since`` or later, in date
order, and returns ``{"exported", "skipped", "failed": [{"entry_id", "reason"}]}`` plus
``"file_path"`` in the file modes when a file was written. ``skipped`` counts the posted entries
in range that an earlier export already took.

Every exported entry gets ``exported_at``, a ``done`` row in ``lf_qbo_exports`` (the mode, and
the QuickBooks id or the file name in ``ref``), and its bank transaction moves to ``exported``;
the API mode also stores the QuickBooks id in ``qbo_id``. A file export counts as an export: the
next export (of any mode) skips those entries, since importing them twice would duplicate them
in QuickBooks; the file stays downloadable from the job's result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Select, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..models import Account, JournalEntry, JournalLine, QboExport, Transaction

if TYPE_CHECKING:
    from .client import QboClient

Mode = Literal["api", "iif", "csv"]
MODES: tuple[str, ...] = ("api", "iif", "csv")
Progress = Callable[[float, str], None]
LOAD_CHUNK = 500


@dataclass(frozen=True)
class Line:
    account_id: str
    account_name: str
    debit_cents: int
    credit_cents: int
    description: str | None


@dataclass(frozen=True)
class Entry:
    id: str
    date: dt.date
    memo: str | None
    transaction_id: str | None
    lines: tuple[Line, ...]


@dataclass
class Outcome:
    exported: int = 0
    skipped: int = 0
    failed: list[dict[str, str]] | None = None
    file_path: Path | None = None

    def fail(self, entry_id: str, reason: str) -> None:
        if self.failed is None:
            self.failed = []
        self.failed.append({"entry_id": entry_id, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "exported": self.exported,
            "skipped": self.skipped,
            "failed": list(self.failed or []),
        }
        if self.file_path is not None:
            result["file_path"] = str(self.file_path)
        return result


def _no_progress(_percent: float, _message: str) -> None:
    pass


def export_journal_entries(
    session_factory: sessionmaker[Session],
    company_id: str,
    *,
    since: dt.date | None = None,
    mode: Mode = "api",
    progress: Progress | None = None,
    out_dir: Path,
    client: QboClient | None = None,
) -> dict[str, Any]:
    """Export the company's posted, not yet exported entries (see the module docstring).

    ``client`` (API mode) is a ``QboClient``; without one it is built from the environment
    (``QboClient`` over ``QboAuth`` with ``QboConfig.from_env()`` and the app's secret key).
    Raises ``QboNotConnected`` / ``QboRejected`` (fail the job) or ``QboUnavailable``
    (retry it later: batches in flight are re-sent with their original ``requestid``).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    report = progress or _no_progress
    outcome = Outcome()
    with session_factory() as s:
        outcome.skipped = count_already_exported(s, company_id, since)
    if mode == "api":
        from .export_api import export_api

        export_api(session_factory, company_id, since, client, outcome, report)
    else:
        from .files import export_file

        export_file(session_factory, company_id, since, mode, out_dir, outcome, report)
    return outcome.as_dict()


# --- queries shared by the modes -----------------------------------------------------------
def _in_range(company_id: str, since: dt.date | None) -> list[Any]:
    conditions: list[Any] = [JournalEntry.company_id == company_id, JournalEntry.status == "posted"]
    if since is not None:
        conditions.append(JournalEntry.date >= since)
    return conditions


def count_already_exported(session: Session, company_id: str, since: dt.date | None) -> int:
    stmt = select(func.count()).where(
        *_in_range(company_id, since),
        or_(JournalEntry.qbo_id.is_not(None), JournalEntry.exported_at.is_not(None)),
    )
    return int(session.scalar(stmt) or 0)


def candidate_ids(session: Session, company_id: str, since: dt.date | None) -> list[str]:
    """Posted entries never exported nor claimed, in date order (then creation order)."""
    stmt: Select[str] = (
        select(JournalEntry.id)
        .where(
            *_in_range(company_id, since),
            JournalEntry.qbo_id.is_(None),
            JournalEntry.exported_at.is_(None),
            ~exists().where(QboExport.entry_id == JournalEntry.id),
        )
        .order_by(JournalEntry.date, JournalEntry.id)
    )
    return list(session.scalars(stmt))


def load_entries(session: Session, company_id: str, ids: Sequence[str]) -> list[Entry]:
    """The entries ``ids`` with their lines and account names, in the order of ``ids``."""
    found: dict[str, Entry] = {}
    for start in range(0, len(ids), LOAD_CHUNK):
        chunk = list(ids[start : start + LOAD_CHUNK])
        heads = {
            e.id: e
            for e in session.scalars(
                select(JournalEntry).where(
                    JournalEntry.company_id == company_id, JournalEntry.id.in_(chunk)
                )
            )
        }
        lines: dict[str, list[Line]] = {entry_id: [] for entry_id in heads}
        rows = session.execute(
            select(JournalLine, Account.name)
            .join(
                Account,
                and_(
                    Account.id == JournalLine.account_id,
                    Account.company_id == JournalLine.company_id,
                ),
            )
            .where(JournalLine.company_id == company_id, JournalLine.entry_id.in_(chunk))
            .order_by(JournalLine.entry_id, JournalLine.id)
        )
        for line, account_name in rows:
            lines[line.entry_id].append(
                Line(
                    line.account_id,
                    account_name,
                    line.debit_cents,
                    line.credit_cents,
                    line.description,
                )
            )
        for entry_id, head in heads.items():
            found[entry_id] = Entry(
                head.id, head.date, head.memo, head.transaction_id, tuple(lines[entry_id])
            )
    return [found[i] for i in ids if i in found]


def mark_exported(
    session: Session,
    company_id: str,
    exported: Sequence[tuple[str, str | None]],
    now: dt.datetime,
) -> None:
    """Record ``(entry_id, qbo_id)`` pairs as exported: entries and their transactions."""
    for entry_id, qbo_id in exported:
        values: dict[str, Any] = {"exported_at": now}
        if qbo_id is not None:
            values["qbo_id"] = qbo_id
        session.execute(
            update(JournalEntry)
            .where(JournalEntry.company_id == company_id, JournalEntry.id == entry_id)
            .values(**values)
        )
    ids = [entry_id for entry_id, _ in exported]
    for start in range(0, len(ids), LOAD_CHUNK):
        txn_ids = select(JournalEntry.transaction_id).where(
            JournalEntry.company_id == company_id,
            JournalEntry.id.in_(ids[start : start + LOAD_CHUNK]),
            JournalEntry.transaction_id.is_not(None),
        )
        session.execute(
            update(Transaction)
            .where(Transaction.company_id == company_id, Transaction.id.in_(txn_ids))
            .values(status="exported", updated_at=now)
        )


def doc_number(entry_id: str) -> str:
    """A DocNumber (≤ 21 characters) that identifies the entry: for ``je_`` + a ULID, the
    ULID's 10 time characters and the last 11 random ones (the part a same-millisecond
    increment changes)."""
    raw = entry_id.removeprefix("je_")
    if len(raw) <= 21:
        return raw
    if len(raw) == 26:
        return raw[:10] + raw[-11:]
    import hashlib

    return hashlib.sha256(entry_id.encode()).hexdigest()[:21].upper()
