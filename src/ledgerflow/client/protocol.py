"""The client's sans-IO core: every request it makes, how every answer is read, and how a job
is followed (SSE, falling back to polling). ``Client`` and ``AsyncClient`` only move bytes.

- An endpoint is a ``Call``: a ``Request`` to send and a function that turns the ``Reply``
  into a typed result (or raises the matching ``ApiError``).
- Following a job is ``follow()``, a generator of ``Effect``s (fetch this, sleep that long,
  open an event stream, read a line, tell the caller about this event) that the transports
  carry out, sending results back in and throwing their ``ClientError``s back in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import mimetypes
import os
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote

import orjson

from .errors import ApiError, ClientError, ProtocolError, RateLimited, TransportError, WaitTimeout
from .errors import api_error as _api_error
from .models import Download, Job, JobAccepted, JobEvent, JobPage
from .schedule import Backoff
from .sse import SSEParser

T = TypeVar("T")

# The server sends a keep-alive at least every 15 s: a stream quiet for longer is broken.
STREAM_READ_TIMEOUT = 30.0
# Transient failures in a row (no answer, 5xx, 429) that polling tolerates before giving up.
MAX_POLL_FAILURES = 5

FileContent = IO[bytes] | bytes
Upload = tuple[str, FileContent]
FileSource = str | os.PathLike[str] | bytes | IO[bytes]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    params: dict[str, str | int] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, FileContent, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer; ``headers`` must be case-insensitive (``httpx.Headers`` is)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise ProtocolError(f"HTTP {self.status}: the answer is not JSON") from None


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    request: Request
    parse: Callable[[Reply], T]


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def error_for(reply: Reply) -> ClientError:
    """The exception for an answer that is not a success."""
    if reply.status < 400:
        return ProtocolError(f"unexpected HTTP {reply.status}")
    try:
        body = orjson.loads(reply.body)
        detail = body["detail"] if isinstance(body, dict) and "detail" in body else body
    except orjson.JSONDecodeError:
        detail = reply.body.decode("utf-8", "replace").strip() or f"HTTP {reply.status}"
    return _api_error(reply.status, detail, reply.headers)


def _expect(reply: Reply, *statuses: int) -> None:
    if reply.status not in statuses:
        raise error_for(reply)


def _job_path(job_id: str, suffix: str = "") -> str:
    return f"/api/jobs/{quote(job_id, safe='')}{suffix}"


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


# --- reading answers --------------------------------------------------------------------------
def parse_job(reply: Reply) -> Job:
    _expect(reply, 200, 202)
    return Job.from_json(reply.json())


def parse_accepted(reply: Reply) -> JobAccepted:
    _expect(reply, 200, 202)
    body = reply.json()
    try:
        return JobAccepted(str(body["job_id"]), str(body["status"]), created=reply.status == 202)
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"not a started job: {exc}") from None


def parse_page(reply: Reply) -> JobPage:
    _expect(reply, 200)
    body = reply.json()
    try:
        return JobPage([Job.from_json(j) for j in body["jobs"]], body.get("next_cursor"))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProtocolError(f"not a page of jobs: {exc}") from None


def parse_token(reply: Reply) -> str:
    _expect(reply, 200)
    body = reply.json()
    try:
        return str(body["access_token"])
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"not a token: {exc}") from None


def parse_download(reply: Reply) -> Download:
    _expect(reply, 200)
    return Download.of(reply.body, reply.headers)


@dataclass(frozen=True, slots=True)
class Polled:
    """A conditional read: ``job`` is None when it has not changed since ``etag``."""

    job: Job | None
    etag: str | None
    revision: int | None


def revision_of(etag: str | None) -> int | None:
    """The server's ETags are ``"<job id>.<revision>"``."""
    _, dot, number = (etag or "").strip('W/"').rpartition(".")
    return int(number) if dot and number.isdigit() else None


def parse_polled(reply: Reply) -> Polled:
    etag = reply.headers.get("etag")
    if reply.status == 304:
        return Polled(None, etag, revision_of(etag))
    return Polled(parse_job(reply), etag, revision_of(etag))


# --- the endpoints ----------------------------------------------------------------------------
def login(email: str, password: str) -> Call[str]:
    request = Request("POST", "/api/auth/token", data={"username": email, "password": password})
    return Call(request, parse_token)


