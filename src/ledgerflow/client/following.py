"""How a job is followed: live over SSE, falling back to polling; sans-IO like ``protocol``.

``follow()`` is a generator of ``Effect``s (fetch this, sleep that long, open an event stream,
read a line, tell the caller about this event) that the transports carry out, sending results
back in and throwing their ``ClientError``s back in.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import ApiError, ClientError, ProtocolError, RateLimited, TransportError, WaitTimeout
from .models import Job, JobEvent
from .protocol import Call, Polled, Request, events_request, poll_job
from .schedule import Backoff
from .sse import SSEParser

# The server sends a keep-alive at least every 15 s: a stream quiet for longer is broken.
STREAM_READ_TIMEOUT = 30.0
# Transient failures in a row (no answer, 5xx, 429) that polling tolerates before giving up.
MAX_POLL_FAILURES = 5


@dataclass(frozen=True, slots=True)
class Fetch:
    """Send ``call``; send its result back (or throw its error in)."""

    call: Call[Any]


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class OpenStream:
    """Open an event stream (closing any open one); raise ``stream_refused`` if not 200.

    Transports that cannot bound a single read (the sync one) use ``read_timeout`` for every
    read on this stream.
    """

    request: Request
    read_timeout: float


@dataclass(frozen=True, slots=True)
class ReadLine:
    """The stream's next line without its line ending, or None at its end. Transports that
    can (the async one) give up after ``timeout`` seconds with a ``TransportError``."""

    timeout: float | None


@dataclass(frozen=True, slots=True)
class CloseStream:
    pass


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand ``event`` to the caller (``events`` yields it; ``wait`` calls ``on_progress``)."""

    event: JobEvent


Effect = Fetch | Sleep | OpenStream | ReadLine | CloseStream | Emit
Steps = Generator[Effect, Any, None]
FINAL_EVENTS = ("complete", "failed", "cancelled")


class _Tracker:
    """Deadline and the last event handed out, so nothing is handed out twice."""

    def __init__(self, job_id: str, timeout: float | None, clock: Callable[[], float]) -> None:
        self.job_id = job_id
        self.timeout = timeout
        self.clock = clock
        self.deadline = None if timeout is None else clock() + timeout
        self.last: JobEvent | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - self.clock())

    def check(self) -> None:
        if self.deadline is not None and self.clock() >= self.deadline:
            assert self.timeout is not None
            raise WaitTimeout(self.job_id, self.timeout, self.last.job if self.last else None)

    def is_new(self, event: JobEvent) -> bool:
        last = self.last
        if last is None:
            return True
        if event.revision is not None and last.revision is not None:
            return event.revision > last.revision
        return event.job != last.job


def follow(
    job_id: str,
    *,
    timeout: float | None = None,
    sse: bool = True,
    backoff: Backoff | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Steps:
    """Every change of the job until its final state, which is always the last event.

    Live over SSE first. A stream that ends early after delivering events is reopened with
    ``Last-Event-ID``; one that cannot be opened (no connection, 5xx, 429) or breaks without
    news falls back to polling ``GET /api/jobs/{id}`` with ``If-None-Match`` on the ``backoff``
    schedule. 401/403/404 are raised as they are. ``timeout`` raises ``WaitTimeout``.
    """
    tracker = _Tracker(job_id, timeout, clock)
    if sse:
        last_event_id: str | None = None
        while True:
            ended, news, last_event_id = yield from _stream(tracker, last_event_id)
            if ended:
                return
            if not news:
                break
    yield from _poll(tracker, backoff or Backoff())


def final(job_id: str, job: Job | None) -> Job:
    """The job a finished ``follow`` handed out last: always a final one."""
    if job is None or not job.is_final:
        raise ProtocolError(f"job {job_id}: the events ended before a final status")
    return job


def _transient(error: ClientError) -> bool:
    """Worth trying again later: no answer, a server error, or rate limiting."""
    if isinstance(error, ApiError):
        return error.status >= 500 or error.status == 429
    return isinstance(error, TransportError)


def _stream(
    tracker: _Tracker, last_event_id: str | None
) -> Generator[Effect, Any, tuple[bool, bool, str | None]]:
    """(job ended, any news on this stream, last event id)."""
    parser = SSEParser()
    parser.last_event_id = last_event_id
    news = False
    remaining = tracker.remaining()
    read_timeout = STREAM_READ_TIMEOUT if remaining is None else min(remaining, STREAM_READ_TIMEOUT)
    try:
        yield OpenStream(events_request(tracker.job_id, last_event_id), max(read_timeout, 0.01))
        while True:
            tracker.check()
            line = yield ReadLine(tracker.remaining())
            if line is None:
                break
            frame = parser.feed(line)
            if frame is None or frame.event not in ("progress", *FINAL_EVENTS):
                continue
            revision = int(frame.id) if frame.id and frame.id.isdigit() else None
            event = JobEvent.of(Job.from_json(_json(frame.data)), revision)
            news = True
            if tracker.is_new(event):
                tracker.last = event
                yield Emit(event)
            if event.job.is_final:
                yield CloseStream()
                return True, True, parser.last_event_id
    except (TransportError, ApiError) as exc:
        tracker.check()
        if not _transient(exc):
            raise
    yield CloseStream()
    return False, news, parser.last_event_id


def _json(data: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ProtocolError("an event's data is not JSON") from None


def _poll(tracker: _Tracker, backoff: Backoff) -> Steps:
    etag: str | None = None
    failures = 0
    for index in itertools.count():
        tracker.check()
        pause = backoff.delay(index)
        try:
            polled: Polled = yield Fetch(poll_job(tracker.job_id, etag))
        except (TransportError, ApiError) as exc:
            failures += 1
            if not _transient(exc) or failures >= MAX_POLL_FAILURES:
                raise
            if isinstance(exc, RateLimited) and exc.retry_after:
                pause = max(pause, exc.retry_after)
        else:
            failures = 0
            if polled.job is not None:
                etag = polled.etag
                event = JobEvent.of(polled.job, polled.revision)
                if tracker.is_new(event):
                    tracker.last = event
                    yield Emit(event)
                if polled.job.is_final:
                    return
        remaining = tracker.remaining()
        if remaining is not None:
            pause = min(pause, remaining)
        yield Sleep(pause)
