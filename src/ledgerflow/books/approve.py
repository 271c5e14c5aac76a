"""Bulk approval: by a list of ids or by a confidence filter, 500 transactions per transaction.

Approving a transaction posts its journal entry (the draft written at categorization, or a
new one). Each batch commits on its own with one audit-log row naming who approved which
transactions and when, so a failure part-way leaves whole batches approved and the rest
untouched; running the same approval again finds nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from .db import session_scope
from .journal import POSTABLE_COLUMNS, Postable, post_entries
from .models import JournalEntry, Transaction, utcnow
from .queries import audit

BATCH = 500
MAX_IDS = 100_000


@dataclass
class ApprovalCounts:
    approved: int = 0
    entries_posted: int = 0
    skipped: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "approved": self.approved,
            "entries_posted": self.entries_posted,
            "skipped": self.skipped,
            "batches": self.batches,
        }


def approve(
    sessions: sessionmaker[Session],
    company_id: str,
    user_id: str | None,
    progress: Callable[[float, str], None],
    *,
    transaction_ids: Sequence[str] | None = None,
    min_confidence: float | None = None,
) -> ApprovalCounts:
    """Approve the company's categorized transactions chosen by ids and/or minimum confidence."""
    if transaction_ids is None and min_confidence is None:
        raise ValueError("choose transactions by transaction_ids or by min_confidence")
    if transaction_ids is not None and len(transaction_ids) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS:,} transaction ids per approval")
    scope: list[ColumnElement[bool]] = [
        Transaction.company_id == company_id,
        Transaction.status == "categorized",
    ]
    if min_confidence is not None:
        scope.append(Transaction.confidence >= min_confidence)
    counts = ApprovalCounts()
    wanted = sorted(set(transaction_ids)) if transaction_ids is not None else None
    with session_scope(sessions) as session:
        total = _count(session, scope, wanted)
    if wanted is not None:
        counts.skipped = len(wanted) - total
    if total == 0:
        progress(100, "Nothing to approve.")
        return counts
    for batch_scope in _batches(scope, wanted):
        with session_scope(sessions) as session:
            batch = list(
                session.execute(
                    select(*POSTABLE_COLUMNS)
                    .where(*batch_scope)
                    .order_by(Transaction.id)
                    .limit(BATCH)
                ).all()
            )
            if not batch:
                if wanted is None:
                    break
                continue
            counts.entries_posted += _approve_batch(session, company_id, user_id, batch)
        counts.approved += len(batch)
        counts.batches += 1
        progress(
            100 * min(1.0, counts.approved / total),
            f"Approved {counts.approved:,}/{total:,} transactions (batch {counts.batches})...",
        )
    progress(100, f"{counts.approved:,} transactions approved")
    return counts


def _batches(
    scope: list[ColumnElement[bool]], wanted: list[str] | None
) -> Iterator[list[ColumnElement[bool]]]:
    """The WHERE clauses of successive batches: chunks of the ids, or pages of the filter."""
    if wanted is not None:
        for start in range(0, len(wanted), BATCH):
            yield [*scope, Transaction.id.in_(wanted[start : start + BATCH])]
        return
    # Approved rows leave the scope (status is no longer "categorized"), so the first page of
    # what remains is always the next batch.
    while True:
        yield scope


def _count(session: Session, scope: list[ColumnElement[bool]], wanted: list[str] | None) -> int:
    if wanted is None:
        return int(session.scalar(select(func.count()).where(*scope)) or 0)
    return sum(
        int(session.scalar(select(func.count()).where(*batch)) or 0)
        for batch in _batches(scope, wanted)
    )


def _approve_batch(
    session: Session, company_id: str, user_id: str | None, batch: Sequence[Postable]
) -> int:
    """Approve one batch; returns how many journal entries it posted."""
    ids = [t.id for t in batch]
    now = utcnow()
    # Rows written by the categorizer carry a draft entry; older or hand-made ones may not.
    created = post_entries(session, batch, status="posted").entry_ids
    drafts = cast(
        CursorResult[Any],
        session.execute(
            update(JournalEntry)
            .where(JournalEntry.transaction_id.in_(ids), JournalEntry.status == "draft")
            .values(status="posted"),
            execution_options={"synchronize_session": False},
        ),
    ).rowcount
    session.execute(
        update(Transaction)
        .where(Transaction.id.in_(ids), Transaction.status == "categorized")
        .values(status="approved", needs_review=False, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    audit(
        session,
        company_id,
        user_id,
        "transaction.approve",
        "transaction_batch",
        ids[0],
        {"transaction_ids": ids, "count": len(ids), "approved_at": now.isoformat()},
    )
    return len(created) + int(drafts or 0)
