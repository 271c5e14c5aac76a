"""Company-scoped queries: pagination, tenant isolation, categorization, rules; both engines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ledgerflow.books.chart import account_by_name, add_bank_account, create_company
from ledgerflow.books.db import make_engine, make_sessionmaker, session_scope, upgrade
from ledgerflow.books.journal import post_entries
from ledgerflow.books.models import AuditLog, JournalLine, Transaction
from ledgerflow.books.queries import (
    NotFoundError,
    create_rule,
    decode_cursor,
    delete_rule,
    encode_cursor,
    get_transaction,
    insert_transactions,
    list_accounts,
    list_journal_entries,
    list_rules,
    list_transactions,
    set_transaction_category,
    uncategorized_transactions,
)
from ledgerflow.books.rules import RuleValidationError, compile_rules


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(db_url)
    engine: Engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@dataclass
class Row:
    date: dt.date
    description: str
    amount_cents: int
    currency: str = "USD"
    external_id: str | None = None
    memo: str | None = None


def seed(s: Session, company: str, n: int, merchant: str | None = None) -> list[str]:
    create_company(s, company, company.title())
    bank = add_bank_account(s, company, "Checking", "bank", "USD").id
    rows = [Row(dt.date(2024, 1, 1 + i % 28), f"{company} row {i}", -(i + 1)) for i in range(n)]
    return insert_transactions(s, company, bank, rows, merchants=[merchant] * n)


def account_id(s: Session, company: str, name: str) -> str:
    account = account_by_name(s, company, name)
    assert account is not None
    return account.id


def test_pagination_has_no_gaps_or_duplicates(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        ids = seed(s, "acme", 23)
        seed(s, "other", 5)
    with session_scope(factory) as s:
        for i, txn_id in enumerate(ids[:7]):
            txn = get_transaction(s, "acme", txn_id)
            assert txn is not None
            txn.needs_review = i % 2 == 0
    seen: list[str] = []
    cursor = None
    with session_scope(factory) as s:
        while True:
            page = list_transactions(s, "acme", limit=5, cursor=cursor)
            seen += [t.id for t in page.items]
            assert all(t.company_id == "acme" for t in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == sorted(ids, reverse=True)  # newest first, every row exactly once
        exact = list_transactions(s, "acme", limit=23)
        assert len(exact.items) == 23 and exact.next_cursor is None
        review = list_transactions(s, "acme", needs_review=True, limit=2)
        assert len(review.items) == 2 and review.next_cursor is not None
        rest = list_transactions(s, "acme", needs_review=True, limit=50, cursor=review.next_cursor)
        assert len(review.items) + len(rest.items) == 4
        assert list_transactions(s, "acme", status="categorized").items == []
        assert len(list_transactions(s, "acme", status="new", limit=50).items) == 23
        with pytest.raises(ValueError, match="cursor"):
            list_transactions(s, "acme", cursor="!!not-a-cursor")
        with pytest.raises(ValueError, match="limit"):
            list_transactions(s, "acme", limit=0)
    assert decode_cursor(encode_cursor("txn_01ABC")) == "txn_01ABC"


def test_tenant_isolation(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        acme_ids = seed(s, "acme", 3)
        other_ids = seed(s, "other", 3)
        other_sales = account_id(s, "other", "Sales")
    with session_scope(factory) as s:
        assert get_transaction(s, "acme", other_ids[0]) is None
        assert get_transaction(s, "other", other_ids[0]) is not None
        assert {t.id for t in list_transactions(s, "acme").items} == set(acme_ids)
        assert all(a.company_id == "acme" for a in list_accounts(s, "acme"))
        assert list_rules(s, "acme") == []
        assert list_journal_entries(s, "acme").items == []
        with pytest.raises(NotFoundError):
            set_transaction_category(s, "acme", other_ids[0], other_sales, "usr_1")
        with pytest.raises(ValueError, match="does not belong"):
            set_transaction_category(s, "acme", acme_ids[0], other_sales, "usr_1")
        with pytest.raises(ValueError, match="does not belong"):
            create_rule(
                s, "acme", "x", [{"field": "direction", "op": "is", "value": "in"}], other_sales
            )
        assert [t.id for t in uncategorized_transactions(s, "acme", 10)] == sorted(acme_ids)


def test_set_transaction_category_audits_and_suggests(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        (txn_id,) = seed(s, "acme", 1, merchant="Blue Bottle")
        meals = account_id(s, "acme", "Meals")
        travel = account_id(s, "acme", "Travel")
        txn = get_transaction(s, "acme", txn_id)
        assert txn is not None
        txn.account_id, txn.status, txn.method, txn.confidence = travel, "categorized", "model", 0.6
        txn.needs_review = True
    with session_scope(factory) as s:
        txn, suggestion = set_transaction_category(s, "acme", txn_id, meals, "usr_1")
        assert (txn.account_id, txn.method, txn.confidence, txn.status) == (
            meals,
            "manual",
            1.0,
            "categorized",
        )
        assert txn.needs_review is False
        assert suggestion is not None and suggestion.account_id == meals
        assert suggestion.conditions == [
            {"field": "merchant", "op": "equals", "value": "Blue Bottle"}
        ]
        (log,) = s.scalars(select(AuditLog)).all()
        assert (log.company_id, log.user_id, log.action, log.target_id) == (
            "acme",
            "usr_1",
            "transaction.categorize",
            txn_id,
        )
        assert log.details["before"] == {"account_id": travel, "method": "model", "confidence": 0.6}
        assert log.details["after"]["account_id"] == meals
    with session_scope(factory) as s:
        # Accepting the suggestion stores the rule; the same correction then suggests nothing.
        create_rule(s, "acme", suggestion.name, suggestion.conditions, meals, user_id="usr_1")
        set_transaction_category(s, "acme", txn_id, travel, "usr_1")
        _, again = set_transaction_category(s, "acme", txn_id, meals, "usr_1")
        assert again is None
        _, same = set_transaction_category(s, "acme", txn_id, meals, "usr_1")
        assert same is None  # no change, nothing to learn


def test_recategorizing_a_posted_entry_moves_its_line(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        (txn_id,) = seed(s, "acme", 1)
        meals, travel = account_id(s, "acme", "Meals"), account_id(s, "acme", "Travel")
        set_transaction_category(s, "acme", txn_id, meals, None)
        txn = get_transaction(s, "acme", txn_id)
        assert txn is not None
        post_entries(s, [txn])
    with session_scope(factory) as s:
        set_transaction_category(s, "acme", txn_id, travel, None)
    with session_scope(factory) as s:
        (entry,) = list_journal_entries(s, "acme").items
        assert {line.account_id for line in entry.lines} >= {travel}
        assert meals not in {line.account_id for line in entry.lines}
        entry.exported_at = dt.datetime.now(dt.UTC)
    with session_scope(factory) as s, pytest.raises(ValueError, match="exported"):
        set_transaction_category(s, "acme", txn_id, meals, None)
    with session_scope(factory) as s:
        assert s.scalar(select(JournalLine.account_id).where(JournalLine.debit_cents > 0)) == travel


def test_rules_keep_contiguous_positions(factory: sessionmaker[Session]) -> None:
    def cond(word: str) -> list[dict[str, object]]:
        return [{"field": "description", "op": "contains", "value": word}]

    with session_scope(factory) as s:
        seed(s, "acme", 0)
        meals, travel = account_id(s, "acme", "Meals"), account_id(s, "acme", "Travel")
        a = create_rule(s, "acme", "a", cond("coffee"), meals)
        b = create_rule(s, "acme", "b", cond("coffee"), travel)
        c = create_rule(s, "acme", "c", cond("uber"), travel, position=1)
        d = create_rule(s, "acme", "d", cond("lunch"), meals, position=2)
        assert [r.id for r in list_rules(s, "acme")] == [c.id, d.id, a.id, b.id]
        assert [r.position for r in list_rules(s, "acme")] == [1, 2, 3, 4]
        # First match wins: "coffee" goes to a (position 3), not b.
        assert compile_rules(list_rules(s, "acme")).match("COFFEE", None, -5) == (a.id, meals)
        assert delete_rule(s, "acme", d.id, user_id="usr_1")
        assert not delete_rule(s, "acme", d.id)
        assert not delete_rule(s, "other", a.id)
        assert [(r.id, r.position) for r in list_rules(s, "acme")] == [
            (c.id, 1),
            (a.id, 2),
            (b.id, 3),
        ]
        assert delete_rule(s, "acme", c.id)
        assert [(r.id, r.position) for r in list_rules(s, "acme")] == [(a.id, 1), (b.id, 2)]
        with pytest.raises(RuleValidationError, match="invalid regular expression"):
            create_rule(
                s, "acme", "bad", [{"field": "merchant", "op": "regex", "value": "("}], meals
            )
        actions = list(s.scalars(select(AuditLog.action).order_by(AuditLog.id)))
        assert actions.count("rule.create") == 4 and actions.count("rule.delete") == 2


def test_journal_entries_page_with_lines(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        ids = seed(s, "acme", 7)
        meals = account_id(s, "acme", "Meals")
        for txn_id in ids:
            set_transaction_category(s, "acme", txn_id, meals, None)
        txns = list(s.scalars(select(Transaction)))
        post_entries(s, txns)
    with session_scope(factory) as s:
        first = list_journal_entries(s, "acme", limit=4)
        second = list_journal_entries(s, "acme", limit=4, cursor=first.next_cursor)
        entries = first.items + second.items
        assert second.next_cursor is None and len({e.id for e in entries}) == 7
        assert all(len(e.lines) == 2 for e in entries)
        assert list_journal_entries(s, "acme", status="draft").items == []