def categorize(
    company_id: str, limit: int | None = None, idempotency_key: str | None = None
) -> Call[JobAccepted]:
    body: dict[str, Any] = {"company_id": company_id}
    if limit is not None:
        body["limit"] = limit
    request = Request(
        "POST", "/api/jobs/categorize", json=body, headers=_idempotency(idempotency_key)
    )
    return Call(request, parse_accepted)


def _upload(
    path: str, upload: Upload, fields: dict[str, str], idempotency_key: str | None
) -> Call[JobAccepted]:
    name, content = upload
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    request = Request(
        "POST",
        path,
        data=fields,
        files={"file": (name, content, kind)},
        headers=_idempotency(idempotency_key),
    )
    return Call(request, parse_accepted)


def upload_and_categorize(
    company_id: str,
    upload: Upload,
    bank_account_id: str | None = None,
    idempotency_key: str | None = None,
) -> Call[JobAccepted]:
    fields = {"company_id": company_id}
    if bank_account_id is not None:
        fields["bank_account_id"] = bank_account_id
    return _upload("/api/jobs/upload-and-categorize", upload, fields, idempotency_key)


def ocr(company_id: str, upload: Upload, idempotency_key: str | None = None) -> Call[JobAccepted]:
    return _upload("/api/jobs/ocr", upload, {"company_id": company_id}, idempotency_key)


def bulk_approve(
    company_id: str,
    transaction_ids: Sequence[str] | None = None,
    min_confidence: float | None = None,
    idempotency_key: str | None = None,
) -> Call[JobAccepted]:
    body: dict[str, Any] = {"company_id": company_id}
    if transaction_ids is not None:
        body["transaction_ids"] = list(transaction_ids)
    if min_confidence is not None:
        body["min_confidence"] = min_confidence
    request = Request(
        "POST", "/api/jobs/bulk-approve", json=body, headers=_idempotency(idempotency_key)
    )
    return Call(request, parse_accepted)


def export_qbo(
    company_id: str,
    since: dt.date | str | None = None,
    format: str | None = None,
    idempotency_key: str | None = None,
) -> Call[JobAccepted]:
    body: dict[str, Any] = {"company_id": company_id}
    if since is not None:
        body["since"] = since.isoformat() if isinstance(since, dt.date) else since
    if format is not None:
        body["format"] = format
    request = Request(
        "POST", "/api/jobs/export-qbo", json=body, headers=_idempotency(idempotency_key)
    )
    return Call(request, parse_accepted)


def get_job(job_id: str) -> Call[Job]:
    return Call(Request("GET", _job_path(job_id)), parse_job)


def poll_job(job_id: str, etag: str | None = None) -> Call[Polled]:
    headers = {"If-None-Match": etag} if etag else {}
    return Call(Request("GET", _job_path(job_id), headers=headers), parse_polled)


def list_jobs(
    company_id: str,
    status: str | None = None,
    type: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[JobPage]:
    given = {"status": status, "type": type, "limit": limit, "cursor": cursor}
    params = {k: v for k, v in given.items() if v is not None}
    path = f"/api/jobs/company/{quote(company_id, safe='')}"
    return Call(Request("GET", path, params=params), parse_page)


def cancel(job_id: str) -> Call[Job]:
    return Call(Request("POST", _job_path(job_id, "/cancel")), parse_job)


def retry(job_id: str) -> Call[JobAccepted]:
    return Call(Request("POST", _job_path(job_id, "/retry")), parse_accepted)


def download_file(job_id: str) -> Call[Download]:
    return Call(Request("GET", _job_path(job_id, "/file")), parse_download)


def events_request(job_id: str, last_event_id: str | None = None) -> Request:
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    return Request("GET", _job_path(job_id, "/events"), headers=headers)


def stream_refused(reply: Reply) -> ClientError:
    """Why an event stream could not be opened (a non-200 answer, or not an event stream)."""
    if reply.status == 200:
        return ProtocolError("the server did not answer with an event stream")
    return error_for(reply)


@contextlib.contextmanager
def open_upload(source: FileSource, file_name: str | None = None) -> Iterator[Upload]:
    """A file to upload from a path, bytes or a binary file object, with its name."""
    if isinstance(source, bytes):
        yield (file_name or "upload", source)
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as handle:
            yield (file_name or path.name, handle)
    else:
        name = file_name or Path(str(getattr(source, "name", "") or "upload")).name
        yield (name, source)


# --- following a job --------------------------------------------------------------------------
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
