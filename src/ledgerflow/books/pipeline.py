"""Import a bank file and categorize transactions, stage by stage, reporting progress.

Stages and their share of the bar: parse 0–20 %, validate 20–30, insert 30–50, rules 50–70,
model 70–90, journal entries 90–100. The file is read once, in batches, so memory stays bounded
on a file of any size; a bad row anywhere fails the import before anything is written, and the
rows go in with one transaction: nothing is kept unless every row is good. Categorizing then
commits batch by batch; a failure part-way leaves each transaction either untouched or fully
categorized, and a retry simply goes on with the rows still ``new``.
"""

from __future__ import annotations

import hashlib
import pickle
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .bulk import update_rows
from .chart import add_bank_account
from .classifier import Categorizer, CategoryModel, MerchantMemory, merchant_key
from .db import session_scope
from .fingerprint import FileFingerprinter
from .importers import ParsedTransaction, Statement, StatementError, parse_statement
from .journal import POSTABLE_COLUMNS, post_entries
from .llm import LLMCategorizer, LLMRow, LLMSettings
from .models import Account, BankAccount, Transaction, utcnow
from .queries import insert_transactions, list_rules
from .rules import RULE_CONFIDENCE, compile_rules

Progress = Callable[[float, str], None]
# Rows per categorizing transaction: each commit costs an fsync on SQLite, while a batch is also
# the unit of progress reports (and of the LLM step's calls).
BATCH = 5000
IMPORT_BATCH = 10_000  # rows per bulk INSERT; the whole file is still one transaction
MAX_EXTERNAL_ID = 200  # the widths of lf_transactions' columns (PostgreSQL enforces them)
MAX_MERCHANT = 200
MAX_SOURCE_FILE = 500
HISTORY_ROWS = 20_000  # approved rows a company's memory learns from, newest first
LAYOUT_NAMES = {
    "chase_checking": "Chase checking",
    "chase_card": "Chase card",
    "boa_checking": "Bank of America checking",
    "wells_fargo": "Wells Fargo checking",
    "amex": "American Express card",
    "capital_one": "Capital One card",
}
FALLBACK = {True: "Uncategorized income", False: "Uncategorized expense"}


class ImportRefused(ValueError):
    """The file or the request cannot be imported as asked; the message says why."""


@dataclass
class ImportCounts:
    parsed: int
    inserted: int
    duplicates: int
    bank_account_id: str


@dataclass
class CategorizeCounts:
    categorized: int = 0
    je_created: int = 0
    high_confidence: int = 0
    needs_review: int = 0
    by_method: dict[str, int] = field(default_factory=lambda: {"rule": 0, "model": 0, "llm": 0})

    def as_dict(self) -> dict[str, Any]:
        return {
            "categorized": self.categorized,
            "je_created": self.je_created,
            "high_confidence": self.high_confidence,
            "needs_review": self.needs_review,
            "by_method": dict(self.by_method),
        }


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def import_statement(
    sessions: sessionmaker[Session],
    company_id: str,
    path: Path,
    file_name: str,
    bank_account_id: str | None,
    import_job_id: str,
    progress: Progress,
) -> ImportCounts:
    """Parse and validate the whole file, then insert its new rows in one transaction.

    The parsed rows are spooled (pickled, a batch at a time) to a temporary file rather than
    parsed a second time: memory stays bounded, a bad file fails before anything is written
    (or locked), and the insert reads back parsed rows instead of text.
    """
    statement = parse_statement(path, file_name=file_name)
    approx_rows = max(1, _count_lines(path) - 1)
    with tempfile.TemporaryFile(prefix="ledgerflow-import-") as spool:
        parsed = 0
        for rows in _batches(statement.rows(), IMPORT_BATCH):
            pickle.dump([_storable(r) for r in rows], spool, pickle.HIGHEST_PROTOCOL)
            parsed += len(rows)
            progress(20 * min(1.0, parsed / approx_rows), f"Parsing row {parsed:,}...")
        if parsed == 0:
            raise StatementError.at(0, "The file has no transactions.", file_name)
        progress(20, f"Parsed {parsed:,} rows; validating...")
        spool.seek(0)
        with session_scope(sessions) as session:
            bank = _bank_account(session, company_id, bank_account_id, statement)
            progress(30, f"Validated {parsed:,} rows for {bank.name}")
            fingerprint = FileFingerprinter(bank.id)
            inserted = seen = 0
            while seen < parsed:
                batch: list[ParsedTransaction] = pickle.load(spool)  # this very call's own file
                inserted += len(
                    insert_transactions(
                        session,
                        company_id,
                        bank.id,
                        batch,
                        source_file=file_name[:MAX_SOURCE_FILE],
                        import_job_id=import_job_id,
                        merchants=[merchant_key(r.description)[:MAX_MERCHANT] for r in batch],
                        fingerprints=[fingerprint(r) for r in batch],
                    )
                )
                seen += len(batch)
                progress(30 + 20 * seen / parsed, f"Inserting transaction {seen:,}/{parsed:,}...")
    progress(50, f"Imported {parsed:,} rows ({inserted:,} new) into {bank.name}")
    return ImportCounts(parsed, inserted, parsed - inserted, bank.id)


