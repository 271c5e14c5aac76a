"""An app per engine, with three users in two companies:

- alice: owner of acme;  bob: viewer of acme;  carol: owner of globex.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledgerflow.api.app import create_app
from ledgerflow.books.chart import add_bank_account
from ledgerflow.server import session_for
from ledgerflow.settings import AppSettings
from ledgerflow.tenancy import add_member, create_user, new_company


@dataclass
class World:
    client: TestClient
    settings: AppSettings
    tokens: dict[str, str]
    acme_bank: str

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def make_settings(db_url: str, tmp_path: Path, **overrides: object) -> AppSettings:
    values: dict[str, object] = {
        "database_url": db_url,
        "upload_dir": tmp_path / "uploads",
        "ledgerflow_secret_key": "test-secret-key-that-is-long-enough-for-hs256",
        "poll_interval": 0.05,
        "heartbeat_interval": 0.2,
        "worker_timeout": 2.0,
        **overrides,
    }
    return AppSettings(**values)  # type: ignore[arg-type]


def seed(db_url: str) -> str:
    with session_for(db_url) as session:
        for email in ("alice@acme.test", "bob@acme.test", "carol@globex.test"):
            create_user(session, email, "secret-pw")
        new_company(session, "acme", "Acme Inc", "alice@acme.test")
        add_member(session, "acme", "bob@acme.test", "viewer")
        new_company(session, "globex", "Globex", "carol@globex.test")
        bank = add_bank_account(session, "acme", "Checking", "bank", "USD")
        add_bank_account(session, "globex", "Checking", "bank", "USD")
        return bank.id


@contextmanager
def make_world(db_url: str, tmp_path: Path, worker_threads: int = 0) -> Iterator[World]:
    settings = make_settings(db_url, tmp_path)
    bank = seed(db_url)
    with TestClient(create_app(settings, worker_threads=worker_threads)) as client:
        tokens = {}
        for who, email in (
            ("alice", "alice@acme.test"),
            ("bob", "bob@acme.test"),
            ("carol", "carol@globex.test"),
        ):
            answer = client.post(
                "/api/auth/token", data={"username": email, "password": "secret-pw"}
            )
            assert answer.status_code == 200, answer.text
            tokens[who] = answer.json()["access_token"]
        yield World(client, settings, tokens, bank)


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    """The app without workers: jobs stay pending."""
    with make_world(db_url, tmp_path) as w:
        yield w


@pytest.fixture
def busy_world(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The app with two worker threads running the real job handlers (which, like workers
    anywhere, read their settings from the environment)."""
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path / "uploads"))
    with make_world(db_url, tmp_path, worker_threads=2) as w:
        yield w
