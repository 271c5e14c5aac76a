"""The client's sans-IO core without a server: schedules, parsing, and ``follow`` driven by a
scripted transport on a fake clock."""

from __future__ import annotations

import datetime as dt
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledgerflow.client import (
    ApiError,
    AsyncClient,
    Backoff,
    Client,
    ClientError,
    Download,
    Job,
    JobEvent,
    NotFound,
    RateLimited,
    TransportError,
    WaitTimeout,
    following,
    protocol,
)
from ledgerflow.client.following import (
    CloseStream,
    Effect,
    Emit,
    Fetch,
    OpenStream,
    ReadLine,
    Sleep,
)
from ledgerflow.client.protocol import Polled, Reply
from ledgerflow.client.sse import SSEParser

JOB_ID = "job_01JD4Q8V6T3W7X9Y2Z5A1B3C4D"


def job_json(status: str = "running", progress: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": JOB_ID,
        "type": "t.count",
        "status": status,
        "progress": progress,
        "message": None,
        "result": None,
        "error": None,
        "company_id": "acme",
        "created_at": "2026-11-26T10:00:00Z",
        "started_at": None,
        "finished_at": None,
        "attempts": 1,
        **extra,
    }


def job(status: str = "running", progress: int = 0) -> Job:
    return Job.from_json(job_json(status, progress))


def polled(status: str, progress: int, revision: int) -> Polled:
    return Polled(job(status, progress), f'"{JOB_ID}.{revision}"', revision)


def unchanged(revision: int) -> Polled:
    return Polled(None, f'"{JOB_ID}.{revision}"', revision)


def frame(revision: int, status: str, progress: int) -> list[str]:
    event = status if status in ("complete", "failed", "cancelled") else "progress"
    data = json.dumps(job_json(status, progress))
    return [f"id: {revision}", f"event: {event}", f"data: {data}", ""]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Script:
    """Carries out ``follow``'s effects from scripted answers; Sleep advances the fake clock."""

    def __init__(self, clock: Clock, **handlers: Callable[..., Any]) -> None:
        self.clock = clock
        self.handlers = handlers
        self.effects: list[Effect] = []
        self.events: list[JobEvent] = []

    def run(self, steps: following.Steps) -> list[JobEvent]:
        value: Any = None
        error: ClientError | None = None
        while True:
            try:
                effect = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration:
                return self.events
            value, error = None, None
            self.effects.append(effect)
            if isinstance(effect, Emit):
                self.events.append(effect.event)
                continue
            if isinstance(effect, Sleep):
                self.clock.now += effect.seconds
                continue
            handler = self.handlers.get(type(effect).__name__)
            try:
                value = handler(effect) if handler else None
            except ClientError as exc:
                error = exc

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]


def answers(*items: Any) -> Callable[[Any], Any]:
    """One scripted answer per call (an exception is raised), the last one repeated."""
    queue = list(items)

    def answer(_: Any) -> Any:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, BaseException):
            raise item
        return item

    return answer


def lines(*chunks: list[str] | str | BaseException | None) -> Callable[[Any], Any]:
    flat: list[Any] = []
    for chunk in chunks:
        flat.extend(chunk if isinstance(chunk, list) else [chunk])
    return answers(*flat)


# --- the schedule -----------------------------------------------------------------------------
def test_backoff_schedule() -> None:
    delays = [Backoff().delay(i) for i in range(25)]
    assert delays == [1.0] * 5 + [1.5] * 5 + [2.25] * 5 + [3.375] * 5 + [5.0] * 5
    first = [d for d, _ in zip(Backoff(0.1, 2, 1, 1.0), range(6), strict=False)]
    assert first == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    with pytest.raises(ValueError):
        Backoff(initial=0)


def test_polling_follows_the_schedule_with_etags() -> None:
    clock = Clock()
    script = Script(
        clock,
        Fetch=answers(
            polled("pending", 0, 1), *[unchanged(1)] * 12, polled("running", 50, 2),
            *[unchanged(2)] * 10, polled("complete", 100, 3),
        ),
    )  # fmt: skip
    events = script.run(following.follow(JOB_ID, sse=False, clock=clock))
    assert [(e.event, e.job.progress, e.revision) for e in events] == [
        ("progress", 0, 1),
        ("progress", 50, 2),
        ("complete", 100, 3),
    ]
    sleeps = [s.seconds for s in script.of(Sleep)]
    assert sleeps == [Backoff().delay(i) for i in range(24)]
    fetches = [f.call.request for f in script.of(Fetch)]
    assert fetches[0].headers == {}
    assert [r.headers["If-None-Match"] for r in fetches[1:14]] == [f'"{JOB_ID}.1"'] * 13
    assert fetches[-1].headers["If-None-Match"] == f'"{JOB_ID}.2"'
    assert fetches[0].path == f"/api/jobs/{JOB_ID}" and fetches[0].method == "GET"


