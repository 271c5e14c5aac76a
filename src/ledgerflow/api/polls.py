"""Job polls whose ETag still matches, answered before routing.

Every poller asks once a second whether its job changed, and nearly always it has not. Routing,
dependency solving and the framework's middleware cost several times more than that answer,
and under load the difference is queueing delay for everyone. So this layer answers a poll with
``304 Not Modified`` itself, but only when every check the route would make passes: a valid
token or session, a cached membership in the job's company, the same revision. Anything else
(no ETag, a changed job, an unknown user, another company's job) falls through to the route,
which gives the real answer, so the two can never disagree about who sees what.
"""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..jobs import Job, JobNotFound
from .deps import Runtime, caller_id

PREFIX = "/api/jobs/"


def job_etag(job: Job) -> str:
    return f'"{job.id}.{job.revision}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    return if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}


def not_modified_headers(etag: str) -> list[tuple[bytes, bytes]]:
    return [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]


class UnchangedJobPolls:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        etag = self._unchanged(scope) if scope["type"] == "http" else None
        if etag is None:
            await self.app(scope, receive, send)
            return
        await send(
            {"type": "http.response.start", "status": 304, "headers": not_modified_headers(etag)}
        )
        await send({"type": "http.response.body", "body": b""})

    def _unchanged(self, scope: Scope) -> str | None:
        """The ETag to answer 304 with, or None to let the route answer."""
        path: str = scope["path"]
        job_id = path[len(PREFIX) :]
        if scope["method"] != "GET" or not path.startswith(PREFIX) or not job_id or "/" in job_id:
            return None
        request = Request(scope)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is None:
            return None
        runtime: Runtime = scope["app"].state.runtime
        user_id = caller_id(request, runtime)
        principal = runtime.cached_principal(user_id) if user_id else None
        if principal is None:
            return None
        try:
            # One read by primary key on the event loop: cheaper than the hop to a thread.
            job = runtime.queue.get(job_id)
        except JobNotFound:
            return None
        if job.company_id is None or principal.role_in(job.company_id) is None:
            return None
        etag = job_etag(job)
        return etag if etag_matches(if_none_match, etag) else None