def _storable(row: ParsedTransaction) -> ParsedTransaction:
    """The row as its columns can hold it. OFX allows 255-character FITIDs; a longer id than
    the column takes is kept as its digest, which still tells the same id apart from others."""
    if row.external_id is not None and len(row.external_id) > MAX_EXTERNAL_ID:
        digest = hashlib.sha256(row.external_id.encode()).hexdigest()
        return replace(row, external_id=f"sha256:{digest}")
    return row


def _batches(rows: Iterator[ParsedTransaction], size: int) -> Iterator[list[ParsedTransaction]]:
    batch: list[ParsedTransaction] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _bank_account(
    session: Session, company_id: str, bank_account_id: str | None, statement: Statement
) -> BankAccount:
    if bank_account_id is not None:
        bank = session.get(BankAccount, bank_account_id)
        if bank is None or bank.company_id != company_id:
            raise ImportRefused(f"Bank account {bank_account_id!r} was not found.")
        if bank.currency != statement.currency:
            raise ImportRefused(
                f"The file is in {statement.currency} but {bank.name} is in {bank.currency}."
            )
        return bank
    name = LAYOUT_NAMES.get(statement.layout) or (
        "Imported card" if statement.account_kind == "credit_card" else "Imported account"
    )
    same_name = select(BankAccount).where(
        BankAccount.company_id == company_id, BankAccount.name == name
    )
    existing = session.scalars(same_name).first()
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            return add_bank_account(
                session, company_id, name, statement.account_kind, statement.currency
            )
    except IntegrityError:
        # Another import of the same layout created it first (PostgreSQL made this one wait
        # for that import's commit): use theirs.
        return session.scalars(same_name).one()


def categorize(
    sessions: sessionmaker[Session],
    company_id: str,
    progress: Progress,
    *,
    import_job_id: str | None = None,
    limit: int | None = None,
    threshold: float = 0.9,
    llm: LLMSettings | None = None,
) -> CategorizeCounts:
    """Rules, then the learned model (and the LLM, if set up), then draft journal entries."""
    counts = CategorizeCounts()
    scope = [Transaction.company_id == company_id]
    if import_job_id is not None:
        scope.append(Transaction.import_job_id == import_job_id)
    with session_scope(sessions) as session:
        bound, total = _scope_bound(session, scope, limit)
    if total == 0:
        progress(100, "Nothing to categorize.")
        return counts
    scope.append(Transaction.id <= bound)
    _apply_rules(sessions, company_id, scope, total, counts, progress)
    _apply_model(sessions, company_id, scope, total, counts, progress, threshold, llm)
    _write_entries(sessions, scope, total, counts, progress)
    return counts


def _scope_bound(
    session: Session, scope: list[ColumnElement[bool]], limit: int | None
) -> tuple[str, int]:
    """The highest id among the first ``limit`` new rows in scope, and how many there are."""
    ids = select(Transaction.id).where(*scope, Transaction.status == "new").order_by(Transaction.id)
    if limit is not None:
        ids = ids.limit(limit)
    inner = ids.subquery()
    bound, total = session.execute(select(func.max(inner.c.id), func.count())).one()
    return bound or "", int(total)


