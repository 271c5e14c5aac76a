"""Double-entry journal entries for bank transactions.

A bank transaction becomes one entry with two lines, from the point of view of the account the
statement belongs to (its ledger account, an asset for a bank, a liability for a credit card):

* money out (amount < 0): debit the category, credit the bank/card ledger account;
* money in (amount > 0): debit the bank/card ledger account, credit the category.

For a credit card this is right without a special case: a charge is money out on the card's
statement (debit the expense, credit the card, so the liability grows), and a payment to the
card is money in on the card (debit the card, credit the category "Transfer"); the same payment
seen on the checking account is money out (debit "Transfer", credit the bank), so the clearing
account nets to zero once both statements are in.

The database refuses unbalanced entries too (see the migration); this module refuses them first,
with a clearer message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from .bulk import insert_rows
from .models import (
    Account,
    BankAccount,
    JournalEntry,
    JournalLine,
    Transaction,
    new_id,
    new_ids,
    utcnow,
)

POSTABLE_STATUSES = frozenset({"categorized", "approved", "exported"})
_CHUNK = 500


class UnbalancedEntryError(ValueError):
    pass


@dataclass(frozen=True)
class LineSpec:
    account_id: str
    debit_cents: int = 0
    credit_cents: int = 0
    description: str | None = None


def check_balanced(lines: Sequence[LineSpec]) -> None:
    """Raise UnbalancedEntryError unless the lines form a valid, balanced entry."""
    if len(lines) < 2:
        raise UnbalancedEntryError("an entry needs at least two lines")
    for i, line in enumerate(lines):
        for value in (line.debit_cents, line.credit_cents):
            if isinstance(value, bool) or not isinstance(value, int):
                raise UnbalancedEntryError(f"line {i}: amounts are integer cents")
        if line.debit_cents < 0 or line.credit_cents < 0:
            raise UnbalancedEntryError(f"line {i}: amounts must not be negative")
        if (line.debit_cents > 0) == (line.credit_cents > 0):
            raise UnbalancedEntryError(f"line {i}: exactly one of debit and credit is non-zero")
    debits = sum(line.debit_cents for line in lines)
    credits = sum(line.credit_cents for line in lines)
    if debits != credits:
        raise UnbalancedEntryError(f"debits {debits} != credits {credits}")


def transaction_lines(
    amount_cents: int, category_account_id: str, ledger_account_id: str, description: str | None
) -> list[LineSpec]:
    """The two lines for a bank transaction (see the module docstring for the directions)."""
    debited, credited = _directions(amount_cents, category_account_id, ledger_account_id)
    amount = abs(amount_cents)
    lines = [
        LineSpec(debited, debit_cents=amount, description=description),
        LineSpec(credited, credit_cents=amount, description=description),
    ]
    check_balanced(lines)
    return lines


def _directions(
    amount_cents: int, category_account_id: str, ledger_account_id: str
) -> tuple[str, str]:
    """(debited account, credited account) of a bank transaction's entry."""
    if amount_cents == 0:
        raise ValueError("a zero-amount transaction has nothing to post")
    if category_account_id == ledger_account_id:
        raise ValueError("a transaction cannot be categorized to its own bank account")
    if amount_cents < 0:
        return category_account_id, ledger_account_id
    return ledger_account_id, category_account_id


def entry_for_transaction(
    txn: Transaction,
    category_account: Account,
    bank_ledger_account: Account,
    status: str = "posted",
) -> JournalEntry:
    """A new (unsaved) entry with its two lines; add it to a session to store it."""
    for account in (category_account, bank_ledger_account):
        if account.company_id != txn.company_id:
            raise ValueError(f"account {account.id} belongs to another company")
    if not bank_ledger_account.is_bank:
        raise ValueError(f"account {bank_ledger_account.id} is not a bank or card account")
    lines = transaction_lines(
        txn.amount_cents, category_account.id, bank_ledger_account.id, txn.description
    )
    entry = JournalEntry(
        id=new_id("je"),
        company_id=txn.company_id,
        transaction_id=txn.id,
        date=txn.date,
        memo=txn.description,
        status=status,
    )
    entry.lines = [
        JournalLine(
            id=new_id("jel"),
            company_id=txn.company_id,
            account_id=spec.account_id,
            debit_cents=spec.debit_cents,
            credit_cents=spec.credit_cents,
            description=spec.description,
        )
        for spec in lines
    ]
    return entry


