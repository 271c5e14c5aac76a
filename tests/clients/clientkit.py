"""Shared by the client tests: one real ledgerflow server (uvicorn on a free port in a thread,
with two in-process worker threads running real jobs, on its own SQLite database), and a seeded
local SQLite database for the CLI's embedded mode.

alice owns acme, bob views acme, carol owns globex. ``jobtasks`` (tests/contract) registers the
``t.*`` tasks that tests enqueue straight into the server's database for exact control.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jobtasks  # noqa: F401  (registers t.count, t.sleep, t.refuse for the app's workers)
import pytest
from live import serve

from ledgerflow.api.app import create_app
from ledgerflow.books.chart import add_bank_account
from ledgerflow.jobs import Queue
from ledgerflow.server import session_for
from ledgerflow.settings import AppSettings
from ledgerflow.tenancy import add_member, create_user, new_company

PASSWORD = "secret-pw"
EMAILS = {"alice": "alice@acme.test", "bob": "bob@acme.test", "carol": "carol@globex.test"}
CHASE_CSV = Path(__file__).resolve().parents[1] / "data" / "banks" / "chase_checking.csv"


def make_settings(db_url: str, tmp: Path) -> AppSettings:
    return AppSettings(
        database_url=db_url,
        upload_dir=tmp / "uploads",
        ledgerflow_secret_key="test-secret-key-that-is-long-enough-for-hs256",
        poll_interval=0.05,
        heartbeat_interval=0.2,
        worker_timeout=2.0,
    )


def seed(db_url: str) -> str:
    """Users, companies and bank accounts; returns acme's bank account id."""
    with session_for(db_url) as session:
        for email in EMAILS.values():
            create_user(session, email, PASSWORD)
        new_company(session, "acme", "Acme Inc", EMAILS["alice"])
        add_member(session, "acme", EMAILS["bob"], "viewer")
        new_company(session, "globex", "Globex", EMAILS["carol"])
        bank = add_bank_account(session, "acme", "Checking", "bank", "USD")
        add_bank_account(session, "globex", "Checking", "bank", "USD")
        return bank.id


@dataclass(frozen=True)
class Live:
    url: str
    db_url: str
    settings: AppSettings
    queue: Queue
    tokens: dict[str, str]
    acme_bank: str

    def enqueue(self, task: str, company: str = "acme", **args: Any) -> str:
        """A job straight into the server's database, as the API would file it."""
        job = self.queue.enqueue(task, meta={"company_id": company}, **args)
        return job.id


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("live")
    db_url = f"sqlite:///{tmp / 'server.db'}"
    settings = make_settings(db_url, tmp)
    bank = seed(db_url)
    # Job handlers read their settings from the environment, like separate worker processes.
    with pytest.MonkeyPatch.context() as env, serve(create_app(settings, worker_threads=2)) as url:
        env.setenv("UPLOAD_DIR", str(settings.upload_dir))
        tokens = {
            who: httpx.post(
                f"{url}/api/auth/token", data={"username": email, "password": PASSWORD}
            ).json()["access_token"]
            for who, email in EMAILS.items()
        }
        with Queue(db_url, settings=settings) as queue:
            yield Live(url, db_url, settings, queue, tokens, bank)


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded SQLite file to copy (seeding hashes passwords: slow on purpose)."""
    path = tmp_path_factory.mktemp("seeded") / "seeded.db"
    seed(f"sqlite:///{path}")
    return path


@pytest.fixture
def local_db(seeded_sqlite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A seeded SQLite database for the CLI without --server; uploads go under tmp_path."""
    shutil.copyfile(seeded_sqlite, tmp_path / "local.db")
    db_url = f"sqlite:///{tmp_path / 'local.db'}"
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("POLL_INTERVAL", "0.05")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name in (
        "LEDGERFLOW_SERVER",
        "LEDGERFLOW_TOKEN",
        "LEDGERFLOW_EMAIL",
        "LEDGERFLOW_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    return db_url
