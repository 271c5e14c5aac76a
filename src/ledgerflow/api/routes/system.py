"""Sign-in (bearer tokens and the web page's session cookie), health and metrics."""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from ...tenancy import authenticate
from ..deps import PrincipalDep, RuntimeDep, SessionDep, principal_of
from ..schemas import TokenOut
from ..security import CSRF_COOKIE, SESSION_COOKIE, issue_token, new_csrf_token

router = APIRouter(tags=["system"])
Username = Annotated[str, Form(min_length=1, max_length=320, examples=["demo@example.com"])]
Password = Annotated[str, Form(min_length=1, max_length=1000, examples=["demo"])]
_BAD_LOGIN = HTTPException(401, "Wrong email or password.", {"WWW-Authenticate": "Bearer"})


class Me(BaseModel):
    user_id: str
    email: str
    is_admin: bool
    roles: dict[str, str]


class SessionOut(BaseModel):
    user_id: str
    csrf_token: str


@router.post("/api/auth/token", response_model=TokenOut, responses={401: {}})
def token(
    username: Username, password: Password, runtime: RuntimeDep, session: SessionDep
) -> TokenOut:
    """OAuth2 password flow: trade an email and password for a bearer token."""
    user = authenticate(session, username, password)
    if user is None:
        raise _BAD_LOGIN
    ttl = runtime.settings.token_ttl
    return TokenOut(access_token=issue_token(runtime.secret, user.id, ttl))


@router.post("/api/auth/session", response_model=SessionOut, responses={401: {}})
def sign_in(
    username: Username,
    password: Password,
    response: Response,
    runtime: RuntimeDep,
    session: SessionDep,
) -> SessionOut:
    """The web page's sign-in: an HttpOnly session cookie plus a CSRF token for writes."""
    user = authenticate(session, username, password)
    if user is None:
        raise _BAD_LOGIN
    ttl = int(runtime.settings.token_ttl)
    csrf = new_csrf_token()
    secure = runtime.settings.cookie_secure
    response.set_cookie(
        SESSION_COOKIE,
        issue_token(runtime.secret, user.id, ttl),
        max_age=ttl,
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=ttl, samesite="strict", secure=secure)
    return SessionOut(user_id=user.id, csrf_token=csrf)


@router.post("/api/auth/logout", status_code=204)
def sign_out(principal: PrincipalDep, response: Response) -> Response:
    """End the web session (a bearer token simply expires)."""
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    response.status_code = 204
    return response


@router.get("/api/me", response_model=Me)
def me(principal: PrincipalDep) -> Me:
    """Who the token belongs to, and their role in each company."""
    return Me(
        user_id=principal.user_id,
        email=principal.email,
        is_admin=principal.is_admin,
        roles=principal.roles,
    )


@router.get("/healthz", response_class=PlainTextResponse)
def healthz(runtime: RuntimeDep) -> str:
    """Liveness and database reachability (no secrets, no data)."""
    runtime.queue.backend.stats(time.time())
    return "ok"


@router.get("/metrics", response_class=PlainTextResponse, responses={401: {}, 404: {}})
def metrics(request: Request, runtime: RuntimeDep) -> str:
    """Prometheus text format: jobs by type and status, queue depth, run times (last hour).

    Scrapers send ``Authorization: Bearer $METRICS_TOKEN``; signed-in instance admins may read
    it too. Anyone else gets 404.
    """
    expected = runtime.settings.metrics_token
    header = request.headers.get("authorization", "")
    if not (expected and hmac.compare_digest(header, f"Bearer {expected}")):
        try:
            principal = principal_of(request, runtime)
        except HTTPException:
            raise HTTPException(404, "Not found.") from None
        if not principal.is_admin:
            raise HTTPException(404, "Not found.")
    return render_metrics(runtime)


def render_metrics(runtime: RuntimeDep) -> str:
    stats = runtime.queue.backend.stats(time.time() - 3600)
    lines = [
        "# HELP ledgerflow_jobs Jobs in the store by type and status.",
        "# TYPE ledgerflow_jobs gauge",
    ]
    depth = 0
    for (task, status), count in sorted(stats.counts.items()):
        lines.append(f'ledgerflow_jobs{{type="{task}",status="{status}"}} {count}')
        depth += count if status == "pending" else 0
    lines += [
        "# HELP ledgerflow_queue_depth Jobs waiting to run.",
        "# TYPE ledgerflow_queue_depth gauge",
        f"ledgerflow_queue_depth {depth}",
        "# HELP ledgerflow_job_run_seconds Run time of jobs completed in the last hour.",
        "# TYPE ledgerflow_job_run_seconds histogram",
    ]
    for task, runs in sorted(stats.run_times.items()):
        for bound, count in zip(stats.bucket_bounds, runs.buckets, strict=True):
            lines.append(
                f'ledgerflow_job_run_seconds_bucket{{type="{task}",le="{bound:g}"}} {count}'
            )
        lines.append(f'ledgerflow_job_run_seconds_bucket{{type="{task}",le="+Inf"}} {runs.count}')
        lines.append(f'ledgerflow_job_run_seconds_sum{{type="{task}"}} {runs.total_seconds:.6f}')
        lines.append(f'ledgerflow_job_run_seconds_count{{type="{task}"}} {runs.count}')
    return "\n".join(lines) + "\n"
