"""Schema, migration, chart and the database-level invariants, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledgerflow.books.chart import DEFAULT_CHART, add_account, add_bank_account, create_company
from ledgerflow.books.db import (
    HEAD,
    VERSION_TABLE,
    downgrade,
    make_engine,
    make_sessionmaker,
    session_scope,
    upgrade,
)
from ledgerflow.books.fingerprint import file_fingerprints, transaction_fingerprint
from ledgerflow.books.models import Account, Base, JournalEntry, JournalLine, Transaction, User
from ledgerflow.books.queries import insert_transactions
from ledgerflow.jobs.migrate import upgrade as jobs_upgrade


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def test_migrated_schema_equals_models(db_url: str, engine: Engine) -> None:
    # The job runtime shares the database; neither migration may see the other's tables.
    jobs_upgrade(db_url)
    upgrade(db_url)  # a second run is a no-op
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "version_table": VERSION_TABLE,
                "include_object": lambda obj, name, type_, *_: (
                    type_ != "table" or name in Base.metadata.tables
                ),
            },
        )
        assert compare_metadata(context, Base.metadata) == []
        assert conn.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}")) == HEAD
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables and "lf_jobs" in tables
    downgrade(db_url)  # removes the books' tables and triggers, leaves the jobs' alone
    tables = set(inspect(engine).get_table_names())
    assert not set(Base.metadata.tables) & tables and "lf_jobs" in tables
    upgrade(db_url)


def test_new_company_gets_the_default_chart(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        create_company(s, "acme", "Acme Inc.", currency="usd")
        add_bank_account(s, "acme", "Checking", "bank", "USD", last4="1234")
        add_bank_account(s, "acme", "Visa", "credit_card", "USD")
    with session_scope(factory) as s:
        accounts = {
            a.name: a for a in s.scalars(select(Account).where(Account.company_id == "acme"))
        }
    for spec in DEFAULT_CHART:
        account = accounts[spec.name]
        assert (account.qbo_account_type, account.qbo_detail_type) == (
            spec.qbo_account_type,
            spec.qbo_detail_type,
        )
        assert account.active and not account.is_bank
    assert (accounts["Meals"].qbo_account_type, accounts["Meals"].kind) == ("Expense", "expense")
    assert accounts["Interest income"].qbo_detail_type == "InterestEarned"
    assert accounts["Bank fees & service charges"].qbo_detail_type == "BankCharges"
    assert accounts["Owner's draw"].kind == "equity"
    checking, visa = accounts["Checking"], accounts["Visa"]
    assert (checking.qbo_account_type, checking.kind, checking.is_bank) == ("Bank", "asset", True)
    assert (visa.qbo_account_type, visa.kind) == ("Credit Card", "liability")
    assert len(accounts) == len(DEFAULT_CHART) + 2


def test_chart_validation(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        create_company(s, "acme", "Acme")
        with pytest.raises(ValueError, match="already exists"):
            add_account(s, "acme", "meals", "Expense", "EntertainmentMeals")
        with pytest.raises(ValueError, match="account type"):
            add_account(s, "acme", "Boats", "Boat", "Yacht")
        with pytest.raises(ValueError, match="already exists"):
            create_company(s, "acme", "Again")
        with pytest.raises(ValueError, match="company id"):
            create_company(s, "Not Valid!", "x")
        with pytest.raises(ValueError, match="currency"):
            create_company(s, "eu", "x", currency="EURO")
        generated = create_company(s, None, "Generated")
        assert generated.id.startswith("co_")
        assert add_account(s, "acme", "Boats", "Fixed Asset", "Vehicles").kind == "asset"


@dataclass
class Row:
    date: dt.date
    description: str
    amount_cents: int
    currency: str = "USD"
    external_id: str | None = None
    memo: str | None = None


def test_fingerprints() -> None:
    day = dt.date(2024, 3, 1)
    base = transaction_fingerprint("bnk_1", day, -500, "Coffee", None, 0)
    assert base == transaction_fingerprint("bnk_1", day, -500, "  COFFEE ", None, 0)
    assert base != transaction_fingerprint("bnk_1", day, -500, "Coffee", None, 1)
    assert base != transaction_fingerprint("bnk_2", day, -500, "Coffee", None, 0)
    assert base != transaction_fingerprint("bnk_1", day, -501, "Coffee", None, 0)
    with_id = transaction_fingerprint("bnk_1", day, -500, "Coffee", "FIT1", 0)
    assert with_id == transaction_fingerprint("bnk_1", day + dt.timedelta(1), -500, "x", "FIT1", 3)
    rows = [Row(day, "Coffee", -500), Row(day, "Tea", -500), Row(day, "coffee", -500)]
    prints = file_fingerprints("bnk_1", rows)
    assert len(set(prints)) == 3 and prints[2] == transaction_fingerprint(
        "bnk_1", day, -500, "Coffee", None, 1
    )
    with pytest.raises(TypeError):
        transaction_fingerprint("bnk_1", day, -5.0, "x", None, 0)  # type: ignore[arg-type]


def test_reimport_inserts_nothing_new(factory: sessionmaker[Session]) -> None:
    day = dt.date(2024, 3, 1)
    first = [Row(day, "Coffee", -500), Row(day, "Coffee", -500), Row(day, "Rent", -100_000)]
    with session_scope(factory) as s:
        create_company(s, "acme", "Acme")
        bank = add_bank_account(s, "acme", "Checking", "bank", "USD").id
        assert len(insert_transactions(s, "acme", bank, first, source_file="a.csv")) == 3
    with session_scope(factory) as s:
        assert insert_transactions(s, "acme", bank, first, source_file="a.csv") == []
        overlapping = [*first, Row(day, "Coffee", -500), Row(day, "Refund", 2500, external_id="F9")]
        assert len(insert_transactions(s, "acme", bank, overlapping)) == 2
    with session_scope(factory) as s:
        amounts = sorted(s.scalars(select(Transaction.amount_cents)))
        assert amounts == [-100_000, -500, -500, -500, 2500]
        with pytest.raises(ValueError, match="does not belong"):
            create_company(s, "other", "Other")
            insert_transactions(s, "other", bank, first)


def _txn(company: str, bank: str, **kw: object) -> Transaction:
    values: dict[str, object] = {
        "company_id": company,
        "bank_account_id": bank,
        "date": dt.date(2024, 1, 2),
        "description": "x",
        "amount_cents": -100,
        "currency": "USD",
        "fingerprint": str(kw.pop("fingerprint", "fp")),
    }
    values.update(kw)
    return Transaction(**values)


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "done"},
        {"method": "guess"},
        {"confidence": 1.5},
        {"confidence": -0.1},
        {"status": "categorized"},  # categorized without a category
        {"currency": "US"},
    ],
)
def test_transaction_checks(factory: sessionmaker[Session], bad: dict[str, object]) -> None:
    with session_scope(factory) as s:
        create_company(s, "acme", "Acme")
        bank = add_bank_account(s, "acme", "Checking", "bank", "USD").id
    with pytest.raises(IntegrityError), session_scope(factory) as s:
        s.add(_txn("acme", bank, **bad))
        s.flush()


def test_cross_company_references_are_refused(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        create_company(s, "acme", "Acme")
        create_company(s, "evil", "Evil")
        bank = add_bank_account(s, "acme", "Checking", "bank", "USD").id
        evil_meals = s.scalars(
            select(Account.id).where(Account.company_id == "evil", Account.name == "Meals")
        ).one()
    with pytest.raises(IntegrityError), session_scope(factory) as s:
        s.add(_txn("acme", bank, account_id=evil_meals, status="categorized"))
        s.flush()
    with pytest.raises(IntegrityError), session_scope(factory) as s:
        s.add(_txn("evil", bank))
        s.flush()


def test_users_and_duplicate_fingerprints(engine: Engine, factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        s.add(User(email="a@example.com", password_hash="x"))
    with pytest.raises(IntegrityError), session_scope(factory) as s:
        s.add(User(email=" A@Example.com", password_hash="x"))  # lowercased, then a duplicate
        s.flush()
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO lf_users (id, email, password_hash, created_at)"
                " VALUES ('usr_x', 'B@example.com', 'x', CURRENT_TIMESTAMP)"
            )
        )
    with pytest.raises(IntegrityError), session_scope(factory) as s:
        s.add(User(email="a@example.com", password_hash="y"))
        s.flush()
    with session_scope(factory) as s:
        create_company(s, "acme", "Acme")
        bank = add_bank_account(s, "acme", "Checking", "bank", "USD").id
        s.add(_txn("acme", bank, fingerprint="same"))
    with pytest.raises(IntegrityError), session_scope(factory) as s:
        s.add(_txn("acme", bank, fingerprint="same"))
        s.flush()


def _accounts(s: Session) -> tuple[str, str]:
    create_company(s, "acme", "Acme")
    bank = add_bank_account(s, "acme", "Checking", "bank", "USD")
    meals = s.scalars(select(Account.id).where(Account.name == "Meals")).one()
    return meals, bank.ledger_account_id


def _raw_entry(conn: object, entry: str, lines: list[tuple[str, int, int]]) -> None:
    execute = conn.execute  # type: ignore[attr-defined]
    execute(
        text(
            "INSERT INTO lf_journal_entries (id, company_id, date, status, created_at) "
            "VALUES (:id, 'acme', '2024-01-02', 'posted', CURRENT_TIMESTAMP)"
        ),
        {"id": entry},
    )
    _raw_lines(execute, entry, lines)


def _raw_lines(execute: Any, entry: str, lines: list[tuple[str, int, int]]) -> None:
    for i, (account, debit, credit) in enumerate(lines):
        execute(
            text(
                "INSERT INTO lf_journal_lines (id, company_id, entry_id, account_id, debit_cents,"
                " credit_cents) VALUES (:id, 'acme', :entry, :account, :debit, :credit)"
            ),
            {"id": f"{entry}_{i}", "entry": entry, "account": account, "debit": debit,
             "credit": credit},
        )  # fmt: skip


def _raw_lines_then_entry(
    conn: object, entry: str, lines: list[tuple[str, int, int]], totals: tuple[int, int] | None
) -> None:
    """Lines first, then (unless ``totals`` is None) their entry claiming ``totals``: the order
    bulk posting uses."""
    execute = conn.execute  # type: ignore[attr-defined]
    _raw_lines(execute, entry, lines)
    if totals is not None:
        execute(
            text(
                "INSERT INTO lf_journal_entries (id, company_id, date, status, created_at,"
                " total_debit_cents, total_credit_cents) VALUES (:id, 'acme', '2024-01-02',"
                " 'posted', CURRENT_TIMESTAMP, :debit, :credit)"
            ),
            {"id": entry, "debit": totals[0], "credit": totals[1]},
        )


def test_database_rejects_unbalanced_entries_written_lines_first(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with session_scope(factory) as s:
        meals, bank = _accounts(s)
    lines = [(meals, 700, 0), (bank, 0, 600)]
    # Totals that are not the lines' sums, a balanced claim included: refused at once.
    for claim in ((700, 700), (600, 600), (0, 0)):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            _raw_lines_then_entry(conn, "je_bad", lines, claim)
    # The true, unbalanced totals: refused at COMMIT.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _raw_lines_then_entry(conn, "je_bad", lines, (700, 600))
    # Lines whose entry never comes: refused at COMMIT.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _raw_lines_then_entry(conn, "je_none", [(meals, 5, 0), (bank, 0, 5)], None)
    # Balanced, then a line added to the committed entry: refused.
    with engine.begin() as conn:
        _raw_lines_then_entry(conn, "je_ok", [(meals, 5, 0), (bank, 0, 5)], (5, 5))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO lf_journal_lines (id, company_id, entry_id, account_id, debit_cents,"
                f" credit_cents) VALUES ('extra', 'acme', 'je_ok', '{meals}', 1, 0)"
            )
        )
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT id, total_debit_cents, total_credit_cents FROM lf_journal_entries")
        ).all()
        assert [tuple(row) for row in stored] == [("je_ok", 5, 5)]
        assert conn.scalar(text("SELECT count(*) FROM lf_journal_lines")) == 2


def test_database_rejects_unbalanced_entries(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with session_scope(factory) as s:
        meals, bank = _accounts(s)
    # Balanced, with the lines written in any order inside the transaction: accepted.
    with engine.begin() as conn:
        _raw_entry(conn, "je_ok", [(meals, 700, 0), (bank, 0, 300), (bank, 0, 400)])
    with engine.connect() as conn:
        totals = conn.execute(
            text("SELECT total_debit_cents, total_credit_cents FROM lf_journal_entries")
        ).one()
        assert tuple(totals) == (700, 700)
    # Unbalanced by raw SQL, bypassing journal.py: refused at COMMIT.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _raw_entry(conn, "je_bad", [(meals, 700, 0), (bank, 0, 600)])
    # Unbalancing a committed entry: changing, deleting or adding one line.
    for statement in (
        "UPDATE lf_journal_lines SET debit_cents = 701 WHERE id = 'je_ok_0'",
        "DELETE FROM lf_journal_lines WHERE id = 'je_ok_1'",
        "INSERT INTO lf_journal_lines (id, company_id, entry_id, account_id, debit_cents,"
        f" credit_cents) VALUES ('extra', 'acme', 'je_ok', '{meals}', 5, 0)",
    ):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(statement))
    # The cached totals cannot be edited to hide an imbalance.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text("UPDATE lf_journal_entries SET total_debit_cents = 1, total_credit_cents = 1")
        )
    # A line with both or neither side set violates its CHECK.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _raw_entry(conn, "je_both", [(meals, 5, 5), (bank, 5, 5)])
    # Through the ORM too, and the balanced state survives all of the above.
    with pytest.raises(IntegrityError), session_scope(factory) as s:
        entry = JournalEntry(company_id="acme", date=dt.date(2024, 1, 3), status="posted")
        entry.lines = [
            JournalLine(company_id="acme", account_id=meals, debit_cents=100),
            JournalLine(company_id="acme", account_id=bank, credit_cents=99),
        ]
        s.add(entry)
    with session_scope(factory) as s:
        entries = s.scalars(select(JournalEntry)).all()
        assert [(e.id, e.total_debit_cents, e.total_credit_cents) for e in entries] == [
            ("je_ok", 700, 700)
        ]
        assert sum(line.debit_cents - line.credit_cents for line in entries[0].lines) == 0
        # Deleting a whole entry takes its lines with it.
        s.delete(entries[0])
    with session_scope(factory) as s:
        assert s.scalars(select(JournalLine)).all() == []