def test_polling_tolerates_a_few_transient_errors() -> None:
    down = TransportError("connection refused")
    busy = ApiError(503, "restarting")
    clock = Clock()
    script = Script(
        clock,
        Fetch=answers(down, busy, RateLimited(429, "slow", 7.0), down, polled("complete", 100, 4)),
    )
    events = script.run(following.follow(JOB_ID, sse=False, clock=clock))
    assert [e.event for e in events] == ["complete"]
    assert [s.seconds for s in script.of(Sleep)] == [1.0, 1.0, 7.0, 1.0]

    script = Script(Clock(), Fetch=answers(down))
    with pytest.raises(TransportError):
        script.run(following.follow(JOB_ID, sse=False, clock=script.clock))
    assert len(script.of(Fetch)) == following.MAX_POLL_FAILURES

    script = Script(Clock(), Fetch=answers(NotFound(404, "Job not found.")))
    with pytest.raises(NotFound):
        script.run(following.follow(JOB_ID, sse=False, clock=script.clock))
    assert len(script.of(Fetch)) == 1


def test_polling_timeout() -> None:
    clock = Clock()
    script = Script(clock, Fetch=answers(polled("running", 10, 1), unchanged(1)))
    with pytest.raises(WaitTimeout) as caught:
        script.run(following.follow(JOB_ID, timeout=10, sse=False, clock=clock))
    assert clock.now == 1010.0
    assert [s.seconds for s in script.of(Sleep)] == [1.0] * 5 + [1.5] * 3 + [0.5]
    assert caught.value.job == job("running", 10) and caught.value.timeout == 10


# --- the event stream -------------------------------------------------------------------------
def test_stream_to_the_final_event() -> None:
    script = Script(
        Clock(),
        ReadLine=lines(
            ["retry: 2000", ""],
            frame(3, "running", 10),
            [": keep-alive", ""],
            frame(5, "running", 60),
            frame(6, "complete", 100),
            None,
        ),
    )
    events = script.run(following.follow(JOB_ID, timeout=60, clock=script.clock))
    assert [(e.event, e.revision, e.job.progress) for e in events] == [
        ("progress", 3, 10),
        ("progress", 5, 60),
        ("complete", 6, 100),
    ]
    opened = script.of(OpenStream)
    assert len(opened) == 1 and opened[0].request.path == f"/api/jobs/{JOB_ID}/events"
    assert "Last-Event-ID" not in opened[0].request.headers
    assert opened[0].read_timeout == following.STREAM_READ_TIMEOUT
    assert script.of(Fetch) == [] and isinstance(script.effects[-1], CloseStream)
    assert all(r.timeout is not None and r.timeout <= 60 for r in script.of(ReadLine))


def test_stream_that_ends_early_is_reopened_from_the_last_event() -> None:
    script = Script(
        Clock(),
        ReadLine=lines(
            frame(3, "running", 10), None, frame(3, "running", 10), frame(4, "failed", 10)
        ),
    )
    events = script.run(following.follow(JOB_ID, clock=script.clock))
    assert [(e.event, e.revision) for e in events] == [("progress", 3), ("failed", 4)]
    opened = script.of(OpenStream)
    assert [o.request.headers.get("Last-Event-ID") for o in opened] == [None, "3"]


@pytest.mark.parametrize(
    "refusal", [TransportError("refused"), ApiError(502, "Bad gateway"), ApiError(503, "down")]
)
def test_stream_refused_falls_back_to_polling(refusal: ClientError) -> None:
    script = Script(
        Clock(),
        OpenStream=answers(refusal),
        Fetch=answers(polled("running", 5, 2), polled("complete", 100, 3)),
    )
    events = script.run(following.follow(JOB_ID, clock=script.clock))
    assert [e.event for e in events] == ["progress", "complete"]
    assert len(script.of(OpenStream)) == 1 and len(script.of(Fetch)) == 2


def test_broken_stream_falls_back_without_repeating_events() -> None:
    broken = TransportError("connection reset")
    script = Script(
        Clock(),
        OpenStream=answers(None, broken),
        ReadLine=lines(frame(3, "running", 10), broken),
        Fetch=answers(polled("running", 10, 3), polled("complete", 100, 4)),
    )
    events = script.run(following.follow(JOB_ID, clock=script.clock))
    assert [(e.event, e.revision) for e in events] == [("progress", 3), ("complete", 4)]
    assert len(script.of(OpenStream)) == 2, "reopened once (it had news), then polling"


@pytest.mark.parametrize("status", [401, 403, 404])
def test_stream_refusals_that_polling_cannot_fix_are_raised(status: int) -> None:
    refusal = protocol.error_for(Reply(status, httpx.Headers(), b'{"detail": "no"}'))
    script = Script(Clock(), OpenStream=answers(refusal))
    with pytest.raises(ApiError) as caught:
        script.run(following.follow(JOB_ID, clock=script.clock))
    assert caught.value.status == status and script.of(Fetch) == []


def test_stream_timeout() -> None:
    clock = Clock()

    def slow(effect: ReadLine) -> str:
        clock.now += 4
        return ": keep-alive"

    script = Script(clock, ReadLine=slow)
    with pytest.raises(WaitTimeout):
        script.run(following.follow(JOB_ID, timeout=10, clock=clock))
    assert script.of(OpenStream)[0].read_timeout == 10
    assert [r.timeout for r in script.of(ReadLine)] == [10, 6, 2]


