"""Job polls, answered before routing.

Every open page asks once a second how its job is doing. Routing, dependency solving and the
framework's middleware cost more than the answer itself, and under load that difference is
queueing delay for everyone. So this layer answers ``GET /api/jobs/{id}`` itself (``304`` when
the ETag still matches, else the job), but only when every check the route would make passes:
a valid token or session, a cached membership in the job's company. Anything else (an unknown
user, another company's job, a missing job) falls through to the route, which gives the real
answer; both build the answer with ``job_answer``, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..jobs import Job, JobNotFound
from .deps import Runtime, caller_id
from .schemas import JobOut

PREFIX = "/api/jobs/"


@dataclass(frozen=True)
class JobAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def job_answer(job: Job, if_none_match: str | None) -> JobAnswer:
    """``304`` if the caller's ETag names the job's current revision, else the job as JSON."""
    etag = f'"{job.id}.{job.revision}"'
    headers = {"etag": etag, "cache-control": "no-cache"}
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return JobAnswer(304, headers, b"")
    body = JobOut.of(job).model_dump_json().encode()
    headers.update({"content-type": "application/json", "content-length": str(len(body))})
    return JobAnswer(200, headers, body)


class JobPolls:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = self._answer(scope) if scope["type"] == "http" else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        headers = [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    def _answer(self, scope: Scope) -> JobAnswer | None:
        """The answer for a member's poll, or None to let the route answer."""
        path: str = scope["path"]
        job_id = path[len(PREFIX) :]
        if scope["method"] != "GET" or not path.startswith(PREFIX) or not job_id or "/" in job_id:
            return None
        request = Request(scope)
        runtime: Runtime = scope["app"].state.runtime
        user_id = caller_id(request, runtime)
        principal = runtime.cached_principal(user_id) if user_id else None
        if principal is None:
            return None
        try:
            # From memory while unchanged (PostgreSQL), else one read by primary key on the
            # event loop: cheaper than the hop to a thread.
            job = runtime.jobs.get(job_id)
        except JobNotFound:
            return None
        if job.company_id is None or principal.role_in(job.company_id) is None:
            return None
        return job_answer(job, request.headers.get("if-none-match"))
