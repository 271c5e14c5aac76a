"""Real worker processes: concurrent claims, kill -9 and rescue, graceful SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import jobtasks
import pytest
from helpers import FAST, wait_for

from ledgerflow.jobs import JobSettings, JobStatus, Queue
from ledgerflow.jobs.backends.sqlite import sqlite_path

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def start_worker(db_url: str, concurrency: int = 4, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(HERE),
        "DATABASE_URL": db_url,
        "POLL_INTERVAL": "0.05",
        "HEARTBEAT_INTERVAL": "0.2",
        "WORKER_TIMEOUT": "2",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ledgerflow.cli", "--log-level", "WARNING", "worker",
         "--import", "jobtasks", "--concurrency", str(concurrency)],
        env=environment, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def executions(out_dir: Path) -> Counter[str]:
    lines = [line for f in out_dir.glob("*.log") for line in f.read_text().splitlines()]
    return Counter(line.split()[0] for line in lines)


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def idle(queue: Queue) -> bool:
    return (
        not queue.list(status="pending", limit=1).jobs
        and not queue.list(status="running", limit=1).jobs
    )


def test_8_workers_in_2_processes_run_10000_jobs_exactly_once(
    queue: Queue, db_url: str, tmp_path: Path
) -> None:
    processes = [start_worker(db_url), start_worker(db_url)]
    try:
        # Both must be claiming before the jobs arrive: the first one up could otherwise run
        # all 10,000 (a third of a second on SQLite) while the other is still importing.
        wait_for(lambda: len(queue.backend.workers()) == 2, timeout=30)
        ids: list[str] = []
        for _ in range(10):  # enqueue while the workers are already claiming
            ids += queue.enqueue_many(jobtasks.record, [{"out_dir": str(tmp_path)}] * 1000)
        wait_for(lambda: idle(queue), timeout=120, interval=0.2)
    finally:
        codes = [stop(p) for p in processes]
    assert codes == [0, 0]
    counts = executions(tmp_path)
    assert len(counts) == 10_000 and set(counts) == set(ids), "none lost"
    assert max(counts.values()) == 1, "none run twice"
    assert len(list(tmp_path.glob("*.log"))) == 2, "both processes took work"
    done = queue.list(status="complete", limit=1).jobs
    assert done and done[0].attempts == 1


def test_kill_9_mid_job_is_rescued_in_seconds(queue: Queue, db_url: str, tmp_path: Path) -> None:
    process = start_worker(db_url, concurrency=1)
    job = queue.enqueue(jobtasks.record, out_dir=str(tmp_path), seconds=60, first_only=True)
    try:
        wait_for(lambda: queue.get(job.id).status is JobStatus.RUNNING, timeout=20)
    finally:
        process.kill()
        process.wait()
    assert queue.get(job.id).status is JobStatus.RUNNING, "nobody has noticed yet"
    with queue.worker(concurrency=1):
        # The lease is 2 s: rescue comes within seconds (the wait is bounded), never an hour.
        done = wait_for(lambda: (j := queue.get(job.id)).is_final and j, timeout=30)
    assert done.status is JobStatus.COMPLETE and done.attempts == 2
    assert executions(tmp_path)[job.id] == 1, "the killed attempt never finished"


def freeze(process: subprocess.Popen[bytes], db_url: str) -> None:
    """SIGSTOP ``process``; on SQLite, at a moment it holds no write lock: a process frozen
    holding it stops every writer until it thaws or dies (SQLite has one, kept in the file)."""
    for _ in range(100):
        process.send_signal(signal.SIGSTOP)
        wait_for(lambda: Path(f"/proc/{process.pid}/stat").read_text().split()[2] == "T")
        if not db_url.startswith("sqlite:") or not sqlite_write_locked(db_url):
            return
        process.send_signal(signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("the worker held the write lock at every try")


def sqlite_write_locked(db_url: str) -> bool:
    conn = sqlite3.connect(sqlite_path(db_url), timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def test_a_frozen_worker_is_rescued_and_stands_down_when_it_thaws(
    queue: Queue, db_url: str, tmp_path: Path
) -> None:
    """SIGSTOP, as when a VM or container is paused or a host swaps: the worker stops beating
    but keeps its connections. Its job is rescued and run elsewhere; thawed, the worker stops
    the stale attempt at its next progress call, before it records anything, and goes on."""
    process = start_worker(db_url, concurrency=1)
    job = queue.enqueue(jobtasks.record, out_dir=str(tmp_path), seconds=60, first_only=True)
    try:
        wait_for(lambda: queue.get(job.id).message == "working", timeout=20)
        freeze(process, db_url)
        with queue.worker(concurrency=1):
            done = wait_for(lambda: (j := queue.get(job.id)).is_final and j, timeout=30)
        assert done.status is JobStatus.COMPLETE and done.attempts == 2
        process.send_signal(signal.SIGCONT)
        after = queue.enqueue(jobtasks.record, out_dir=str(tmp_path))
        wait_for(lambda: queue.get(after.id).status is JobStatus.COMPLETE, timeout=30)
    finally:
        process.send_signal(signal.SIGCONT)
        code = stop(process)
    assert code == 0
    assert executions(tmp_path) == Counter({job.id: 1, after.id: 1}), "the stale attempt stopped"
    thawed = (tmp_path / f"{process.pid}.log").read_text().split()
    assert thawed[0] == after.id, "the thawed worker took the next job"
    assert queue.get(job.id) == done, "the stale attempt's late writes changed nothing"


def test_slow_job_is_never_rescued_while_its_worker_lives(db_url: str, tmp_path: Path) -> None:
    settings = JobSettings(**{**FAST.model_dump(), "worker_timeout": 1.5})
    with Queue(db_url, settings=settings) as queue:
        job = queue.enqueue(jobtasks.record, out_dir=str(tmp_path), seconds=5)
        with queue.worker(concurrency=2), queue.worker(concurrency=2):
            done = wait_for(lambda: (j := queue.get(job.id)).is_final and j, timeout=20)
    assert done.status is JobStatus.COMPLETE and done.attempts == 1
    assert executions(tmp_path)[job.id] == 1


def test_sigterm_finishes_short_jobs_and_releases_long_ones(
    queue: Queue, db_url: str, tmp_path: Path
) -> None:
    process = start_worker(db_url, concurrency=2, SHUTDOWN_GRACE="3")
    short = queue.enqueue(jobtasks.record, out_dir=str(tmp_path), seconds=1)
    long = queue.enqueue(jobtasks.sleep, seconds=60)
    # RUNNING only says claimed: a claimed job that no thread has picked up yet is released
    # at SIGTERM, as it should be. The short job's first progress says a thread runs it.
    wait_for(lambda: queue.get(short.id).message == "working")
    wait_for(lambda: queue.get(long.id).status is JobStatus.RUNNING)
    assert stop(process) == 0, "exits cleanly, within the grace period plus a little"
    assert queue.get(short.id).status is JobStatus.COMPLETE
    released = queue.get(long.id)
    assert released.status is JobStatus.PENDING and released.attempts == 0
    assert released.worker_id is None
    assert all(w.stopped_at is not None for w in queue.backend.workers())
