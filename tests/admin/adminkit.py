"""Helpers of the admin tests: rows written as the runtime writes them, and the API world of
tests/api (alice owns acme, bob views it, carol owns globex) plus an instance admin."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ledgerflow.jobs import Queue
from ledgerflow.jobs.backends.statements import COLUMNS
from ledgerflow.jobs.ids import _encode


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


# --- real processes ---------------------------------------------------------------------------


def cli_env(db_url: str, root: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "LEDGERFLOW_SECRET_KEY": "admin-tests-secret-key-long-enough-for-hs256",
        "UPLOAD_DIR": str(root / "uploads"),
        "POLL_INTERVAL": "0.05",
        **extra,
    }


def cli(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``ledgerflow ARGS`` in a child process; its output, checked."""
    done = subprocess.run(
        [sys.executable, "-m", "ledgerflow.cli", "--log-level", "WARNING", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    return done


def start(env: dict[str, str], *args: str, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ledgerflow.cli", "--log-level", "WARNING", *args],
            env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def wait_log(log: Path, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while text not in (found := log.read_text(errors="replace")):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared in:\n{found[-3000:]}")
        time.sleep(0.05)
    return found


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> int | None:
    """SIGTERM, then the exit code; SIGKILL the group if it would not stop."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    code = process.poll()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=5)
    return code