# --- parsing ----------------------------------------------------------------------------------
def test_sse_parser() -> None:
    parser = SSEParser()
    fed = [
        parser.feed(line)
        for line in (
            *("retry: 5", "", ": comment", "id: 7", "event: progress", "data: a"),
            *("data:b", "", "data: plain", ""),
        )
    ]
    events = [e for e in fed if e is not None]
    assert [(e.event, e.data, e.id) for e in events] == [
        ("progress", "a\nb", "7"),
        ("message", "plain", "7"),
    ]
    assert events[0].retry == 5 and parser.last_event_id == "7"


def test_errors_from_answers() -> None:
    def error(status: int, body: bytes, **headers: str) -> ClientError:
        return protocol.error_for(Reply(status, httpx.Headers(headers), body))

    limited = error(429, b'{"detail": "Too many jobs started; slow down."}', **{"Retry-After": "3"})
    assert isinstance(limited, RateLimited) and limited.retry_after == 3.0
    assert limited.detail == "Too many jobs started; slow down."
    missing = error(404, b'{"detail": "Job not found."}')
    assert isinstance(missing, NotFound) and str(missing) == "HTTP 404: Job not found."
    gateway = error(502, b"<html>Bad Gateway</html>")
    assert type(gateway) is ApiError and gateway.detail == "<html>Bad Gateway</html>"
    invalid = error(422, b'{"detail": [{"loc": ["body", "limit"]}]}')
    assert isinstance(invalid, ApiError) and invalid.detail == [{"loc": ["body", "limit"]}]


def test_requests() -> None:
    with protocol.open_upload(b"Date,Amount\n", "jan.csv") as upload:
        call = protocol.upload_and_categorize("acme", upload, "bnk_1", "key-1")
    request = call.request
    assert (request.method, request.path) == ("POST", "/api/jobs/upload-and-categorize")
    assert request.data == {"company_id": "acme", "bank_account_id": "bnk_1"}
    assert request.files == {"file": ("jan.csv", b"Date,Amount\n", "text/csv")}
    assert request.headers == {"Idempotency-Key": "key-1"}
    with protocol.open_upload(b"\x89PNG\r\n", "lunch.png") as upload:
        receipt = protocol.ocr("acme", upload).request
    assert (receipt.path, receipt.data, receipt.headers) == (
        "/api/jobs/ocr",
        {"company_id": "acme"},
        {},
    )
    assert receipt.files == {"file": ("lunch.png", b"\x89PNG\r\n", "image/png")}
    export = protocol.export_qbo("acme", dt.date(2026, 1, 31), "csv").request
    assert export.json == {"company_id": "acme", "since": "2026-01-31", "format": "csv"}
    approve = protocol.bulk_approve("acme", min_confidence=0.95).request
    assert (approve.path, approve.json) == (
        "/api/jobs/bulk-approve",
        {"company_id": "acme", "min_confidence": 0.95},
    )
    assert protocol.categorize("acme").request.json == {"company_id": "acme"}
    listing = protocol.list_jobs("acme", status="failed", limit=5).request
    assert listing.params == {"status": "failed", "limit": 5}
    assert protocol.cancel("a/b").request.path == "/api/jobs/a%2Fb/cancel"
    assert protocol.retry(JOB_ID).request.path == f"/api/jobs/{JOB_ID}/retry"
    assert protocol.download_file(JOB_ID).request.path == f"/api/jobs/{JOB_ID}/file"
    accepted = protocol.parse_accepted(
        Reply(200, httpx.Headers(), b'{"job_id": "j", "status": "running"}')
    )
    assert (accepted.job_id, accepted.created) == ("j", False)


def test_download(tmp_path: Path) -> None:
    headers = httpx.Headers(
        {
            "Content-Disposition": 'attachment; filename="../qbo-2026.csv"',
            "Content-Type": "text/csv",
        }
    )
    download = protocol.parse_download(Reply(200, headers, b"a,b\n"))
    assert download == Download(b"a,b\n", "qbo-2026.csv", "text/csv")
    assert download.save(tmp_path) == tmp_path / "qbo-2026.csv"
    assert (tmp_path / "qbo-2026.csv").read_bytes() == b"a,b\n"


def test_sync_and_async_clients_offer_the_same_methods() -> None:
    def public(cls: type) -> dict[str, inspect.Signature]:
        members = {name: getattr(cls, name) for name in vars(cls) if not name.startswith("_")}
        return {name: inspect.signature(m) for name, m in members.items() if callable(m)}

    sync, aio = public(Client), public(AsyncClient)
    assert sync.keys() == aio.keys()
    for name, signature in sync.items():
        theirs = aio[name]
        assert list(signature.parameters) == list(theirs.parameters), name
        assert signature.return_annotation.replace("Iterator", "AsyncIterator").replace(
            "Client", "AsyncClient"
        ) == theirs.return_annotation.replace("AsyncAsync", "Async"), name
