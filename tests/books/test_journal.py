"""Journal entries from transactions: directions, bulk posting, and balance (code and database)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledgerflow.books.chart import account_by_name, add_bank_account, create_company
from ledgerflow.books.db import make_engine, make_sessionmaker, session_scope, upgrade
from ledgerflow.books.journal import (
    LineSpec,
    UnbalancedEntryError,
    check_balanced,
    entry_for_transaction,
    post_entries,
    transaction_lines,
)
from ledgerflow.books.models import Account, JournalEntry, JournalLine, Transaction


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


_fp = itertools.count()


def txn(company: str, bank: str, amount: int, account: str | None, **kw: object) -> Transaction:
    return Transaction(
        company_id=company,
        bank_account_id=bank,
        date=dt.date(2024, 5, 1),
        description=str(kw.get("description", "row")),
        amount_cents=amount,
        currency="USD",
        fingerprint=f"fp{next(_fp)}",
        account_id=account,
        status=str(kw.get("status", "categorized" if account else "new")),
        method="rule" if account else None,
        confidence=1.0 if account else None,
    )


def _account(s: Session, company: str, name: str) -> Account:
    account = account_by_name(s, company, name)
    assert account is not None
    return account


def test_directions_for_bank_and_credit_card(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        create_company(s, "acme", "Acme")
        bank = add_bank_account(s, "acme", "Checking", "bank", "USD")
        card = add_bank_account(s, "acme", "Visa", "credit_card", "USD")
        checking = s.get(Account, bank.ledger_account_id)
        visa = s.get(Account, card.ledger_account_id)
        assert checking is not None and visa is not None
        meals, sales = _account(s, "acme", "Meals"), _account(s, "acme", "Sales")
        transfer = _account(s, "acme", "Transfer")
        cases = [
            # (statement account, amount, category) -> (debited, credited)
            (bank.id, checking, -4_50, meals, meals, checking),  # spending from checking
            (bank.id, checking, 120_00, sales, checking, sales),  # a customer pays
            (card.id, visa, -30_00, meals, meals, visa),  # a card charge grows the liability
            (card.id, visa, 500_00, transfer, visa, transfer),  # paying the card, card side
            (bank.id, checking, -500_00, transfer, transfer, checking),  # ... checking side
        ]
        for bank_id, ledger, amount, category, debited, credited in cases:
            t = txn("acme", bank_id, amount, category.id)
            s.add(t)
            s.flush()
            entry = entry_for_transaction(t, category, ledger)
            s.add(entry)
            s.flush()
            (debit,) = [line for line in entry.lines if line.debit_cents]
            (credit,) = [line for line in entry.lines if line.credit_cents]
            assert (debit.account_id, credit.account_id) == (debited.id, credited.id)
            assert debit.debit_cents == credit.credit_cents == abs(amount)
            assert entry.transaction_id == t.id and entry.company_id == "acme"
    with session_scope(factory) as s:
        transfer_balance = s.scalar(
            select(func.sum(JournalLine.debit_cents - JournalLine.credit_cents)).where(
                JournalLine.account_id == transfer.id
            )
        )
        assert transfer_balance == 0  # both sides of the card payment are in
        assert all(
            e.total_debit_cents == e.total_credit_cents for e in s.scalars(select(JournalEntry))
        )


def test_entry_for_transaction_refuses_nonsense(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        create_company(s, "acme", "Acme")
        create_company(s, "other", "Other")
        bank = add_bank_account(s, "acme", "Checking", "bank", "USD")
        checking = s.get(Account, bank.ledger_account_id)
        assert checking is not None
        meals = _account(s, "acme", "Meals")
        with pytest.raises(ValueError, match="zero"):
            entry_for_transaction(txn("acme", bank.id, 0, meals.id), meals, checking)
        with pytest.raises(ValueError, match="own bank account"):
            entry_for_transaction(txn("acme", bank.id, -5, checking.id), checking, checking)
        with pytest.raises(ValueError, match="another company"):
            other_meals = _account(s, "other", "Meals")
            entry_for_transaction(txn("acme", bank.id, -5, other_meals.id), other_meals, checking)
        with pytest.raises(ValueError, match="not a bank"):
            entry_for_transaction(txn("acme", bank.id, -5, meals.id), meals, meals)


def test_post_entries_in_bulk_is_idempotent(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        create_company(s, "acme", "Acme")
        bank = add_bank_account(s, "acme", "Checking", "bank", "USD")
        meals, sales = _account(s, "acme", "Meals").id, _account(s, "acme", "Sales").id
        rows = [
            txn("acme", bank.id, (-1) ** i * (i + 1), meals if i % 2 else sales)
            for i in range(3000)
        ]
        rows.append(txn("acme", bank.id, 0, meals))
        s.add_all(rows)
        s.flush()
        result = post_entries(s, rows)
        assert len(result.entry_ids) == 3000 and result.skipped_zero == [rows[-1].id]
    with session_scope(factory) as s:
        again = post_entries(s, rows)
        assert again.entry_ids == [] and len(again.already_posted) == 3000
        assert s.scalar(select(func.count()).select_from(JournalLine)) == 6000
        unbalanced = s.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.total_debit_cents != JournalEntry.total_credit_cents)
        )
        assert unbalanced == 0
        totals = s.execute(
            select(func.sum(JournalLine.debit_cents), func.sum(JournalLine.credit_cents))
        ).one()
        assert totals[0] == totals[1] == sum(range(1, 3001))
    with session_scope(factory) as s:
        uncategorized = txn("acme", bank.id, -5, None)
        s.add(uncategorized)
        s.flush()
        with pytest.raises(ValueError, match="not categorized"):
            post_entries(s, [uncategorized])
        assert post_entries(s, []).entry_ids == []


line_amounts = st.integers(min_value=-(10**12), max_value=10**12).filter(lambda v: v != 0)


@given(amount=line_amounts, category=st.sampled_from(["acc_a", "acc_b"]))
def test_every_transaction_entry_balances(amount: int, category: str) -> None:
    lines = transaction_lines(amount, category, "acc_bank", "x")
    check_balanced(lines)
    assert sum(line.debit_cents for line in lines) == sum(line.credit_cents for line in lines)
    assert {line.account_id for line in lines} == {category, "acc_bank"}
    debited = next(line.account_id for line in lines if line.debit_cents)
    assert debited == (category if amount < 0 else "acc_bank")


@given(
    debits=st.lists(st.integers(1, 10**9), min_size=1, max_size=4),
    split=st.integers(0, 100),
    skew=st.one_of(st.just(0), st.integers(-1000, 1000)),
)
def test_check_balanced_accepts_exactly_the_balanced(
    debits: list[int], split: int, skew: int
) -> None:
    total = sum(debits) + skew
    first = total * split // 100
    credits = [c for c in (first, total - first) if c > 0]
    lines = [LineSpec("acc", debit_cents=d) for d in debits]
    lines += [LineSpec("bank", credit_cents=c) for c in credits]
    if skew == 0:
        check_balanced(lines)
    else:
        with pytest.raises(UnbalancedEntryError):
            check_balanced(lines)


def test_check_balanced_rejects_malformed_lines() -> None:
    for lines in (
        [LineSpec("a", 5, 0)],
        [LineSpec("a", 5, 5), LineSpec("b", 5, 5)],
        [LineSpec("a", -5, 0), LineSpec("b", 0, -5)],
        [LineSpec("a", 0, 0), LineSpec("b", 0, 0)],
    ):
        with pytest.raises(UnbalancedEntryError):
            check_balanced(lines)


_entry = itertools.count()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(debits=st.lists(st.integers(1, 10**9), min_size=1, max_size=3), skew=st.integers(-50, 50))
def test_database_refuses_what_journal_refuses(
    engine: Engine, debits: list[int], skew: int
) -> None:
    """Write lines by raw SQL (no journal.py): balanced commits, unbalanced fails at COMMIT."""
    with engine.begin() as conn:
        if conn.scalar(text("SELECT count(*) FROM lf_companies")) == 0:
            with Session(conn) as s:
                create_company(s, "acme", "Acme")
                add_bank_account(s, "acme", "Checking", "bank", "USD")
    with engine.connect() as conn:
        meals, bank = conn.execute(
            text("SELECT min(id), max(id) FROM lf_accounts WHERE name IN ('Meals', 'Checking')")
        ).one()
    entry = f"je_h{next(_entry)}"
    credit = sum(debits) + skew
    lines = [(meals, d, 0) for d in debits] + ([(bank, 0, credit)] if credit > 0 else [])
    specs = [LineSpec(a, d, c) for a, d, c in lines]
    balanced = skew == 0
    if not balanced:
        with pytest.raises(UnbalancedEntryError):
            check_balanced(specs)

    def write() -> None:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO lf_journal_entries (id, company_id, date, status, created_at)"
                    " VALUES (:id, 'acme', '2024-01-02', 'posted', CURRENT_TIMESTAMP)"
                ),
                {"id": entry},
            )
            for i, (account, d, c) in enumerate(lines):
                conn.execute(
                    text(
                        "INSERT INTO lf_journal_lines (id, company_id, entry_id, account_id,"
                        " debit_cents, credit_cents) VALUES (:id, 'acme', :e, :a, :d, :c)"
                    ),
                    {"id": f"{entry}_{i}", "e": entry, "a": account, "d": d, "c": c},
                )

    if balanced:
        write()
    else:
        with pytest.raises(IntegrityError):
            write()
    with engine.connect() as conn:
        stored = conn.scalar(
            text("SELECT count(*) FROM lf_journal_entries WHERE id = :id"), {"id": entry}
        )
    assert stored == (1 if balanced else 0)
