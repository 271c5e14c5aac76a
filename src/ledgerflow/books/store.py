"""Storing a bank file's rows as transactions: the import's hot path, one bulk INSERT per batch.

Fingerprints decide what is new (``fingerprint.py``); ``ON CONFLICT DO NOTHING`` on
``(company_id, fingerprint)`` skips the rest, so re-importing a file stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from .bulk import insert_rows
from .fingerprint import FingerprintRow, file_fingerprints
from .models import BankAccount, Transaction, new_ids, utcnow

_ID_CHUNK = 500


class ImportRow(FingerprintRow, Protocol):
    """One parsed bank row (the importers' ``ParsedTransaction`` fits)."""

    @property
    def currency(self) -> str: ...
    @property
    def memo(self) -> str | None: ...


def insert_transactions(
    session: Session,
    company_id: str,
    bank_account_id: str,
    rows: Sequence[ImportRow],
    *,
    source_file: str | None = None,
    import_job_id: str | None = None,
    merchants: Sequence[str | None] | None = None,
    fingerprints: Sequence[str] | None = None,
) -> list[str]:
    """Insert one file's rows, skipping those already stored (same fingerprint); returns the ids
    of the rows inserted. INSERT ... ON CONFLICT DO NOTHING of plain tuples (``bulk``).

    A file streamed in several calls passes ``fingerprints`` from one ``FileFingerprinter``,
    so that occurrences are counted across the whole file."""
    if merchants is not None and len(merchants) != len(rows):
        raise ValueError("merchants must match rows one to one")
    bank = session.get(BankAccount, bank_account_id)
    if bank is None or bank.company_id != company_id:
        raise ValueError(f"bank account {bank_account_id!r} does not belong to {company_id!r}")
    if not rows:
        return []
    now = utcnow()
    ids = new_ids("txn", len(rows))
    values = [
        (
            txn_id,
            company_id,
            bank_account_id,
            row.date,
            row.description,
            merchant,
            row.amount_cents,
            (row.currency or bank.currency).upper(),
            source_file,
            fingerprint,
            "new",
            row.external_id,
            row.memo,
            import_job_id,
            now,
            now,
        )
        for txn_id, row, merchant, fingerprint in zip(
            ids,
            rows,
            merchants if merchants is not None else [None] * len(rows),
            fingerprints or file_fingerprints(bank_account_id, rows),
            strict=True,
        )
    ]
    table = cast(Table, Transaction.__table__)
    inserted = insert_rows(
        session, table, _TXN_COLUMNS, values, skip_conflicts_on=("company_id", "fingerprint")
    )
    if inserted == len(ids):
        return ids
    # Some were already stored: ask which of ours made it.
    stored: set[str] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        stored.update(session.scalars(select(Transaction.id).where(Transaction.id.in_(chunk))))
    return [i for i in ids if i in stored]


_TXN_COLUMNS = tuple(
    "id company_id bank_account_id date description merchant amount_cents currency source_file"
    " fingerprint status external_id memo import_job_id created_at updated_at".split()
)
