"""The client's sans-IO core: every request it makes and how every answer is read
(following a job is ``following.py``'s). ``Client`` and ``AsyncClient`` only move bytes.

An endpoint is a ``Call``: a ``Request`` to send and a function that turns the ``Reply`` into
a typed result (or raises the matching ``ApiError``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import mimetypes
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote

import orjson

from .errors import ClientError, ProtocolError
from .errors import api_error as _api_error
from .models import Download, Job, JobAccepted, JobPage

T = TypeVar("T")

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
