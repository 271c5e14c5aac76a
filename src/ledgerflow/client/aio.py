"""``AsyncClient``: the asyncio transport over ``protocol`` (httpx); same methods as ``Client``."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from collections.abc import AsyncIterator, Callable, Sequence
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


class AsyncClient:
    """``Client`` for asyncio: the same methods, awaited; ``events`` is an async iterator."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        backoff: Backoff | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.backoff = backoff or Backoff()
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=protocol.auth_headers(token),
            timeout=timeout,
            transport=transport,
        )

    @classmethod
    async def login(cls, base_url: str, email: str, password: str, **options: Any) -> AsyncClient:
        """A client signed in with an email and password (``POST /api/auth/token``)."""
        client = cls(base_url, **options)
        try:
            client.set_token(await client._send(protocol.login(email, password)))
        except BaseException:
            await client.close()
            raise
        return client

    def set_token(self, token: str) -> None:
        self._http.headers.update(protocol.auth_headers(token))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- starting jobs ------------------------------------------------------------------------
    async def categorize(
        self, company_id: str, *, limit: int | None = None, idempotency_key: str | None = None
    ) -> JobAccepted:
        return await self._send(protocol.categorize(company_id, limit, idempotency_key))

    async def upload_and_categorize(
        self,
        company_id: str,
        file: FileSource,
        *,
        file_name: str | None = None,
        bank_account_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobAccepted:
        with protocol.open_upload(file, file_name) as upload:
            call = protocol.upload_and_categorize(
                company_id, upload, bank_account_id, idempotency_key
            )
            return await self._send(call)

    async def ocr(
        self,
        company_id: str,
        file: FileSource,
        *,
        file_name: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobAccepted:
        with protocol.open_upload(file, file_name) as upload:
            return await self._send(protocol.ocr(company_id, upload, idempotency_key))

    async def bulk_approve(
        self,
        company_id: str,
        *,
        transaction_ids: Sequence[str] | None = None,
        min_confidence: float | None = None,
        idempotency_key: str | None = None,
    ) -> JobAccepted:
        call = protocol.bulk_approve(company_id, transaction_ids, min_confidence, idempotency_key)
        return await self._send(call)

    async def export_qbo(
        self,
        company_id: str,
        *,
        since: dt.date | str | None = None,
        format: str | None = None,
        idempotency_key: str | None = None,
    ) -> JobAccepted:
        return await self._send(protocol.export_qbo(company_id, since, format, idempotency_key))

    # --- reading and changing jobs ------------------------------------------------------------
    async def get_job(self, job_id: str) -> Job:
        return await self._send(protocol.get_job(job_id))

    async def list_jobs(
        self,
        company_id: str,
        *,
        status: str | None = None,
        type: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JobPage:
        return await self._send(protocol.list_jobs(company_id, status, type, limit, cursor))

    async def cancel(self, job_id: str) -> Job:
        return await self._send(protocol.cancel(job_id))

    async def retry(self, job_id: str) -> JobAccepted:
        return await self._send(protocol.retry(job_id))

    async def download_file(self, job_id: str) -> Download:
        return await self._send(protocol.download_file(job_id))

    # --- following jobs -----------------------------------------------------------------------
    def events(
        self, job_id: str, *, timeout: float | None = None, sse: bool = True
    ) -> AsyncIterator[JobEvent]:
        """Each change of the job, the final one last (see ``following.follow``)."""
        steps = following.follow(job_id, timeout=timeout, sse=sse, backoff=self.backoff)
        return self._run(steps)

    async def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[Job], object] | None = None,
        *,
        sse: bool = True,
    ) -> Job:
        """Until the job is complete, failed or cancelled; ``on_progress`` may be async."""
        job: Job | None = None
        async for event in self.events(job_id, timeout=timeout, sse=sse):
            job = event.job
            if on_progress is not None:
                outcome = on_progress(job)
                if inspect.isawaitable(outcome):
                    await outcome
        return following.final(job_id, job)

    # --- transport ----------------------------------------------------------------------------
    async def _send(self, call: Call[T]) -> T:
        return call.parse(await self._exchange(call.request))

    async def _exchange(self, request: Request) -> Reply:
        try:
            response = await self._http.request(
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

    async def _run(self, steps: Steps) -> AsyncIterator[JobEvent]:
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
                    result = await self._perform(effect, stream)
                except ClientError as exc:
                    error = exc
        finally:
            await stream.close()
            steps.close()

    async def _perform(self, effect: Effect, stream: _Stream) -> Any:
        match effect:
            case Fetch(call):
                return await self._send(call)
            case Sleep(seconds):
                await asyncio.sleep(seconds)
            case OpenStream(request, read_timeout):
                await stream.open(request, read_timeout)
            case ReadLine(timeout):
                return await stream.readline(timeout)
            case CloseStream():
                await stream.close()
        return None


class _Stream:
    """The one event stream ``_run`` may have open."""

    def __init__(self, http: httpx.AsyncClient, timeout: float) -> None:
        self._http = http
        self._timeout = timeout
        self._response: httpx.Response | None = None
        self._lines: AsyncIterator[str] | None = None

    async def open(self, request: Request, read_timeout: float) -> None:
        await self.close()
        outgoing = self._http.build_request(
            request.method,
            request.path,
            headers=request.headers,
            timeout=httpx.Timeout(self._timeout, read=read_timeout),
        )
        try:
            response = await self._http.send(outgoing, stream=True)
            if response.status_code != 200 or not _is_event_stream(response):
                await response.aread()
                await response.aclose()
                reply = Reply(response.status_code, response.headers, response.content)
                raise protocol.stream_refused(reply)
        except httpx.RequestError as exc:
            raise TransportError(f"event stream: {exc!r}") from exc
        self._response = response
        self._lines = response.aiter_lines()

    async def readline(self, timeout: float | None) -> str | None:
        if self._lines is None:
            return None
        try:
            async with asyncio.timeout(timeout):
                return await anext(self._lines, None)
        except TimeoutError as exc:
            raise TransportError("event stream: read timed out") from exc
        except (httpx.RequestError, httpx.StreamError) as exc:
            raise TransportError(f"event stream: {exc!r}") from exc

    async def close(self) -> None:
        if self._response is not None:
            await self._response.aclose()
        self._response, self._lines = None, None


def _is_event_stream(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith("text/event-stream")
