"""Signed, expiring access tokens, and the session cookie's CSRF check."""

from __future__ import annotations

import hmac
import secrets
import time

import jwt

ALGORITHM = "HS256"
# Tokens already verified, until they expire: pollers send the same token every second.
_verified: dict[tuple[str, str], tuple[str, float]] = {}
_MAX_VERIFIED = 10_000
SESSION_COOKIE = "lf_session"
CSRF_COOKIE = "lf_csrf"
CSRF_HEADER = "X-CSRF-Token"


def issue_token(secret: str, user_id: str, ttl: float) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user_id, "iat": now, "exp": now + int(ttl)}, secret, ALGORITHM)


def read_token(secret: str, token: str) -> str | None:
    """The user id a valid, unexpired token names; None for anything else."""
    cached = _verified.get((secret, token))
    if cached is not None and cached[1] > time.time():
        return cached[0]
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    if not isinstance(subject, str):
        return None
    if len(_verified) >= _MAX_VERIFIED:
        _verified.clear()
    _verified[(secret, token)] = (subject, float(claims["exp"]))
    return subject


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(cookie: str | None, header: str | None) -> bool:
    """Double-submit check: a page on another site can send our cookie, never read it."""
    return bool(cookie) and bool(header) and hmac.compare_digest(cookie or "", header or "")