@dataclass(frozen=True)
class PostResult:
    entry_ids: list[str]
    already_posted: list[str]
    skipped_zero: list[str]


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class Postable(Protocol):
    """What posting reads of a transaction: an ORM ``Transaction`` or a row of its columns."""

    @property
    def id(self) -> str: ...
    @property
    def company_id(self) -> str: ...
    @property
    def bank_account_id(self) -> str: ...
    @property
    def date(self) -> dt.date: ...
    @property
    def description(self) -> str: ...
    @property
    def amount_cents(self) -> int: ...
    @property
    def account_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...


_ENTRIES = cast(Table, JournalEntry.__table__)
_LINES = cast(Table, JournalLine.__table__)
_ENTRY_COLUMNS = tuple(
    "id company_id transaction_id date memo status total_debit_cents total_credit_cents"
    " created_at".split()
)
_LINE_COLUMNS = tuple(
    "id company_id entry_id account_id debit_cents credit_cents description".split()
)

POSTABLE_COLUMNS = (
    Transaction.id,
    Transaction.company_id,
    Transaction.bank_account_id,
    Transaction.date,
    Transaction.description,
    Transaction.amount_cents,
    Transaction.account_id,
    Transaction.status,
)


def post_entries(
    session: Session, transactions: Sequence[Postable], status: str = "posted"
) -> PostResult:
    """Write one entry per categorized transaction, with bulk INSERTs of plain tuples.

    Categorization writes ``draft`` entries; approving a transaction posts its entry.

    Idempotent, so a retried job is safe: a transaction that already has an entry is skipped
    (and reported), as is one with a zero amount. Anything else that cannot be posted (no
    category, still "new", foreign account) raises before anything is written.
    """
    if not transactions:
        return PostResult([], [], [])
    bank_ids = sorted({t.bank_account_id for t in transactions})
    ledgers: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(bank_ids):
        for bank_id, company_id, ledger_id in session.execute(
            select(BankAccount.id, BankAccount.company_id, BankAccount.ledger_account_id).where(
                BankAccount.id.in_(chunk)
            )
        ):
            ledgers[bank_id] = (company_id, ledger_id)
    posted: set[str] = set()
    txn_ids = [t.id for t in transactions]
    for chunk in _chunks(txn_ids):
        posted.update(
            session.scalars(
                select(JournalEntry.transaction_id).where(JournalEntry.transaction_id.in_(chunk))
            )
        )

    todo: list[tuple[Postable, tuple[str, str]]] = []
    already: list[str] = []
    zero: list[str] = []
    for txn in transactions:
        if txn.id in posted:
            already.append(txn.id)
            continue
        if txn.amount_cents == 0:
            zero.append(txn.id)
            continue
        if txn.status not in POSTABLE_STATUSES or txn.account_id is None:
            raise ValueError(f"transaction {txn.id} is not categorized (status {txn.status!r})")
        company_id, ledger_id = ledgers.get(txn.bank_account_id, ("", ""))
        if company_id != txn.company_id:
            raise ValueError(f"transaction {txn.id}: unknown bank account {txn.bank_account_id}")
        posted.add(txn.id)  # the same transaction twice in the input posts once
        todo.append((txn, _directions(txn.amount_cents, txn.account_id, ledger_id)))

    now = utcnow()
    entry_ids = new_ids("je", len(todo))
    line_ids = new_ids("jel", 2 * len(todo))
    entries: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    for i, (entry_id, (txn, (debited, credited))) in enumerate(zip(entry_ids, todo, strict=True)):
        company, amount, memo = txn.company_id, abs(txn.amount_cents), txn.description
        entries.append((entry_id, company, txn.id, txn.date, memo, status, amount, amount, now))
        lines.append((line_ids[2 * i], company, entry_id, debited, amount, 0, memo))
        lines.append((line_ids[2 * i + 1], company, entry_id, credited, 0, amount, memo))
    # Lines first: their foreign key to the entry is deferred, and an entry inserted after its
    # lines has its totals checked once by the guard trigger, where lines inserted after the
    # entry would each fire a rewrite of its totals. Debits = credits is checked at COMMIT.
    insert_rows(session, _LINES, _LINE_COLUMNS, lines)
    insert_rows(session, _ENTRIES, _ENTRY_COLUMNS, entries)
    return PostResult(entry_ids, already, zero)
