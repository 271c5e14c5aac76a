"""Process roles: ``serve --workers 0`` is the API alone, ``worker`` is workers alone; each says
on start which database it uses and how many workers it runs, and exits 0 on SIGTERM.

Starting a process takes seconds, so the API runs on SQLite and the workers on PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from adminkit import cli_env, root_conftest, start, stop, wait_healthy, wait_log
from live import free_port


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    schema, url = root_conftest.new_pg_schema(pg_database)
    yield url
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_serve_with_no_workers_is_the_api_alone(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'api.db'}"
    env = cli_env(db_url, tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    server = start(env, "serve", "--port", str(port), "--workers", "0", cwd=tmp_path, log=log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server, log)
        said = wait_log(log, "worker threads")
        assert db_url in said and "with 0 worker threads" in said, said
        assert httpx.get(f"{url}/healthz").text == "ok"
    finally:
        code = stop(server)
    assert code == 0, log.read_text()
    assert not re.search(r"ledgerflow.cli .*worker", log.read_text())


def test_worker_alone_says_what_it_runs_and_stops_on_sigterm(pg_url: str, tmp_path: Path) -> None:
    db_url = pg_url
    env = cli_env(db_url, tmp_path)
    log = tmp_path / "worker.log"
    worker = start(
        env, "--log-level", "INFO", "worker", "--queues", "default,ocr", "--concurrency", "3",
        cwd=tmp_path, log=log,
    )  # fmt: skip
    try:
        said = wait_log(log, "threads, queues")
        assert "3 threads, queues default,ocr" in said, said
        assert f"database {db_url}" in said, said
    finally:
        code = stop(worker)  # at once: from its first line on, SIGTERM is a graceful stop
    assert code == 0, log.read_text()
    assert "started: 3 threads" in log.read_text()


STOP_WHILE_STARTING = """
import sys, tempfile
from ledgerflow.jobs import Queue
queue = Queue(f"sqlite:///{tempfile.mkdtemp()}/stop.db")
worker = queue.worker(concurrency=1)
worker.stop(wait=False)  # what run_forever's SIGTERM handler does, arriving during start()
worker.start()
sys.exit(0 if worker._done.wait(3) else 1)
"""


def test_sigterm_while_the_worker_starts_still_stops_it() -> None:
    done = subprocess.run([sys.executable, "-c", STOP_WHILE_STARTING], timeout=60, check=False)
    assert done.returncode == 0
