"""The LLM categorization step against a local fake OpenAI-compatible server (127.0.0.1 only)."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_llm_server import (
    CHAT_PATH,
    FakeLLMServer,
    Reply,
    chat,
    error,
    keyword_model,
    results,
    running,
)

from ledgerflow.books.classifier.categories import CATEGORIES
from ledgerflow.books.llm import (
    MAX_DESCRIPTION,
    SYSTEM_PROMPT,
    LLMAnswer,
    LLMCategorizer,
    LLMRow,
    LLMSettings,
    _retry_after,
)

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
FAST = 0.01  # backoff base for tests: retries without real waiting


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLMServer]:
    # A developer's proxy settings must not route 127.0.0.1 elsewhere.
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    with running() as srv:
        yield srv


def settings(server: FakeLLMServer, **kwargs: Any) -> LLMSettings:
    values: dict[str, Any] = {"base_url": server.url, "api_key": "sk-test", "model": "fake-1"}
    values.update(kwargs)
    return LLMSettings(**values)


def categorizer(server: FakeLLMServer, **kwargs: Any) -> LLMCategorizer:
    return LLMCategorizer(settings(server, **kwargs), CATEGORIES, backoff_base=FAST)


def sample_rows(n: int) -> list[LLMRow]:
    texts = ["UBER TRIP", "STAPLES #123", "ACME LANDLORD LLC", "STRIPE PAYOUT", "CAFE LUNA"]
    return [
        LLMRow(
            key=f"txn_{i:04d}_0123456789abcdef0123456789abcdef",
            description=f"{texts[i % len(texts)]} {i}",
            amount_cents=25_000 if texts[i % len(texts)].startswith("STRIPE") else -1_000 - i,
        )
        for i in range(n)
    ]


EXPECTED = {
    "UBER": "Travel",
    "STAPLES": "Office supplies & software",
    "ACME": "Rent",
    "STRIPE": "Sales",
    "CAFE": "Meals",
}


# --- happy path ---------------------------------------------------------------------------------


def test_batches_of_batch_size_all_answered(server: FakeLLMServer) -> None:
    rows = sample_rows(60)
    progress: list[tuple[int, int]] = []
    report = categorizer(server).categorize(rows, on_batch=lambda d, t: progress.append((d, t)))

    assert [len(r.rows) for r in server.requests] == [25, 25, 10]
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert report.failed_batches == 0 and report.errors == [] and report.batches == 3
    assert set(report.answers) == {row.key for row in rows}
    for row in rows:
        answer = report.answers[row.key]
        assert answer.key == row.key
        assert answer.category == EXPECTED[row.description.split()[0]]
        assert answer.confidence == 0.9
    assert 0 < report.seconds < 5


def test_request_follows_the_chat_completions_protocol(server: FakeLLMServer) -> None:
    categorizer(server).categorize(sample_rows(2))
    (request,) = server.requests
    assert request.path == CHAT_PATH
    assert request.headers["content-type"] == "application/json"
    body = request.body
    assert body["model"] == "fake-1"
    assert body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"] == SYSTEM_PROMPT
    for phrase in ("exactly one category", "money out", "JSON only", '"results"', "confidence"):
        assert phrase in SYSTEM_PROMPT


def test_prompt_has_short_ids_trimmed_descriptions_and_signed_dollars(
    server: FakeLLMServer,
) -> None:
    long_text = "AMAZON   MKTPLACE\n" + "x" * 500
    rows = [
        LLMRow("a-very-long-transaction-id-0001", long_text, -1234),
        LLMRow("a-very-long-transaction-id-0002", "STRIPE PAYOUT", 250_000),
        LLMRow("a-very-long-transaction-id-0003", "FEE", -5),
    ]
    categorizer(server).categorize(rows)
    (request,) = server.requests
    prompt = request.user_text
    assert "a-very-long-transaction-id" not in prompt  # only 1..n leave the process
    assert request.rows == [
        {
            "id": "1",
            "description": ("AMAZON MKTPLACE " + "x" * 500)[:MAX_DESCRIPTION],
            "amount": -12.34,
            "direction": "out",
        },
        {"id": "2", "description": "STRIPE PAYOUT", "amount": 2500.0, "direction": "in"},
        {"id": "3", "description": "FEE", "amount": -0.05, "direction": "out"},
    ]
    assert len(request.rows[0]["description"]) == MAX_DESCRIPTION
    assert json.dumps(list(CATEGORIES)) in prompt


@pytest.mark.parametrize("api_key", ["sk-secret", ""])
def test_authorization_header_only_with_a_key(server: FakeLLMServer, api_key: str) -> None:
    LLMCategorizer(settings(server, api_key=api_key), CATEGORIES).categorize(sample_rows(1))
    (request,) = server.requests
    if api_key:
        assert request.headers["authorization"] == "Bearer sk-secret"
    else:
        assert "authorization" not in request.headers


def test_no_rows_no_requests(server: FakeLLMServer) -> None:
    report = categorizer(server).categorize([])
    assert server.requests == [] and report.answers == {} and report.batches == 0


def test_a_caller_client_is_used_and_left_open(server: FakeLLMServer) -> None:
    with httpx.Client(trust_env=False) as client:
        cat = LLMCategorizer(settings(server), CATEGORIES, client=client)
        assert len(cat.categorize(sample_rows(3)).answers) == 3
        assert not client.is_closed
        assert len(cat.categorize(sample_rows(2)).answers) == 2
    assert len(server.requests) == 2


# --- strict validation --------------------------------------------------------------------------


def test_validation_drops_what_it_cannot_trust(server: FakeLLMServer) -> None:
    rows = [LLMRow(f"k{i}", f"row {i}", -100) for i in range(1, 10)]
    server.script(
        results(
            [
                {"id": "1", "category": "Travel", "confidence": 0.8},
                {"id": "2", "category": "Travel & entertainment", "confidence": 0.9},  # unknown
                {"id": "99", "category": "Rent", "confidence": 0.9},  # not in this batch
                {"id": "3", "category": "  rent ", "confidence": 1.7},  # case → canonical
                {"id": "3", "category": "Meals", "confidence": 0.9},  # duplicate: first wins
                {"id": 4, "category": "MEALS", "confidence": -0.2},  # int id is fine
                {"id": "5", "category": "Utilities"},  # no confidence → 0.5
                {"id": "6", "category": "Insurance", "confidence": "0.7"},
                {"id": "7", "confidence": 0.9},  # no category
                {"id": "8", "category": ["Rent"], "confidence": 0.9},
                {"id": True, "category": "Rent"},
                "9: Rent",
                {"id": "9", "category": "Taxes & licenses", "confidence": "very"},
            ]
        )
    )
    report = categorizer(server).categorize(rows)
    assert len(server.requests) == 1  # a well-formed reply is not retried for bad items
    assert report.failed_batches == 0
    assert report.answers == {
        "k1": LLMAnswer("k1", "Travel", 0.8),
        "k3": LLMAnswer("k3", "Rent", 1.0),
        "k4": LLMAnswer("k4", "Meals", 0.0),
        "k5": LLMAnswer("k5", "Utilities", 0.5),
        "k6": LLMAnswer("k6", "Insurance", 0.7),
        "k9": LLMAnswer("k9", "Taxes & licenses", 0.5),
    }


def test_first_result_for_an_id_decides_even_when_invalid(server: FakeLLMServer) -> None:
    server.script(results([{"id": "1", "category": "Nonsense"}, {"id": "1", "category": "Rent"}]))
    assert categorizer(server).categorize([LLMRow("k", "x", -1)]).answers == {}


@pytest.mark.parametrize(
    "content",
    [
        '```json\n{"results": [{"id": "1", "category": "Rent", "confidence": 0.6}]}\n```',
        'Sure! Here you go:\n{"results": [{"id": "1", "category": "Rent", "confidence": 0.6}]}',
        '<think>{"a": 1}</think>{"results": [{"id": "1", "category": "Rent", "confidence": 0.6}]}',
        '[{"id": "1", "category": "Rent", "confidence": 0.6}]',
    ],
)
def test_reply_wrappers_are_tolerated(server: FakeLLMServer, content: str) -> None:
    server.script(chat(content))
    report = categorizer(server).categorize([LLMRow("k", "ACME", -1)])
    assert report.answers == {"k": LLMAnswer("k", "Rent", 0.6)}
    assert len(server.requests) == 1


def test_a_batch_answering_only_some_rows_is_kept(server: FakeLLMServer) -> None:
    server.script(results([{"id": "2", "category": "Rent", "confidence": 0.9}]))
    report = categorizer(server).categorize([LLMRow("a", "x", -1), LLMRow("b", "y", -1)])
    assert report.answers == {"b": LLMAnswer("b", "Rent", 0.9)}
    assert report.failed_batches == 0 and len(server.requests) == 1


# --- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        chat("this is not json"),
        Reply(body=b"<html>gateway</html>"),
        chat('{"answers": []}'),
        error(500),
        error(503),
        error(408),
        Reply(status=502, body=b"Bad Gateway"),
    ],
)
def test_transient_failures_are_retried(server: FakeLLMServer, bad: Reply) -> None:
    server.script(bad, bad)
    report = categorizer(server).categorize(sample_rows(5))
    assert len(server.requests) == 3
    assert len(report.answers) == 5 and report.failed_batches == 0 and report.errors == []


def test_429_honours_retry_after(server: FakeLLMServer) -> None:
    server.script(error(429, "slow down", headers={"Retry-After": "1"}))
    report = categorizer(server).categorize(sample_rows(2))
    assert len(report.answers) == 2
    first, second = server.requests
    assert second.at - first.at >= 0.9


def test_retry_after_is_capped(server: FakeLLMServer) -> None:
    server.script(error(429, headers={"Retry-After": "3600"}))
    cat = LLMCategorizer(settings(server), CATEGORIES, backoff_base=FAST, retry_after_max=0.05)
    started = time.monotonic()
    assert len(cat.categorize(sample_rows(2)).answers) == 2
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("status", "hint"),
    [(400, "HTTP 400: bad"), (401, "check LLM_API_KEY"), (404, "check LLM_BASE_URL")],
)
def test_client_errors_are_not_retried(server: FakeLLMServer, status: int, hint: str) -> None:
    server.script(error(status, "bad request sk-test"))
    report = categorizer(server).categorize(sample_rows(3))
    assert len(server.requests) == 1
    assert report.failed_batches == 1 and report.answers == {}
    (message,) = report.errors
    assert message.startswith(f"LLM batch 1/1: HTTP {status}")
    assert hint in message
    assert "sk-test" not in message  # an echoed key is masked


def test_wrong_path_gives_a_useful_404(server: FakeLLMServer) -> None:
    cat = LLMCategorizer(
        settings(server, base_url=server.url.removesuffix("/v1")), CATEGORIES, backoff_base=FAST
    )
    report = cat.categorize(sample_rows(1))
    assert "HTTP 404" in report.errors[0] and "/v1" in report.errors[0]


def test_a_failing_batch_is_reported_and_the_others_go_on(server: FakeLLMServer) -> None:
    # Batch 1 succeeds, batch 2 fails all 3 attempts, batch 3 succeeds.
    good = keyword_model()
    server.script(good, error(500), error(502), error(503))
    rows = sample_rows(60)
    progress: list[tuple[int, int]] = []
    report = categorizer(server).categorize(rows, on_batch=lambda d, t: progress.append((d, t)))
    assert len(server.requests) == 5
    assert report.failed_batches == 1
    assert report.errors == ["LLM batch 2/3: HTTP 503: error 503 (after 3 attempts)"]
    assert set(report.answers) == {r.key for r in rows[:25] + rows[50:]}
    assert progress == [(1, 3), (2, 3), (3, 3)]


def test_garbage_every_time_fails_the_batch(server: FakeLLMServer) -> None:
    server.default = lambda _request: chat("I cannot help with that.")
    report = categorizer(server, max_retries=1).categorize(sample_rows(3))
    assert len(server.requests) == 2
    assert report.errors == ["LLM batch 1/1: reply was not the expected JSON (after 2 attempts)"]


def test_a_slow_server_times_out_and_is_retried(server: FakeLLMServer) -> None:
    server.script(Reply(delay=5.0))  # far longer than the client timeout
    started = time.monotonic()
    report = categorizer(server, timeout=0.3).categorize(sample_rows(4))
    assert time.monotonic() - started < 2
    assert len(server.requests) == 2 and len(report.answers) == 4


def test_timeouts_every_time_are_reported(server: FakeLLMServer) -> None:
    server.default = lambda _request: Reply(delay=5.0)
    report = categorizer(server, timeout=0.2, max_retries=1).categorize(sample_rows(2))
    assert report.errors == ["LLM batch 1/1: timed out after 0.2 s (after 2 attempts)"]
    assert report.answers == {} and report.failed_batches == 1


def test_connection_refused_never_raises(server: FakeLLMServer) -> None:
    server.stop()
    port = server.url.split(":")[2].split("/")[0]
    report = categorizer(server, batch_size=2).categorize(sample_rows(5))
    assert report.failed_batches == 3 and report.answers == {}
    assert len(report.errors) == 3
    assert report.errors[0] == (
        f"LLM batch 1/3: could not connect to 127.0.0.1:{port} (after 3 attempts)"
    )
    assert report.seconds < 2


def test_the_time_budget_stops_the_step(server: FakeLLMServer) -> None:
    server.default = lambda _request: Reply(delay=10.0)
    progress: list[tuple[int, int]] = []
    cat = categorizer(server, timeout=0.4, max_total_seconds=1.0, batch_size=5)
    started = time.monotonic()
    report = cat.categorize(sample_rows(20), on_batch=lambda d, t: progress.append((d, t)))
    elapsed = time.monotonic() - started
    # The budget, not 4 batches x 3 attempts x 0.4 s; no attempt starts with < 0.4 s left.
    assert 0.6 <= elapsed < 1.3
    assert report.answers == {} and report.failed_batches == 4 and report.batches == 4
    assert report.errors[0] == "LLM batch 1/4: timed out after 0.4 s; no time budget left to retry"
    assert report.errors[-1].startswith("LLM step stopped at its time budget of 1 s;")
    assert report.errors[-1].endswith("of 4 batches not sent")
    assert progress[-1] == (4, 4)


def test_a_reply_that_trickles_is_cut_at_the_timeout(server: FakeLLMServer) -> None:
    # Every read returns quickly, so httpx's per-read timeout alone would wait for all of it.
    server.default = lambda _request: results([], trickle=0.05)
    started = time.monotonic()
    report = categorizer(server, timeout=0.4, max_retries=0).categorize(sample_rows(1))
    assert time.monotonic() - started < 1.0
    assert report.errors == ["LLM batch 1/1: timed out after 0.4 s"]


# --- settings and programmer errors -------------------------------------------------------------


def test_from_env_is_off_without_url_or_model() -> None:
    assert LLMSettings.from_env({}) is None
    assert LLMSettings.from_env({"LLM_BASE_URL": "http://127.0.0.1:8080/v1"}) is None
    assert LLMSettings.from_env({"LLM_MODEL": "llama3"}) is None
    assert LLMSettings.from_env({"LLM_BASE_URL": "  ", "LLM_MODEL": "llama3"}) is None


def test_from_env_reads_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY", "LLM_TIMEOUT", "LLM_BATCH_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert LLMSettings.from_env() is None
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:11434/v1/")
    monkeypatch.setenv("LLM_MODEL", "llama3.1:8b")
    assert LLMSettings.from_env() == LLMSettings("http://127.0.0.1:11434/v1/", "", "llama3.1:8b")
    monkeypatch.setenv("LLM_API_KEY", "sk-x")
    monkeypatch.setenv("LLM_TIMEOUT", "90")
    monkeypatch.setenv("LLM_BATCH_SIZE", "10")
    s = LLMSettings.from_env()
    assert s is not None
    assert (s.api_key, s.timeout, s.batch_size, s.max_retries) == ("sk-x", 90.0, 10, 2)
    monkeypatch.setenv("LLM_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="LLM_TIMEOUT"):
        LLMSettings.from_env()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "127.0.0.1:8080/v1"},
        {"model": " "},
        {"timeout": 0},
        {"max_total_seconds": float("inf")},
        {"batch_size": 0},
        {"max_retries": -1},
    ],
)
def test_bad_settings_raise(kwargs: dict[str, Any]) -> None:
    values: dict[str, Any] = {"base_url": "http://127.0.0.1:1/v1", "api_key": "", "model": "m"}
    with pytest.raises(ValueError):
        LLMSettings(**{**values, **kwargs})


def test_programmer_errors_raise() -> None:
    s = LLMSettings("http://127.0.0.1:1/v1", "", "m")
    with pytest.raises(ValueError, match="at least one category"):
        LLMCategorizer(s, [])
    with pytest.raises(ValueError, match="differ only by case"):
        LLMCategorizer(s, ["Rent", "rent"])
    with pytest.raises(ValueError, match="blank"):
        LLMCategorizer(s, ["Rent", " "])
    with pytest.raises(ValueError, match="unique keys"):
        LLMCategorizer(s, ["Rent"]).categorize([LLMRow("a", "x", 1), LLMRow("a", "y", 2)])


def test_retry_after_parsing() -> None:
    assert _retry_after(None) is None
    assert _retry_after("7") == 7.0
    assert _retry_after("-3") == 0.0
    assert _retry_after("soon") is None
    assert _retry_after("nan") is None
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= (_retry_after(in_a_minute) or 0) <= 60


def test_one_deadline_can_span_several_calls(server: FakeLLMServer) -> None:
    server.default = lambda _request: Reply(delay=10.0)
    # The first call may start up to 0.4 s late (a loaded CI machine) and still send its
    # batch; with 0.5 s against 0.3 it once found its budget already too short to start.
    cat = categorizer(server, timeout=0.8, max_total_seconds=1.2, max_retries=0)
    deadline = cat.new_deadline()
    first = cat.categorize(sample_rows(1), deadline=deadline)
    second = cat.categorize(sample_rows(1), deadline=deadline)
    assert first.errors == ["LLM batch 1/1: timed out after 0.8 s"]
    assert len(server.requests) == 1  # the second call found the shared budget spent
    assert second.failed_batches == 1 and second.errors[0].startswith("LLM step stopped")
