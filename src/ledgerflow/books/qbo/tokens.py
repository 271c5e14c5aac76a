"""OAuth 2 for QuickBooks Online: connect a company, keep its tokens fresh and encrypted.

The flow (authorization code, Intuit's only one for QuickBooks):

1. ``QboAuth.authorization_url(company_id, user_id)`` → send the browser there. Its ``state``
   is signed with the app's secret and names the company and the user; it expires after
   ``STATE_TTL``.
2. Intuit redirects to the redirect URI with ``code``, ``state`` and ``realmId``;
   ``QboAuth.complete_connection(state=..., code=..., realm_id=...)`` checks the state,
   exchanges the code and stores the connection (tokens encrypted, see ``crypto``).
3. ``access_token(company_id)`` returns a token valid for at least ``REFRESH_MARGIN``,
   refreshing it first if needed; ``refresh(company_id, stale=...)`` forces it (after a 401).

Refresh tokens rotate: Intuit may return a new one on every refresh, and only the latest is
sure to work, so it is stored in the same transaction as the new access token. Refreshes of one
company are serialized (a thread lock, and a row lock taken by a first write, on both engines),
and a caller that lost the race gets the token the winner stored instead of refreshing again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from ..db import session_scope
from ..models import QboConnection, utcnow
from .crypto import DecryptionError, TokenCipher, b64decode, b64encode
from .errors import QboNotConnected, QboOAuthError, QboUnavailable

SCOPE = "com.intuit.quickbooks.accounting"
API_BASES = {
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
    "production": "https://quickbooks.api.intuit.com",
}
AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
STATE_TTL = dt.timedelta(minutes=15)
REFRESH_MARGIN = dt.timedelta(minutes=5)
ACCESS_TTL = 3600  # what Intuit documents; used when a response leaves it out
REFRESH_TTL = 100 * 86400


@dataclass(frozen=True)
class QboConfig:
    """Where and as whom to talk to Intuit. ``from_env`` reads the ``QBO_*`` variables."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    api_base: str = API_BASES["sandbox"]
    authorize_url: str = AUTHORIZE_URL
    token_url: str = TOKEN_URL
    revoke_url: str = REVOKE_URL
    minor_version: int = 75
    batch_size: int = 30
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 30:
            raise ValueError("batch_size must be between 1 and 30 (QuickBooks' batch limit)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> QboConfig:
        """``QBO_CLIENT_ID``, ``QBO_CLIENT_SECRET``, ``QBO_REDIRECT_URI`` (required);
        ``QBO_ENVIRONMENT`` (sandbox | production, default sandbox); overrides
        ``QBO_API_BASE``, ``QBO_AUTHORIZE_URL``, ``QBO_TOKEN_URL``, ``QBO_REVOKE_URL``,
        ``QBO_MINOR_VERSION``, ``QBO_BATCH_SIZE``."""
        env = os.environ if env is None else env
        missing = [
            name
            for name in ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REDIRECT_URI")
            if not env.get(name)
        ]
        if missing:
            raise QboNotConnected(
                f"QuickBooks is not configured on this server: set {', '.join(missing)}"
            )
        environment = env.get("QBO_ENVIRONMENT", "sandbox")
        if environment not in API_BASES:
            raise ValueError(f"QBO_ENVIRONMENT must be sandbox or production, not {environment!r}")
        return cls(
            client_id=env["QBO_CLIENT_ID"],
            client_secret=env["QBO_CLIENT_SECRET"],
            redirect_uri=env["QBO_REDIRECT_URI"],
            api_base=env.get("QBO_API_BASE") or API_BASES[environment],
            authorize_url=env.get("QBO_AUTHORIZE_URL") or AUTHORIZE_URL,
            token_url=env.get("QBO_TOKEN_URL") or TOKEN_URL,
            revoke_url=env.get("QBO_REVOKE_URL") or REVOKE_URL,
            minor_version=int(env.get("QBO_MINOR_VERSION") or 75),
            batch_size=int(env.get("QBO_BATCH_SIZE") or 30),
        )


@dataclass(frozen=True)
class Credentials:
    realm_id: str
    access_token: str = field(repr=False)


@dataclass(frozen=True)
class ConnectState:
    company_id: str
    user_id: str | None


@dataclass(frozen=True)
class ConnectionInfo:
    """A connection as the API may show it: never the tokens."""

    company_id: str
    realm_id: str
    connected_by: str | None
    connected_at: dt.datetime
    updated_at: dt.datetime
    access_expires_at: dt.datetime
    refresh_expires_at: dt.datetime
    needs_reconnect: bool


def _info(row: QboConnection, now: dt.datetime) -> ConnectionInfo:
    return ConnectionInfo(
        company_id=row.company_id,
        realm_id=row.realm_id,
        connected_by=row.connected_by,
        connected_at=row.created_at,
        updated_at=row.updated_at,
        access_expires_at=row.access_expires_at,
        refresh_expires_at=row.refresh_expires_at,
        needs_reconnect=row.refresh_expires_at <= now,
    )


class QboAuth:
    """Connections and tokens of every company, stored through ``session_factory``."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        config: QboConfig,
        secret_key: str,
        *,
        http: httpx.Client | None = None,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.config = config
        self._sessions = session_factory
        self._cipher = TokenCipher(secret_key)
        self._http = http or httpx.Client(timeout=config.timeout)
        self._now = now
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    # --- connecting ---------------------------------------------------------------------
    def authorization_url(self, company_id: str, user_id: str | None = None) -> str:
        """The Intuit consent page URL for ``company_id``; its state expires in 15 minutes."""
        expires = int((self._now() + STATE_TTL).timestamp())
        body = json.dumps(
            {"c": company_id, "u": user_id, "e": expires, "n": secrets.token_urlsafe(12)},
            separators=(",", ":"),
        ).encode()
        state = f"{b64encode(body)}.{self._cipher.sign(body)}"
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "response_type": "code",
                "scope": SCOPE,
                "redirect_uri": self.config.redirect_uri,
                "state": state,
            }
        )
        return f"{self.config.authorize_url}?{query}"

    def verify_state(self, state: str) -> ConnectState:
        """The company and user a state was issued for; ``QboOAuthError`` if forged or stale."""
        encoded, _, signature = state.partition(".")
        try:
            body = b64decode(encoded)
            ok = bool(signature) and self._cipher.verify(body, signature)
            data = json.loads(body) if ok else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            raise QboOAuthError("invalid OAuth state")
        if int(data.get("e", 0)) < self._now().timestamp():
            raise QboOAuthError("the QuickBooks authorization took too long; start again")
        user = data.get("u")
        return ConnectState(company_id=data["c"], user_id=user if isinstance(user, str) else None)

    def complete_connection(self, *, state: str, code: str, realm_id: str) -> ConnectionInfo:
        """Handle Intuit's redirect: check ``state``, exchange ``code``, store the tokens."""
        target = self.verify_state(state)
        if not code or not realm_id:
            raise QboOAuthError("the QuickBooks redirect has no code or realmId")
        tokens = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.config.redirect_uri,
            },
            refused=QboOAuthError,
        )
        now = self._now()
        with session_scope(self._sessions) as s:
            row = s.get(QboConnection, target.company_id)
            if row is None:
                row = QboConnection(company_id=target.company_id, created_at=now)
                s.add(row)
            row.realm_id = realm_id
            row.connected_by = target.user_id
            self._store(row, tokens, now)
            s.flush()
            return _info(row, now)

    def connection(self, company_id: str) -> ConnectionInfo | None:
        with session_scope(self._sessions) as s:
            row = s.get(QboConnection, company_id)
            return None if row is None else _info(row, self._now())

    def disconnect(self, company_id: str) -> bool:
        """Revoke the refresh token at Intuit (best effort) and forget the connection."""
        with session_scope(self._sessions) as s:
            row = s.get(QboConnection, company_id)
            if row is None:
                return False
            try:
                token: str | None = self._decrypt(row, "refresh_token")
            except QboNotConnected:
                token = None
            s.execute(delete(QboConnection).where(QboConnection.company_id == company_id))
        if token is not None:
            # Best effort: the connection is gone on our side, and Intuit expires tokens anyway.
            with contextlib.suppress(httpx.HTTPError):
                self._http.post(
                    self.config.revoke_url,
                    json={"token": token},
                    auth=(self.config.client_id, self.config.client_secret),
                    headers={"Accept": "application/json"},
                )
        return True

    # --- tokens for the API client -------------------------------------------------------
    def access_token(self, company_id: str) -> Credentials:
        with session_scope(self._sessions) as s:
            row = s.get(QboConnection, company_id)
            if row is None:
                raise QboNotConnected("QuickBooks is not connected for this company")
            if row.access_expires_at - REFRESH_MARGIN > self._now():
                return Credentials(row.realm_id, self._decrypt(row, "access_token"))
        return self.refresh(company_id)

    def refresh(self, company_id: str, stale: str | None = None) -> Credentials:
        """A fresh access token. With ``stale`` (the token QuickBooks just refused), a token
        another caller stored meanwhile is returned as is; otherwise Intuit is asked."""
        with self._lock_for(company_id), session_scope(self._sessions) as s:
            # A write first: it takes the row lock on PostgreSQL and the write lock on SQLite
            # before anything is read, so two refreshers cannot both use one refresh token.
            touched = s.execute(
                update(QboConnection)
                .where(QboConnection.company_id == company_id)
                .values(updated_at=QboConnection.updated_at)
            )
            row = s.get(QboConnection, company_id, populate_existing=True)
            if getattr(touched, "rowcount", 1) == 0 or row is None:
                raise QboNotConnected("QuickBooks is not connected for this company")
            now = self._now()
            current = self._decrypt(row, "access_token")
            fresh = row.access_expires_at - REFRESH_MARGIN > now
            if fresh and (stale is None or current != stale):
                return Credentials(row.realm_id, current)  # someone else refreshed meanwhile
            if row.refresh_expires_at <= now:
                raise QboNotConnected(
                    "the QuickBooks authorization has expired (100 days unused); reconnect"
                )
            tokens = self._token_request(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": self._decrypt(row, "refresh_token"),
                },
                refused=QboNotConnected,
            )
            self._store(row, tokens, now)
            return Credentials(row.realm_id, str(tokens["access_token"]))

    # --- internals ------------------------------------------------------------------------
    def _lock_for(self, company_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(company_id, threading.Lock())

    def _decrypt(self, row: QboConnection, column: str) -> str:
        try:
            return self._cipher.decrypt(getattr(row, column), context=f"{row.company_id}/{column}")
        except DecryptionError as exc:
            raise QboNotConnected(
                "the stored QuickBooks tokens cannot be decrypted (was LEDGERFLOW_SECRET_KEY "
                "changed?); reconnect QuickBooks"
            ) from exc

    def _store(self, row: QboConnection, tokens: Mapping[str, Any], now: dt.datetime) -> None:
        access_ttl = int(tokens.get("expires_in") or ACCESS_TTL)
        refresh_ttl = int(tokens.get("x_refresh_token_expires_in") or REFRESH_TTL)
        row.access_token = self._cipher.encrypt(
            str(tokens["access_token"]), context=f"{row.company_id}/access_token"
        )
        row.refresh_token = self._cipher.encrypt(
            str(tokens["refresh_token"]), context=f"{row.company_id}/refresh_token"
        )
        row.access_expires_at = now + dt.timedelta(seconds=access_ttl)
        row.refresh_expires_at = now + dt.timedelta(seconds=refresh_ttl)
        row.updated_at = now

    def _token_request(
        self, form: dict[str, str], *, refused: type[Exception]
    ) -> Mapping[str, Any]:
        try:
            response = self._http.post(
                self.config.token_url,
                data=form,
                auth=(self.config.client_id, self.config.client_secret),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise QboUnavailable(f"Intuit's token endpoint could not be reached: {exc}") from exc
        if response.status_code >= 500:
            raise QboUnavailable(f"Intuit's token endpoint answered {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code != 200 or not isinstance(data, dict):
            error = data.get("error", response.status_code) if isinstance(data, dict) else ""
            if refused is QboNotConnected:
                raise QboNotConnected(
                    f"QuickBooks refused to refresh the authorization ({error}); reconnect"
                )
            raise refused(f"QuickBooks refused the authorization code ({error})")
        if not data.get("access_token") or not data.get("refresh_token"):
            raise refused("Intuit's token response has no access or refresh token")
        return data
