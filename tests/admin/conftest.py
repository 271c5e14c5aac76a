"""The API world of tests/api (alice owns acme, bob views it, carol owns globex) plus an
instance admin, ``root@ops.test``; and helpers that write job and worker rows as they are."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledgerflow.jobs import Queue
from ledgerflow.jobs import admin as admin_module
from ledgerflow.jobs.backends.statements import COLUMNS
from ledgerflow.jobs.ids import _encode
from ledgerflow.server import session_for
from ledgerflow.tenancy import create_user


def _load(name: str, path: Path) -> Any:
    """A conftest module of another folder, under a name of its own."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


TESTS = Path(__file__).resolve().parents[1]
api_world = _load("api_world", TESTS / "api" / "conftest.py")
root_conftest = _load("root_conftest", TESTS / "conftest.py")

ADMIN_EMAIL = "root@ops.test"
PASSWORD = "secret-pw"
_serial = iter(range(1, 10**9))


@dataclass
class AdminWorld:
    world: Any  # api_world.World
    queue: Queue

    @property
    def client(self) -> Any:
        return self.world.client

    def auth(self, who: str = "root") -> dict[str, str]:
        return self.world.auth(who)  # type: ignore[no-any-return]


def job_id(created: float) -> str:
    """A runtime-shaped id (``job_`` + ULID) carrying ``created``."""
    return "job_" + _encode(int(created * 1000), 5) + _encode(next(_serial), 8)


def job_row(**fields: Any) -> dict[str, Any]:
    """A complete lf_jobs row: a job that completed a second after it was created, by default."""
    now = time.time()
    created = fields.pop("created_at", now - 60)
    status = fields.get("status", "complete")
    final = status in ("complete", "failed", "cancelled")
    row: dict[str, Any] = {
        "id": job_id(created),
        "task": "t.work",
        "queue": "default",
        "status": status,
        "args": "{}",
        "meta": "{}",
        "company_id": "acme",
        "progress": 100 if status == "complete" else 0,
        "message": None,
        "result": None,
        "error": None,
        "traceback": None,
        "attempts": 0 if status == "pending" else 1,
        "max_attempts": 3,
        "priority": 0,
        "timeout": 600.0,
        "run_at": created,
        "created_at": created,
        "started_at": None if status == "pending" else created + 0.5,
        "finished_at": created + 1.5 if final else None,
        "lease_expires_at": now + 30 if status == "running" else None,
        "worker_id": "wrk_a" if status == "running" else None,
        "idempotency_key": None,
        "concurrency_key": None,
        "concurrency_limit": None,
        "cancel_requested": False,
        "revision": 1,
    }
    row.update(fields)
    return row


def insert_jobs(queue: Queue, *rows: dict[str, Any]) -> list[str]:
    statement = (
        f"INSERT INTO lf_jobs ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})"
    )
    backend: Any = queue.backend
    backend.run(lambda c: backend.executemany(c, statement, list(rows)))
    return [r["id"] for r in rows]


def insert_worker(queue: Queue, worker_id: str, heartbeat_at: float, **fields: Any) -> None:
    row = {
        "id": worker_id,
        "host": "host-1",
        "pid": 4242,
        "queues": "default",
        "concurrency": 4,
        "started_at": heartbeat_at - 600,
        "heartbeat_at": heartbeat_at,
        "stopped_at": None,
        **fields,
    }
    statement = (
        "INSERT INTO lf_workers (id, host, pid, queues, concurrency, started_at, heartbeat_at,"
        " stopped_at) VALUES (:id, :host, :pid, :queues, :concurrency, :started_at,"
        " :heartbeat_at, :stopped_at)"
    )
    backend: Any = queue.backend
    backend.run(lambda c: backend.execute(c, statement, row))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per engine for a whole test module (the world is slow to build)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('admin-db') / 'test.db'}"
        return
    database_url: str = request.getfixturevalue("pg_database")
    schema, url = root_conftest.new_pg_schema(database_url)
    try:
        yield url
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def shared_world(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminWorld]:
    with session_for(module_db) as session:
        create_user(session, ADMIN_EMAIL, PASSWORD, is_admin=True)
    with api_world.make_world(module_db, tmp_path_factory.mktemp("admin-world")) as world:
        answer = world.client.post(
            "/api/auth/token", data={"username": ADMIN_EMAIL, "password": PASSWORD}
        )
        world.tokens["root"] = answer.json()["access_token"]
        yield AdminWorld(world, world.client.app.state.runtime.queue)


@pytest.fixture
def admin_world(shared_world: AdminWorld) -> AdminWorld:
    """The module's world with no jobs, no workers and no cached series buckets."""
    backend: Any = shared_world.queue.backend
    for table in ("lf_jobs", "lf_workers"):
        backend.run(lambda c, table=table: backend.execute(c, f"DELETE FROM {table}"))
    admin_module._BUCKETS.pop(shared_world.queue.url, None)
    shared_world.client.cookies.clear()
    return shared_world
