"""QuickBooks OAuth: consent URL and state, code exchange, encrypted storage, rotation."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fake_qbo import FakeClock, FakeQbo, config_for, consent
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from ledgerflow.books.chart import create_company
from ledgerflow.books.db import make_engine, make_sessionmaker, session_scope, upgrade
from ledgerflow.books.qbo import QboAuth, QboConfig, QboNotConnected, QboOAuthError
from ledgerflow.books.qbo.crypto import DecryptionError, TokenCipher

REALM = "9130350000000042"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeQbo]:
    server = FakeQbo(now=clock.now)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    sessions = make_sessionmaker(engine)
    with session_scope(sessions) as s:
        create_company(s, "acme", "Acme")
        create_company(s, "beta", "Beta")
    return sessions


@pytest.fixture
def auth(factory: sessionmaker[Session], fake: FakeQbo, clock: FakeClock) -> QboAuth:
    return QboAuth(factory, config_for(fake), "s3cret-key", now=clock.datetime)


def _raw(engine: Engine, company_id: str) -> tuple[str, str]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT access_token, refresh_token FROM lf_qbo_connections WHERE company_id = :c"
            ),
            {"c": company_id},
        ).one()
    return row[0], row[1]


def test_authorization_url_and_state(fake: FakeQbo, clock: FakeClock) -> None:
    auth = QboAuth(sessionmaker(), config_for(fake), "s3cret-key", now=clock.datetime)  # no DB
    url = auth.authorization_url("acme", "usr_7")
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    assert url.startswith(auth.config.authorize_url + "?")
    assert query["client_id"] == auth.config.client_id
    assert query["response_type"] == "code"
    assert query["scope"] == "com.intuit.quickbooks.accounting"
    assert query["redirect_uri"] == auth.config.redirect_uri
    state = auth.verify_state(query["state"])
    assert (state.company_id, state.user_id) == ("acme", "usr_7")
    # Forged, tampered, or stale states are refused.
    body, _, signature = query["state"].partition(".")
    for bad in ("", "garbage", f"{body}.{signature[:-2]}xx", f"{body}x.{signature}"):
        with pytest.raises(QboOAuthError):
            auth.verify_state(bad)
    clock.sleep(16 * 60)
    with pytest.raises(QboOAuthError, match="too long"):
        auth.verify_state(query["state"])


def test_connect_stores_tokens_encrypted(
    auth: QboAuth, fake: FakeQbo, engine: Engine, factory: sessionmaker[Session]
) -> None:
    info = consent(auth, "acme", REALM, user_id="usr_1")
    assert (info.company_id, info.realm_id, info.connected_by) == ("acme", REALM, "usr_1")
    assert not info.needs_reconnect
    creds = auth.access_token("acme")
    assert creds.realm_id == REALM and creds.access_token.startswith("access-")
    (refresh,) = fake.refresh_tokens()
    raw_access, raw_refresh = _raw(engine, "acme")
    # At rest: neither token, nor any recognizable part of it, is in the columns.
    for raw, token in ((raw_access, creds.access_token), (raw_refresh, refresh)):
        assert raw.startswith("v1.") and token not in raw and token.split("-")[-1] not in raw
    # The ciphertext is bound to its company and column, and to the key.
    cipher = TokenCipher("s3cret-key")
    assert cipher.decrypt(raw_refresh, context="acme/refresh_token") == refresh
    with pytest.raises(DecryptionError):
        cipher.decrypt(raw_refresh, context="beta/refresh_token")
    with pytest.raises(DecryptionError):
        cipher.decrypt(raw_refresh, context="acme/access_token")
    with pytest.raises(DecryptionError):
        TokenCipher("another-key").decrypt(raw_refresh, context="acme/refresh_token")
    other = QboAuth(factory, auth.config, "another-key")
    with pytest.raises(QboNotConnected, match="LEDGERFLOW_SECRET_KEY"):
        other.access_token("acme")


def test_code_is_single_use_and_state_is_checked(auth: QboAuth, fake: FakeQbo) -> None:
    state = parse_qs(urlsplit(auth.authorization_url("acme")).query)["state"][0]
    code = fake.issue_code(REALM, auth.config.redirect_uri)
    auth.complete_connection(state=state, code=code, realm_id=REALM)
    with pytest.raises(QboOAuthError, match="invalid_grant"):
        auth.complete_connection(state=state, code=code, realm_id=REALM)
    with pytest.raises(QboOAuthError):
        auth.complete_connection(state="forged.state", code="x", realm_id=REALM)


def test_refresh_rotates_and_stores_the_new_refresh_token(
    auth: QboAuth, fake: FakeQbo, engine: Engine, clock: FakeClock
) -> None:
    consent(auth, "acme", REALM)
    first = auth.access_token("acme").access_token
    (refresh_1,) = fake.refresh_tokens()
    raw_before = _raw(engine, "acme")
    clock.sleep(3600 - 4 * 60)  # within the 5-minute margin: access_token refreshes first
    second = auth.access_token("acme").access_token
    assert second != first and fake.refreshes == 1
    (refresh_2,) = fake.refresh_tokens()
    assert refresh_2 != refresh_1  # the old refresh token is dead at Intuit...
    raw_after = _raw(engine, "acme")
    assert raw_after[0] != raw_before[0] and raw_after[1] != raw_before[1]  # ...and replaced
    assert TokenCipher("s3cret-key").decrypt(raw_after[1], context="acme/refresh_token") == (
        refresh_2
    )
    # A forced refresh (after a 401) rotates again; a token newer than the stale one is reused.
    third = auth.refresh("acme", stale=second).access_token
    assert third != second and fake.refreshes == 2
    assert auth.refresh("acme", stale=second).access_token == third
    assert fake.refreshes == 2
    info = auth.connection("acme")
    assert info is not None
    assert info.access_expires_at == clock.datetime() + dt.timedelta(seconds=3600)


def test_concurrent_refreshes_use_the_refresh_token_once(auth: QboAuth, fake: FakeQbo) -> None:
    consent(auth, "acme", REALM)
    stale = auth.access_token("acme").access_token
    results: list[str] = []
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            results.append(auth.refresh("acme", stale=stale).access_token)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert fake.refreshes == 1 and len(set(results)) == 1 and results[0] != stale


def test_revoked_or_expired_refresh_token_means_reconnect(
    auth: QboAuth, fake: FakeQbo, clock: FakeClock, factory: sessionmaker[Session]
) -> None:
    with pytest.raises(QboNotConnected, match="not connected"):
        auth.access_token("acme")
    consent(auth, "acme", REALM)
    consent(auth, "beta", "9130350000000099")
    with fake.lock:
        fake._refresh.clear()  # Intuit forgot them (revoked in the QuickBooks UI)
    stale = auth.access_token("acme").access_token
    with pytest.raises(QboNotConnected, match="reconnect"):
        auth.refresh("acme", stale=stale)
    clock.sleep(101 * 86400)
    with pytest.raises(QboNotConnected, match="100 days"):
        auth.access_token("beta")
    info = auth.connection("beta")
    assert info is not None and info.needs_reconnect


def test_disconnect_revokes_and_forgets(auth: QboAuth, fake: FakeQbo) -> None:
    consent(auth, "acme", REALM)
    (refresh,) = fake.refresh_tokens()
    assert auth.disconnect("acme") is True
    assert fake.revoked == [refresh]
    assert auth.connection("acme") is None and auth.disconnect("acme") is False


def test_config_from_env() -> None:
    with pytest.raises(QboNotConnected, match="QBO_CLIENT_ID"):
        QboConfig.from_env({})
    env = {"QBO_CLIENT_ID": "id", "QBO_CLIENT_SECRET": "s", "QBO_REDIRECT_URI": "https://x/cb"}
    assert QboConfig.from_env(env).api_base == "https://sandbox-quickbooks.api.intuit.com"
    prod = QboConfig.from_env({**env, "QBO_ENVIRONMENT": "production"})
    assert prod.api_base == "https://quickbooks.api.intuit.com"
    local = QboConfig.from_env({**env, "QBO_API_BASE": "http://127.0.0.1:9"})
    assert local.api_base == "http://127.0.0.1:9" and "client_secret" not in repr(local)
    with pytest.raises(ValueError):
        QboConfig.from_env({**env, "QBO_ENVIRONMENT": "staging"})
    with pytest.raises(ValueError):
        QboConfig(client_id="a", client_secret="b", redirect_uri="c", batch_size=31)
