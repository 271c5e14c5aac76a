"""Request dependencies: the app's runtime, a database session, and who is asking."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ..books.db import session_scope
from ..jobs import Queue
from ..settings import AppSettings
from ..tenancy import WRITERS, Principal, load_principal
from .events import JobEventHub
from .jobcache import JobCache
from .ratelimit import RateLimiter
from .security import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, csrf_ok, read_token

PRINCIPAL_TTL = 5.0  # seconds a user's memberships are cached; role changes apply this fast
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Runtime:
    settings: AppSettings
    secret: str
    queue: Queue
    sessions: sessionmaker[Session]
    writers: sessionmaker[Session]
    jobs: JobCache
    hub: JobEventHub
    limiter: RateLimiter
    _principals: dict[str, tuple[float, Principal]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cached_principal(self, user_id: str) -> Principal | None:
        with self._lock:
            cached = self._principals.get(user_id)
        return cached[1] if cached is not None and cached[0] > time.monotonic() else None

    def principal(self, user_id: str) -> Principal | None:
        now = time.monotonic()
        cached = self.cached_principal(user_id)
        if cached is not None:
            return cached
        with session_scope(self.sessions) as session:
            principal = load_principal(session, user_id)
        if principal is not None:
            with self._lock:
                self._principals[user_id] = (now + PRINCIPAL_TTL, principal)
        return principal

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._principals.pop(user_id, None)


async def get_runtime(request: Request) -> Runtime:
    # Dependencies that do no I/O are coroutines: FastAPI would run a plain function in a
    # worker thread, a hop that costs more than the work.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(request: Request, runtime: RuntimeDep) -> Iterator[Session]:
    factory = runtime.sessions if request.method in SAFE_METHODS else runtime.writers
    with session_scope(factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED,
    "Not signed in, or the token is invalid or expired.",
    headers={"WWW-Authenticate": "Bearer"},
)


async def get_principal(request: Request, runtime: RuntimeDep) -> Principal:
    """A bearer token, or the web page's session cookie (with its CSRF header on writes)."""
    user_id = caller_id(request, runtime)
    principal = runtime.cached_principal(user_id) if user_id else None
    if principal is None and user_id:
        principal = await run_in_threadpool(runtime.principal, user_id)
    if principal is None:
        raise _UNAUTHORIZED
    return principal


def principal_of(request: Request, runtime: Runtime) -> Principal:
    """``get_principal`` for code that is not a dependency (and runs in a thread)."""
    user_id = caller_id(request, runtime)
    principal = runtime.principal(user_id) if user_id else None
    if principal is None:
        raise _UNAUTHORIZED
    return principal


def caller_id(request: Request, runtime: Runtime) -> str | None:
    """The user a request's bearer token or session cookie names (no database read)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        user_id = read_token(runtime.secret, token.strip())
    elif cookie := request.cookies.get(SESSION_COOKIE):
        user_id = read_token(runtime.secret, cookie)
        csrf_cookie = request.cookies.get(CSRF_COOKIE)
        if (
            user_id
            and request.method not in SAFE_METHODS
            and not csrf_ok(csrf_cookie, request.headers.get(CSRF_HEADER))
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Missing or wrong CSRF token.")
    else:
        user_id = None
    return user_id


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def not_found(what: str = "Not found.") -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, what)


def require_member(principal: Principal, company_id: str, what: str = "Company") -> str:
    """The caller's role in the company; 404 (as for a company that does not exist) if none."""
    role = principal.role_in(company_id)
    if role is None:
        raise not_found(f"{what} not found.")
    return role


def require_writer(principal: Principal, company_id: str, what: str = "Company") -> None:
    if require_member(principal, company_id, what) not in WRITERS:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Viewers can read but cannot start or change anything."
        )
