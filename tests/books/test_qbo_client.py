"""The QuickBooks client and its limiter, against the fake server (no database needed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fake_qbo import FakeClock, FakeQbo, config_for

from ledgerflow.books.qbo import (
    QboClient,
    QboConfig,
    QboNotConnected,
    QboRejected,
    QboUnavailable,
    RateLimiter,
)
from ledgerflow.books.qbo.client import fault_message
from ledgerflow.books.qbo.tokens import Credentials

REALM = "4620816365000000001"


class Tokens:
    """A token source that mints tokens straight from the fake."""

    def __init__(self, fake: FakeQbo, config: QboConfig) -> None:
        self.fake = fake
        self.config = config
        self.token = fake.grant(REALM)
        self.refreshes = 0

    def access_token(self, company_id: str) -> Credentials:
        return Credentials(REALM, self.token)

    def refresh(self, company_id: str, stale: str | None = None) -> Credentials:
        self.refreshes += 1
        self.token = self.fake.grant(REALM)
        return Credentials(REALM, self.token)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeQbo]:
    server = FakeQbo(now=clock.now)
    server.start()
    server.add_accounts(REALM, {"Meals": "Expense", "Checking": "Bank"})
    yield server
    assert server.violations == []
    server.stop()


@pytest.fixture
def tokens(fake: FakeQbo) -> Tokens:
    return Tokens(fake, config_for(fake))


def client_for(tokens: Tokens, clock: FakeClock, **kw: object) -> QboClient:
    limiter = RateLimiter(clock=clock.now, sleep=clock.sleep)
    return QboClient(
        tokens,
        "acme",
        limiter=limiter,
        clock=clock.now,
        sleep=clock.sleep,
        **kw,  # type: ignore[arg-type]
    )


def entry(bid: str, doc: str, debit: str, credit: str, amount: float = 12.34) -> dict[str, object]:
    def line(posting: str, account: str) -> dict[str, object]:
        return {
            "Amount": amount,
            "DetailType": "JournalEntryLineDetail",
            "JournalEntryLineDetail": {"PostingType": posting, "AccountRef": {"value": account}},
        }

    return {
        "bId": bid,
        "operation": "create",
        "JournalEntry": {
            "DocNumber": doc,
            "TxnDate": "2024-05-01",
            "Line": [line("Debit", debit), line("Credit", credit)],
        },
    }


def _ids(fake: FakeQbo) -> tuple[str, str]:
    by_name = {a["Name"]: a["Id"] for a in fake.accounts[REALM]}
    return by_name["Meals"], by_name["Checking"]


def test_every_call_has_a_requestid_and_minorversion(
    fake: FakeQbo, tokens: Tokens, clock: FakeClock
) -> None:
    client = client_for(tokens, clock)
    accounts = client.query_all("Account")
    assert {a["Name"] for a in accounts} == {"Meals", "Checking"}
    meals, checking = _ids(fake)
    result = client.batch([entry("b00", "D1", meals, checking)], "req-1")
    assert "JournalEntry" in result["b00"]
    calls = fake.api_calls()
    assert len(calls) == 2 and all(c.request_id for c in calls)
    assert calls[0].request_id != calls[1].request_id == "req-1"


def test_batch_shape_is_checked_before_sending(
    fake: FakeQbo, tokens: Tokens, clock: FakeClock
) -> None:
    client = client_for(tokens, clock)
    meals, checking = _ids(fake)
    with pytest.raises(ValueError):
        client.batch([entry(f"b{i}", f"D{i}", meals, checking) for i in range(31)], "r")
    with pytest.raises(ValueError):
        client.batch([entry("b-too-long-1", "D", meals, checking)], "r")
    with pytest.raises(ValueError):
        client.batch([entry("b1", "D", meals, checking)], "r" * 37)
    assert fake.api_calls() == []


def test_401_refreshes_and_retries_once(fake: FakeQbo, tokens: Tokens, clock: FakeClock) -> None:
    client = client_for(tokens, clock)
    fake.expire_access_tokens()
    assert client.query_all("Account")
    assert tokens.refreshes == 1
    assert [c.status for c in fake.api_calls()] == [401, 200]
    # A refreshed token that is refused too: no loop, a clear error.
    fake.inject(401, times=5)
    with pytest.raises(QboNotConnected, match="reconnect"):
        client.query_all("Account")
    assert tokens.refreshes == 2
    assert [c.status for c in fake.api_calls()][2:] == [401, 401]


def test_429_waits_for_retry_after_then_succeeds(
    fake: FakeQbo, tokens: Tokens, clock: FakeClock
) -> None:
    client = client_for(tokens, clock)
    fake.inject(429, times=2, retry_after=7)
    start = clock.now()
    assert client.query_all("Account")
    assert [c.status for c in fake.api_calls()] == [429, 429, 200]
    assert clock.now() - start >= 14
    assert 7 in clock.sleeps
    fake.inject(429, retry_after=3600)  # longer than a job should sit and wait
    with pytest.raises(QboUnavailable, match="wait 3600 s"):
        client.query_all("Account")


def test_5xx_and_network_errors_retry_with_backoff(
    fake: FakeQbo, tokens: Tokens, clock: FakeClock
) -> None:
    client = client_for(tokens, clock, jitter=lambda: 1.0)
    fake.inject(503, times=3)
    assert client.query_all("Account")
    assert [c.status for c in fake.api_calls()] == [503, 503, 503, 200]
    assert clock.sleeps == [1.0, 2.0, 4.0]  # exponential
    fake.inject(500, times=10)
    with pytest.raises(QboUnavailable, match="gave up after 6 attempts"):
        client.query_all("Account")
    dead = QboClient(
        Tokens(fake, config_for(fake, api_base="http://127.0.0.1:9")),
        "acme",
        limiter=RateLimiter(clock=clock.now, sleep=clock.sleep),
        sleep=clock.sleep,
        max_attempts=2,
    )
    with pytest.raises(QboUnavailable, match="could not be reached"):
        dead.query_all("Account")


def test_other_4xx_is_rejected_with_the_quickbooks_message(
    fake: FakeQbo, tokens: Tokens, clock: FakeClock
) -> None:
    client = client_for(tokens, clock)
    fake.inject(400)
    with pytest.raises(QboRejected, match="injected 400") as info:
        client.query_all("Account")
    assert info.value.status_code == 400
    assert fault_message({"fault": {"error": [{"message": "m", "detail": "d", "code": "1"}]}}) == (
        "m: d (code 1)"
    )


def test_a_lost_response_is_retried_without_a_duplicate(
    fake: FakeQbo, tokens: Tokens, clock: FakeClock
) -> None:
    client = client_for(tokens, clock)
    meals, checking = _ids(fake)
    fake.lose_responses = 1  # processed, but the answer is a 502
    items = [entry("b00", "D1", meals, checking), entry("b01", "D2", meals, checking)]
    first = client.batch(items, "req-dup")
    assert [c.status for c in fake.api_calls()] == [502, 200]
    assert len(fake.journal_entries[REALM]) == 2
    again = client.batch(items, "req-dup")  # a later retry of the same batch
    assert again == first and len(fake.journal_entries[REALM]) == 2


def test_limiter_windows_with_a_simulated_clock() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.now, sleep=clock.sleep)
    log: list[tuple[float, int, bool]] = []
    # 60 batches of 30 items, each followed by 12 single requests: 2,520 requests' worth.
    work = [(30, True), *[(1, False)] * 12] * 60
    for weight, batch in work:
        with limiter.slot(weight, batch=batch):
            log.append((clock.now(), weight, batch))
    for start, _, _ in log:
        window = [(w, b) for t, w, b in log if start <= t < start + 60]
        assert sum(w for w, _ in window) <= 500
        assert sum(1 for _, b in window if b) <= 40
    minutes = (log[-1][0] - log[0][0]) / 60
    assert 4.5 <= minutes <= 6  # 2,520 requests at 500 a minute: not needlessly slow either
    limiter.pause(30)
    before = clock.now()
    with limiter.slot():
        assert clock.now() - before >= 30
    with pytest.raises(ValueError), limiter.slot(501):
        pass


def test_limiter_and_fake_agree_on_an_export_sized_run(
    fake: FakeQbo, tokens: Tokens, clock: FakeClock
) -> None:
    client = client_for(tokens, clock)
    meals, checking = _ids(fake)
    for n in range(45):  # 45 batches of 30: over both the batch and the request limits
        items = [entry(f"b{i:02d}", f"D{n}-{i}", meals, checking) for i in range(30)]
        client.batch(items, f"req-{n}")
    calls = fake.api_calls()
    assert len(calls) == 45 and len(fake.journal_entries[REALM]) == 45 * 30
    for first in calls:
        window = [c for c in calls if first.at <= c.at < first.at + 60]
        assert sum(c.weight for c in window) <= 500
        assert sum(1 for c in window if c.batch) <= 40


def test_at_most_ten_requests_in_flight(fake: FakeQbo, tokens: Tokens) -> None:
    fake.latency = 0.05
    client = QboClient(tokens, "acme", limiter=RateLimiter())
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(2):
                client.query("select * from Account")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(fake.api_calls()) == 50
    assert 2 <= fake.max_in_flight <= 10
