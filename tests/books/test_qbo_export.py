"""Exporting journal entries to QuickBooks through the API (against the fake server)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fake_qbo import FakeClock, FakeQbo, config_for, consent
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ledgerflow.books.chart import account_by_name, add_bank_account, create_company
from ledgerflow.books.db import make_engine, make_sessionmaker, session_scope, upgrade
from ledgerflow.books.journal import post_entries
from ledgerflow.books.models import Account, JournalEntry, QboExport, Transaction
from ledgerflow.books.qbo import (
    QboAuth,
    QboClient,
    QboNotConnected,
    QboUnavailable,
    RateLimiter,
    export_journal_entries,
)
from ledgerflow.books.qbo.export import doc_number

REALM = "9130350000000777"
START = dt.date(2024, 3, 1)


@dataclass
class Env:
    factory: sessionmaker[Session]
    fake: FakeQbo
    clock: FakeClock
    auth: QboAuth
    tmp: Path
    progress: list[tuple[float, str]] = field(default_factory=list)

    def client(self, cls: type[QboClient] = QboClient, **kw: Any) -> QboClient:
        limiter = RateLimiter(clock=self.clock.now, sleep=self.clock.sleep)
        return cls(
            self.auth, "acme", limiter=limiter, clock=self.clock.now, sleep=self.clock.sleep, **kw
        )

    def export(self, mode: str = "api", client: QboClient | None = None, **kw: Any) -> Any:
        return export_journal_entries(
            self.factory,
            "acme",
            mode=mode,  # type: ignore[arg-type]
            progress=lambda p, m: self.progress.append((p, m)),
            out_dir=self.tmp / "exports",
            client=client or (self.client() if mode == "api" else None),
            **kw,
        )

    def entries(self) -> list[JournalEntry]:
        with self.factory() as s:
            return list(
                s.scalars(
                    select(JournalEntry)
                    .where(JournalEntry.company_id == "acme", JournalEntry.status == "posted")
                    .order_by(JournalEntry.date, JournalEntry.id)
                )
            )

    def created(self) -> list[dict[str, Any]]:
        return list(self.fake.journal_entries.get(REALM, []))


def seed(factory: sessionmaker[Session], n: int, memos: Sequence[str] = ()) -> None:
    """``n`` posted entries on distinct dates (newest first in id order), plus one draft."""
    with session_scope(factory) as s:
        create_company(s, "acme", "Acme")
        bank = add_bank_account(s, "acme", "Checking", "bank", "USD")
        meals, sales = account_by_name(s, "acme", "Meals"), account_by_name(s, "acme", "Sales")
        assert meals is not None and sales is not None
        txns = []
        for i in range(n + 1):
            txns.append(
                Transaction(
                    company_id="acme",
                    bank_account_id=bank.id,
                    date=START + dt.timedelta(days=n - i),  # ids and dates in opposite orders
                    description=memos[i] if i < len(memos) else f"row {i}",
                    amount_cents=(i + 1) * 1_01 if i % 3 == 0 else -(i + 1) * 2_37,
                    currency="USD",
                    fingerprint=f"fp{i}",
                    account_id=sales.id if i % 3 == 0 else meals.id,
                    status="approved",
                    method="rule",
                    confidence=1.0,
                )
            )
        s.add_all(txns)
        s.flush()
        post_entries(s, txns[:n], status="posted")
        post_entries(s, txns[n:], status="draft")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> Iterator[Env]:
    clock = FakeClock()
    fake = FakeQbo(now=clock.now)
    fake.start()
    factory = make_sessionmaker(engine)
    seed(factory, 65)
    with factory() as s:
        chart = {a.name: a.qbo_account_type for a in s.scalars(select(Account))}
    fake.add_accounts(REALM, chart)
    auth = QboAuth(factory, config_for(fake), "test-secret", now=clock.datetime)
    consent(auth, "acme", REALM)
    yield Env(factory, fake, clock, auth, tmp_path)
    fake.stop()


def assert_in_quickbooks(env: Env, expected: int) -> None:
    created = env.created()
    docs = [je["DocNumber"] for je in created]
    assert len(created) == expected and len(set(docs)) == expected  # no duplicates
    assert env.fake.violations == []


def test_export_creates_every_entry_once_and_a_reexport_skips_them(env: Env) -> None:
    result = env.export()
    assert result == {"exported": 65, "skipped": 0, "failed": []}
    assert_in_quickbooks(env, 65)
    batches = [c for c in env.fake.api_calls() if c.batch]
    assert [c.weight for c in batches] == [30, 30, 5]
    assert len({c.request_id for c in batches}) == 3
    assert all(c.request_id and len(c.request_id) <= 36 for c in batches)
    # In date order, with their amounts; every entry now has its QuickBooks id.
    entries = env.entries()
    created = env.created()
    assert [je["DocNumber"] for je in created] == [doc_number(e.id) for e in entries]
    by_doc = {je["DocNumber"]: je for je in created}
    with env.factory() as s:
        for entry in entries:
            je = by_doc[doc_number(entry.id)]
            assert entry.qbo_id == je["Id"] and entry.exported_at is not None
            debits = sum(
                round(line["Amount"] * 100)
                for line in je["Line"]
                if line["JournalEntryLineDetail"]["PostingType"] == "Debit"
            )
            assert debits == entry.total_debit_cents
            txn = s.get(Transaction, entry.transaction_id)
            assert txn is not None and txn.status == "exported"
        drafts = s.scalars(select(JournalEntry).where(JournalEntry.status == "draft")).all()
        assert len(drafts) == 1 and drafts[0].qbo_id is None
        rows = s.scalars(select(QboExport)).all()
        assert {(r.mode, r.status) for r in rows} == {("api", "done")}
        assert all(r.item is None for r in rows)
    assert any(m == "Exporting entry 30/65..." for _, m in env.progress)
    assert env.progress[-1][0] == 100
    # A second export finds nothing new and sends no batch.
    again = env.export()
    assert again == {"exported": 0, "skipped": 65, "failed": []}
    assert len([c for c in env.fake.api_calls() if c.batch]) == 3


def test_since_limits_the_export_and_a_disconnected_company_fails(env: Env) -> None:
    since = START + dt.timedelta(days=60)
    result = env.export(since=since)
    assert result["exported"] == 6 and result["skipped"] == 0  # days 60..65
    assert all(je["TxnDate"] >= since.isoformat() for je in env.created())
    assert env.export()["exported"] == 59
    assert env.export(since=since) == {"exported": 0, "skipped": 6, "failed": []}
    with pytest.raises(ValueError, match="mode"):
        env.export(mode="xlsx")
    env.auth.disconnect("acme")
    with pytest.raises(QboNotConnected, match="not connected"):
        env.export()


def test_expired_access_token_is_refreshed_and_the_call_retried_once(env: Env) -> None:
    env.fake.expire_access_tokens()
    refreshes = env.fake.refreshes
    assert env.export()["exported"] == 65
    assert env.fake.refreshes == refreshes + 1
    statuses = [c.status for c in env.fake.api_calls()]
    assert statuses[:2] == [401, 200] and statuses.count(401) == 1
    assert_in_quickbooks(env, 65)


def test_throttling_backs_off_then_succeeds(env: Env) -> None:
    env.fake.inject(429, times=2, retry_after=20)
    before = env.clock.now()
    assert env.export()["exported"] == 65
    assert env.clock.now() - before >= 40
    assert [c.status for c in env.fake.api_calls()][:3] == [429, 429, 200]
    assert_in_quickbooks(env, 65)


def test_5xx_is_retried_and_a_lost_answer_creates_nothing_twice(env: Env) -> None:
    env.fake.inject(503, times=2)
    env.fake.lose_responses = 1  # the first batch is created, but its answer is lost
    assert env.export()["exported"] == 65
    assert_in_quickbooks(env, 65)
    batch_ids = [c.request_id for c in env.fake.api_calls() if c.batch]
    assert len(batch_ids) == 4 and batch_ids[0] == batch_ids[1]  # the resend reused it


def test_a_validation_fault_fails_only_that_entry(env: Env) -> None:
    entries = env.entries()
    bad = entries[31]
    env.fake.item_faults[doc_number(bad.id)] = "Invalid Reference Id: Accounts element id 7"
    result = env.export()
    assert result["exported"] == 64
    assert result["failed"] == [
        {
            "entry_id": bad.id,
            "reason": "QuickBooks: Invalid Reference Id: Accounts element id 7 (code 6000)",
        }
    ]
    assert len(env.created()) == 64
    with env.factory() as s:
        entry = s.get(JournalEntry, bad.id)
        assert entry is not None and entry.qbo_id is None and entry.exported_at is None
        assert s.get(QboExport, bad.id) is None  # released: a later export tries again
    env.fake.item_faults.clear()
    assert env.export() == {"exported": 1, "skipped": 64, "failed": []}
    assert_in_quickbooks(env, 65)


def test_accounts_map_by_qbo_id_then_name_and_unmapped_entries_fail(env: Env) -> None:
    env.fake.accounts[REALM] = [a for a in env.fake.accounts[REALM] if a["Name"] != "Meals"]
    (sales_qbo,) = [a for a in env.fake.accounts[REALM] if a["Name"] == "Sales"]
    sales_qbo["Name"] = sales_qbo["FullyQualifiedName"] = "Revenue:Product sales"
    for account in env.fake.accounts[REALM]:
        if account["Name"] == "Checking":
            account["Name"] = account["FullyQualifiedName"] = "CHECKING"  # case differs
    with session_scope(env.factory) as s:
        sales = account_by_name(s, "acme", "Sales")
        assert sales is not None
        sales.qbo_id = sales_qbo["Id"]
    result = env.export()
    meals_entries = 65 - len(range(0, 65, 3))
    assert result["exported"] == 65 - meals_entries
    assert len(result["failed"]) == meals_entries
    assert {f["reason"] for f in result["failed"]} == {
        "account 'Meals' has no QuickBooks account of that name; create it in QuickBooks or "
        "link it by id"
    }
    refs = {
        line["JournalEntryLineDetail"]["AccountRef"]["value"]
        for je in env.created()
        for line in je["Line"]
    }
    checking = next(a["Id"] for a in env.fake.accounts[REALM] if a["Name"] == "CHECKING")
    assert refs == {sales_qbo["Id"], checking}
    with session_scope(env.factory) as s:
        sales = account_by_name(s, "acme", "Sales")
        assert sales is not None
        sales.qbo_id = "999999"
    env.fake.add_accounts(REALM, {"Meals": "Expense"})
    result = env.export()
    assert result["exported"] == meals_entries and result["failed"] == []
    assert_in_quickbooks(env, 65)


def test_receivable_and_payable_lines_need_an_entity(env: Env) -> None:
    for account in env.fake.accounts[REALM]:
        if account["Name"] == "Sales":
            account["AccountType"] = "Accounts Receivable"
    result = env.export()
    assert len(result["failed"]) == 22 and result["exported"] == 43
    assert "needs a customer" in result["failed"][0]["reason"]


class CrashAfterSending(QboClient):
    """Dies once after QuickBooks answered the second batch, before anything is recorded."""

    crash_on = 2

    def batch(self, items: Any, request_id: str) -> dict[str, dict[str, Any]]:
        answer = super().batch(items, request_id)
        self.crash_on -= 1
        if self.crash_on == 0:
            raise RuntimeError("worker killed")
        return answer


class CrashBeforeSending(QboClient):
    def batch(self, items: Any, request_id: str) -> dict[str, dict[str, Any]]:
        raise RuntimeError("worker killed")


def test_a_retried_export_after_a_crash_creates_no_duplicates(env: Env) -> None:
    with pytest.raises(RuntimeError):
        env.export(client=env.client(CrashAfterSending))
    assert len(env.created()) == 60  # two batches reached QuickBooks, one was recorded
    with env.factory() as s:
        pending = s.scalars(select(QboExport).where(QboExport.status == "pending")).all()
    assert len(pending) == 30 and len({p.request_id for p in pending}) == 1
    crashed_request = pending[0].request_id
    result = env.export()  # the job runtime's retry
    assert result == {"exported": 35, "skipped": 30, "failed": []}
    assert_in_quickbooks(env, 65)
    sent = [c.request_id for c in env.fake.api_calls() if c.batch]
    assert sent.count(crashed_request) == 2  # re-sent under its original requestid
    assert all(e.qbo_id for e in env.entries())


def test_a_crash_before_sending_sends_the_claimed_batch_later(env: Env) -> None:
    with pytest.raises(RuntimeError):
        env.export(client=env.client(CrashBeforeSending))
    assert env.created() == []
    assert env.export()["exported"] == 65
    assert_in_quickbooks(env, 65)


def test_quickbooks_down_fails_the_attempt_and_the_retry_finishes(env: Env) -> None:
    env.fake.inject(500, times=7)  # the account query gives up after 6 tries; 1 left over
    with pytest.raises(QboUnavailable):
        env.export()
    assert env.export()["exported"] == 65
    assert_in_quickbooks(env, 65)


def test_two_concurrent_exports_never_send_an_entry_twice(env: Env) -> None:
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(env.export())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert_in_quickbooks(env, 65)
    assert all(e.qbo_id for e in env.entries())