def _new_rows(
    sessions: sessionmaker[Session], scope: list[ColumnElement[bool]]
) -> Iterator[Sequence[Row[str, str, str | None, int]]]:
    """Batches of the ``new`` rows in scope, in id order (plain rows: ORM objects cost more)."""
    after = ""
    while True:
        with session_scope(sessions) as session:
            rows = session.execute(
                select(
                    Transaction.id,
                    Transaction.description,
                    Transaction.merchant,
                    Transaction.amount_cents,
                )
                .where(*scope, Transaction.status == "new", Transaction.id > after)
                .order_by(Transaction.id)
                .limit(BATCH)
            ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id


_TXN = cast(Table, Transaction.__table__)
_CATEGORIZED = ("status", "account_id", "method", "confidence", "needs_review", "updated_at")


def _set_categories(
    sessions: sessionmaker[Session], changes: list[tuple[str, str, str, float, bool]]
) -> None:
    """Categorize (row id, account, method, confidence, needs review) rows in one transaction.
    Only rows still ``new`` change: a hand correction made meanwhile wins."""
    if changes:
        now = utcnow()
        rows = [
            ("categorized", account, how, sure, review, now, row_id)
            for row_id, account, how, sure, review in changes
        ]
        with session_scope(sessions) as session:
            update_rows(session, _TXN, _CATEGORIZED, rows, where="status = 'new'")


def _apply_rules(
    sessions: sessionmaker[Session],
    company_id: str,
    scope: list[ColumnElement[bool]],
    total: int,
    counts: CategorizeCounts,
    progress: Progress,
) -> None:
    progress(50, "Applying rules...")
    with session_scope(sessions) as session:
        rules = compile_rules(list_rules(session, company_id))
    if not rules.rules:
        progress(70, "No rules to apply.")
        return
    seen = 0
    for rows in _new_rows(sessions, scope):
        changes = []
        for txn in rows:
            match = rules.match(txn.description, txn.merchant, txn.amount_cents)
            if match is not None:
                changes.append((txn.id, match.account_id, "rule", RULE_CONFIDENCE, False))
        _set_categories(sessions, changes)
        counts.by_method["rule"] += len(changes)
        counts.high_confidence += len(changes)
        counts.categorized += len(changes)
        seen += len(rows)
        progress(50 + 20 * min(1.0, seen / total), f"Applying rules to transaction {seen:,}...")


def _apply_model(
    sessions: sessionmaker[Session],
    company_id: str,
    scope: list[ColumnElement[bool]],
    total: int,
    counts: CategorizeCounts,
    progress: Progress,
    threshold: float,
    llm: LLMSettings | None,
) -> None:
    with session_scope(sessions) as session:
        accounts: dict[str, tuple[str, bool]] = {
            name: (account_id, is_bank)
            for name, account_id, is_bank in session.execute(
                select(Account.name, Account.id, Account.is_bank).where(
                    Account.company_id == company_id
                )
            )
        }
        categorizer = Categorizer(CategoryModel.load(), _memory(session, company_id))
    categories = sorted(name for name, (_, is_bank) in accounts.items() if not is_bank)
    llm_step = LLMCategorizer(llm, categories) if llm is not None else None
    deadline = llm_step.new_deadline() if llm_step is not None else None
    remaining = total - counts.categorized
    seen = 0
    progress(70, f"Categorizing {remaining:,} transactions with the model...")
    for rows in _new_rows(sessions, scope):
        predictions = categorizer.predict(
            [t.description for t in rows], [t.amount_cents for t in rows]
        )
        decided: dict[str, tuple[str, float, str]] = {
            t.id: (p.category, p.confidence, "model")
            for t, p in zip(rows, predictions, strict=True)
        }
        if llm_step is not None:
            unsure = [
                LLMRow(t.id, t.description, t.amount_cents)
                for t in rows
                if decided[t.id][1] < threshold
            ]
            for answer in llm_step.categorize(unsure, deadline=deadline).answers.values():
                if answer.confidence > decided[answer.key][1]:
                    decided[answer.key] = (answer.category, answer.confidence, "llm")
        changes = []
        for txn in rows:
            category, confidence, method = decided[txn.id]
            account_id, _ = accounts.get(category) or accounts[FALLBACK[txn.amount_cents > 0]]
            sure = confidence >= threshold
            changes.append((txn.id, account_id, method, round(confidence, 4), not sure))
            counts.by_method[method] += 1
            counts.high_confidence += sure
            counts.needs_review += not sure
        _set_categories(sessions, changes)
        counts.categorized += len(changes)
        seen += len(rows)
        progress(
            70 + 20 * min(1.0, seen / max(1, remaining)),
            f"Categorizing transaction {seen:,}/{remaining:,}...",
        )


def _memory(session: Session, company_id: str) -> MerchantMemory:
    """What this company approved or corrected by hand, newest first."""
    rows = session.execute(
        select(Transaction.description, Transaction.amount_cents, Account.name)
        .join(Account, and_(Account.id == Transaction.account_id))
        .where(
            Transaction.company_id == company_id,
            (Transaction.method == "manual") | Transaction.status.in_(("approved", "exported")),
        )
        .order_by(Transaction.id.desc())
        .limit(HISTORY_ROWS)
    )
    return MerchantMemory.from_history((d, a, c) for d, a, c in rows)


def _write_entries(
    sessions: sessionmaker[Session],
    scope: list[ColumnElement[bool]],
    total: int,
    counts: CategorizeCounts,
    progress: Progress,
) -> None:
    after, seen = "", 0
    while True:
        with session_scope(sessions) as session:
            rows = session.execute(
                select(*POSTABLE_COLUMNS)
                .where(*scope, Transaction.status == "categorized", Transaction.id > after)
                .order_by(Transaction.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            counts.je_created += len(post_entries(session, rows, status="draft").entry_ids)
            after = rows[-1].id
        seen += len(rows)
        progress(90 + 10 * min(1.0, seen / total), f"Writing journal entry {seen:,}/{total:,}...")
    progress(100, f"{counts.je_created:,} journal entries created")
