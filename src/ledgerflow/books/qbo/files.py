"""File modes: IIF for QuickBooks Desktop and the QuickBooks Online journal-entry CSV import.

**IIF** (``.iif``, tab-separated, CRLF, Windows-1252 as QuickBooks Desktop reads it)::

    !TRNS  TRNSID  TRNSTYPE  DATE  ACCNT  AMOUNT  DOCNUM  MEMO
    !SPL   SPLID   TRNSTYPE  DATE  ACCNT  AMOUNT  DOCNUM  MEMO
    !ENDTRNS

then per entry one ``TRNS`` row (its first line), a ``SPL`` row per other line and
``ENDTRNS``. ``TRNSTYPE`` is ``GENERAL JOURNAL``, dates ``MM/DD/YYYY``, ``ACCNT`` the account's
exact name, ``AMOUNT`` positive for a debit and negative for a credit (each entry sums to 0),
``DOCNUM`` the entry's journal number (as in the API mode), ``MEMO`` the line's description or
the entry's memo. Tabs, line breaks and double quotes in text become spaces or single quotes;
an account name that cannot be written exactly (such characters, or outside Windows-1252) fails
the entry rather than being changed, since QuickBooks matches accounts by exact name.

**CSV** (``.csv``, UTF-8, comma-separated, the layout of QuickBooks Online's *Import journal
entries*): ``JournalNo, JournalDate, AccountName, Debits, Credits, Description, Name``, one row
per line; the rows of one entry share ``JournalNo``; ``JournalDate`` is ``MM/DD/YYYY``;
``Debits`` or ``Credits`` holds the positive amount (``1234.50``, no symbol or separators) and
the other is empty; ``Name`` (customer or vendor) stays empty. Text that a spreadsheet would run
as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a CR) gets a leading ``'``; an
account name starting so fails its entry instead, as a changed name would not match.

The file is written under ``out_dir`` as ``qbo-<company>-<UTC time>.<mode>`` (temporary name,
renamed when complete) and the entries are marked exported in the same database transaction;
that transaction begins by locking the company row, so two file exports of one company run one
after the other and never put an entry in two files. No file is written when nothing is left to
export.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from sqlalchemy import insert, update
from sqlalchemy.orm import Session, sessionmaker

from ..db import session_scope
from ..models import Company, QboExport, utcnow
from .export import LOAD_CHUNK, Entry, Outcome, Progress, candidate_ids, doc_number, load_entries
from .export import mark_exported as _mark

IIF_HEADER = (
    "!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tAMOUNT\tDOCNUM\tMEMO\r\n"
    "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tAMOUNT\tDOCNUM\tMEMO\r\n"
    "!ENDTRNS\r\n"
)
CSV_COLUMNS = (
    "JournalNo",
    "JournalDate",
    "AccountName",
    "Debits",
    "Credits",
    "Description",
    "Name",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_IIF_UNSAFE = str.maketrans({"\t": " ", "\r": " ", "\n": " ", '"': "'"})


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def us_date(day: dt.date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def neutralize(text: str) -> str:
    """A CSV cell a spreadsheet shows as text, never evaluates (OWASP's CSV injection advice)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _iif_text(text: str | None) -> str:
    return (text or "").translate(_IIF_UNSAFE).encode("cp1252", "replace").decode("cp1252")


def iif_rows(entry: Entry) -> list[str] | str:
    """The TRNS/SPL/ENDTRNS rows of one entry, or why it cannot be written."""
    rows = []
    for i, line in enumerate(entry.lines):
        name = line.account_name
        if name.translate(_IIF_UNSAFE) != name:
            return f"account {name!r} has a tab, line break or double quote; rename it for IIF"
        try:
            name.encode("cp1252")
        except UnicodeEncodeError:
            return f"account {name!r} cannot be written in an IIF file (Windows-1252); rename it"
        amount = line.debit_cents if line.debit_cents > 0 else -line.credit_cents
        memo = _iif_text(line.description or entry.memo)
        fields = [
            "TRNS" if i == 0 else "SPL",
            "",
            "GENERAL JOURNAL",
            us_date(entry.date),
            name,
            money(amount),
            doc_number(entry.id),
            memo,
        ]
        rows.append("\t".join(fields) + "\r\n")
    rows.append("ENDTRNS\r\n")
    return rows


def csv_rows(entry: Entry) -> list[list[str]] | str:
    rows = []
    for line in entry.lines:
        if line.account_name.startswith(FORMULA_PREFIXES):
            return (
                f"account {line.account_name!r} starts with a character spreadsheets treat as "
                "a formula; rename it to export as CSV"
            )
        debit = line.debit_cents > 0
        rows.append(
            [
                doc_number(entry.id),
                us_date(entry.date),
                line.account_name,
                money(line.debit_cents) if debit else "",
                "" if debit else money(line.credit_cents),
                neutralize(line.description or entry.memo or ""),
                "",
            ]
        )
    return rows


def _check(entry: Entry) -> str | None:
    if len(entry.lines) < 2:
        return "the entry has fewer than two lines"
    if sum(li.debit_cents for li in entry.lines) != sum(li.credit_cents for li in entry.lines):
        return "the entry does not balance"
    return None


def export_file(
    session_factory: sessionmaker[Session],
    company_id: str,
    since: dt.date | None,
    mode: str,
    out_dir: Path,
    outcome: Outcome,
    report: Progress,
) -> None:
    now = utcnow()
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"qbo-{company_id}-{now:%Y%m%dT%H%M%S%fZ}.{mode}"
    temp = final.with_name(final.name + ".part")
    written: list[str] = []
    with session_scope(session_factory) as s:
        # The lock: a write first (row lock on PostgreSQL, the write lock on SQLite).
        s.execute(update(Company).where(Company.id == company_id).values(name=Company.name))
        ids = candidate_ids(s, company_id, since)
        if not ids:
            report(100, "Nothing to export.")
            return
        report(5, f"Writing {len(ids):,} journal entries to an {mode.upper()} file...")
        try:
            with temp.open("w", encoding="cp1252" if mode == "iif" else "utf-8", newline="") as f:
                _write(s, company_id, ids, mode, f, written, outcome, report)
            if written:
                _record(s, company_id, written, mode, final.name, now)
                os.replace(temp, final)
                outcome.file_path = final
        finally:
            temp.unlink(missing_ok=True)
    outcome.exported = len(written)
    report(100, f"Wrote {len(written):,} journal entries to {final.name if written else 'no file'}")


def _write(
    session: Session,
    company_id: str,
    ids: Sequence[str],
    mode: str,
    stream: TextIO,
    written: list[str],
    outcome: Outcome,
    report: Progress,
) -> None:
    writer = csv.writer(stream, lineterminator="\r\n")
    if mode == "iif":
        stream.write(IIF_HEADER)
    else:
        writer.writerow(CSV_COLUMNS)
    total = len(ids)
    for start in range(0, total, LOAD_CHUNK):
        for entry in load_entries(session, company_id, ids[start : start + LOAD_CHUNK]):
            problem = _check(entry)
            if problem is None and mode == "iif":
                lines = iif_rows(entry)
                if isinstance(lines, list):
                    stream.writelines(lines)
                problem = lines if isinstance(lines, str) else None
            elif problem is None:
                rows = csv_rows(entry)
                if isinstance(rows, list):
                    writer.writerows(rows)
                problem = rows if isinstance(rows, str) else None
            if problem is not None:
                outcome.fail(entry.id, problem)
                continue
            written.append(entry.id)
        done = min(total, start + LOAD_CHUNK)
        report(5 + 90 * done / total, f"Exporting entry {done:,}/{total:,}...")


def _record(
    session: Session,
    company_id: str,
    entry_ids: Sequence[str],
    mode: str,
    file_name: str,
    now: dt.datetime,
) -> None:
    for start in range(0, len(entry_ids), LOAD_CHUNK):
        session.execute(
            insert(QboExport),
            [
                {
                    "entry_id": entry_id,
                    "company_id": company_id,
                    "mode": mode,
                    "status": "done",
                    "ref": file_name,
                    "created_at": now,
                    "exported_at": now,
                }
                for entry_id in entry_ids[start : start + LOAD_CHUNK]
            ],
        )
    _mark(session, company_id, [(entry_id, None) for entry_id in entry_ids], now)
