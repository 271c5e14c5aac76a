"""``Client``: the blocking transport over ``protocol`` (httpx)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from . import following, protocol
from .errors import ClientError, TransportError
from .following import CloseStream, Effect, Emit, Fetch, OpenStream, ReadLine, Sleep, Steps
from .models import Download, Job, JobAccepted, JobEvent, JobPage
from .protocol import Call, FileSource, Reply, Request
from .schedule import Backoff

T = TypeVar("T")


class Client:
    """A ledgerflow server at ``base_url``, as the user whose bearer ``token`` this is.

    Every ``POST /api/jobs/...`` method starts a job and returns at once with its id; follow
    it with ``wait`` or ``events``. HTTP errors raise ``ApiError`` subclasses (``NotFound``,
    ``Forbidden``, ``RateLimited``, ...), connection problems ``TransportError``.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.backoff = backoff or Backoff()
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=base_url,
            headers=protocol.auth_headers(token),
            timeout=timeout,
            transport=transport,
        )

    @classmethod
    def login(cls, base_url: str, email: str, password: str, **options: Any) -> Client:
        """A client signed in with an email and password (``POST /api/auth/token``)."""
        client = cls(base_url, **options)
        try:
            client.set_token(client._send(protocol.login(email, password)))
        except BaseException:
            client.close()
            raise
        return client

    def set_token(self, token: str) -> None:
        self._http.headers.update(protocol.auth_headers(token))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- starting jobs ------------------------------------------------------------------------
    def categorize(
        self, company_id: str, *, limit: int | None = None, idempotency_key: str | None = None
    ) -> JobAccepted:
        """Categorize the company's uncategorized transactions (up to ``limit``)."""
        return self._send(protocol.categorize(company_id, limit, idempotency_key))

    def upload_and_categorize(
        self,
        company_id: str,
        file: FileSource,
        *,
        file_name: str | None = None,
        bank_account_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobAccepted:
        """Import a bank file (a path, bytes or binary file; CSV, OFX or QFX) and categorize it."""
        with protocol.open_upload(file, file_name) as upload:
            call = protocol.upload_and_categorize(
                company_id, upload, bank_account_id, idempotency_key
            )
            return self._send(call)

    def ocr(
        self,
        company_id: str,
        file: FileSource,
        *,
        file_name: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobAccepted:
        """Read a receipt (image or PDF) with OCR."""
        with protocol.open_upload(file, file_name) as upload:
            return self._send(protocol.ocr(company_id, upload, idempotency_key))

    def bulk_approve(
        self,
        company_id: str,
        *,
        transaction_ids: Sequence[str] | None = None,
        min_confidence: float | None = None,
        idempotency_key: str | None = None,
    ) -> JobAccepted:
        """Approve transactions: the given ones, or all at ``min_confidence`` or above."""
        call = protocol.bulk_approve(company_id, transaction_ids, min_confidence, idempotency_key)
        return self._send(call)

    def export_qbo(
        self,
        company_id: str,
        *,
        since: dt.date | str | None = None,
        format: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobAccepted:
        """Export journal entries for QuickBooks Online; fetch the file with ``download_file``."""
        return self._send(protocol.export_qbo(company_id, since, format, idempotency_key))

    # --- reading and changing jobs ------------------------------------------------------------
    def get_job(self, job_id: str) -> Job:
        return self._send(protocol.get_job(job_id))

    def list_jobs(
        self,
        company_id: str,
        *,
        status: str | None = None,
        type: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JobPage:
        """The company's jobs, newest first."""
        return self._send(protocol.list_jobs(company_id, status, type, limit, cursor))

    def cancel(self, job_id: str) -> Job:
        """Cancel: a pending job at once, a running one at its next progress report."""
        return self._send(protocol.cancel(job_id))

    def retry(self, job_id: str) -> JobAccepted:
        """Run a failed or cancelled job again, as a new job."""
        return self._send(protocol.retry(job_id))

    def download_file(self, job_id: str) -> Download:
        """A finished job's output file (e.g. an export)."""
        return self._send(protocol.download_file(job_id))

    # --- following jobs -----------------------------------------------------------------------
    def events(
        self, job_id: str, *, timeout: float | None = None, sse: bool = True
    ) -> Iterator[JobEvent]:
        """Each change of the job, the final one last (see ``following.follow``)."""
        steps = following.follow(job_id, timeout=timeout, sse=sse, backoff=self.backoff)
        return self._run(steps)

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[Job], object] | None = None,
        *,
        sse: bool = True,
    ) -> Job:
        """Block until the job is complete, failed or cancelled, and return it.

        ``on_progress`` gets the job at each change. Raises ``WaitTimeout`` after ``timeout``
        seconds (a silent event stream is noticed at its next read timeout, at most 30 s).
        """
        job: Job | None = None
        for event in self.events(job_id, timeout=timeout, sse=sse):
            job = event.job
            if on_progress is not None:
                on_progress(job)
        return following.final(job_id, job)

    # --- transport ----------------------------------------------------------------------------
    def _send(self, call: Call[T]) -> T:
        return call.parse(self._exchange(call.request))

    def _exchange(self, request: Request) -> Reply:
        try:
            response = self._http.request(
                request.method,
                request.path,
                params=request.params,
                json=request.json,
                data=request.data,
                files=request.files,
                headers=request.headers,
            )
        except httpx.RequestError as exc:
            raise TransportError(f"{request.method} {request.path}: {exc!r}") from exc
        return Reply(response.status_code, response.headers, response.content)

    def _run(self, steps: Steps) -> Iterator[JobEvent]:
        stream = _Stream(self._http, self._timeout)
        result: Any = None
        error: ClientError | None = None
        try:
            while True:
                try:
                    effect = steps.throw(error) if error is not None else steps.send(result)
                except StopIteration:
                    return
                result, error = None, None
                if isinstance(effect, Emit):
                    yield effect.event
                    continue
                try:
                    result = self._perform(effect, stream)
                except ClientError as exc:
                    error = exc
        finally:
            stream.close()
            steps.close()

    def _perform(self, effect: Effect, stream: _Stream) -> Any:
        match effect:
            case Fetch(call):
                return self._send(call)
            case Sleep(seconds):
                time.sleep(seconds)
            case OpenStream(request, read_timeout):
                stream.open(request, read_timeout)
            case ReadLine():
                return stream.readline()
            case CloseStream():
                stream.close()
        return None


class _Stream:
    """The one event stream ``_run`` may have open."""

    def __init__(self, http: httpx.Client, timeout: float) -> None:
        self._http = http
        self._timeout = timeout
        self._response: httpx.Response | None = None
        self._lines: Iterator[str] | None = None

    def open(self, request: Request, read_timeout: float) -> None:
        self.close()
        outgoing = self._http.build_request(
            request.method,
            request.path,
            headers=request.headers,
            timeout=httpx.Timeout(self._timeout, read=read_timeout),
        )
        try:
            response = self._http.send(outgoing, stream=True)
            if response.status_code != 200 or not _is_event_stream(response):
                response.read()
                response.close()
                reply = Reply(response.status_code, response.headers, response.content)
                raise protocol.stream_refused(reply)
        except httpx.RequestError as exc:
            raise TransportError(f"event stream: {exc!r}") from exc
        self._response = response
        self._lines = response.iter_lines()

    def readline(self) -> str | None:
        if self._lines is None:
            return None
        try:
            return next(self._lines, None)
        except (httpx.RequestError, httpx.StreamError) as exc:
            raise TransportError(f"event stream: {exc!r}") from exc

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response, self._lines = None, None


def _is_event_stream(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith("text/event-stream")
