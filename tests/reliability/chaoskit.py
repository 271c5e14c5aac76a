"""Chaos harness shared by ``bench/chaos.py`` and ``tests/reliability/test_chaos.py``.

Worker processes import this module (``--import chaoskit`` with ``PYTHONPATH`` on this folder) to
register the ``chaos.effect`` task. Each execution of a job:

1. inserts a row in ``chaos_executions`` (its own id, the job, the attempt, the pid, the start);
2. works for a while, calling ``ctx.progress`` (which is where a self-fenced job stops);
3. applies its side effect idempotently: ``INSERT INTO chaos_effects … ON CONFLICT (job_id) DO
   NOTHING`` and, in the same transaction, marks its execution row with whether the insert took
   (the first application) or hit the existing row (a re-run the idempotency key absorbed);
4. appends its end (time and outcome) to a per-process file, which needs no database.

The driver (``run_chaos``) enqueues the jobs, starts worker processes (``ledgerflow worker`` on
PostgreSQL, ``ledgerflow serve --worker-mode thread`` on SQLite), kills one with SIGKILL every
few seconds and starts a replacement, optionally restarts PostgreSQL once, waits for the queue to
drain and then checks, from the jobs' own rows, the executions and the side effects:

* lost: an enqueued job without a row, or complete without its side effect;
* stuck: still pending or running when the drain deadline passed;
* duplicated: a job executed again after it had finished (complete or failed);
* at once: two executions of one job whose run times overlap (the lease/fencing failed);
* failed without a reason.
"""

from __future__ import annotations

import faulthandler
import itertools
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ledgerflow.jobs import Cancelled, JobContext, Queue, task
from ledgerflow.jobs.backends.postgres import conninfo
from ledgerflow.jobs.backends.sqlite import sqlite_path

HERE = Path(__file__).resolve().parent
TASK = "chaos.effect"
PG_ADMIN = os.environ.get("LEDGERFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_RESTART = ("pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart")
# Short leases so that rescues take seconds: a worker beats every 0.5 s, a lease lasts 3 s.
WORKER_ENV = {
    "POLL_INTERVAL": "0.1",
    "HEARTBEAT_INTERVAL": "0.5",
    "WORKER_TIMEOUT": "3",
    "SHUTDOWN_GRACE": "5",
}

# A worker that hangs can be asked for the stacks of all its threads with SIGUSR1.
if hasattr(signal, "SIGUSR1") and threading.current_thread() is threading.main_thread():
    with suppress(RuntimeError, ValueError, OSError):
        faulthandler.register(signal.SIGUSR1, all_threads=True)

TABLES = (
    "CREATE TABLE IF NOT EXISTS chaos_executions (id TEXT PRIMARY KEY, job_id TEXT NOT NULL,"
    " attempt INTEGER NOT NULL, pid INTEGER NOT NULL, started_at DOUBLE PRECISION NOT NULL,"
    " effect_at DOUBLE PRECISION, effect_first INTEGER)",
    "CREATE INDEX IF NOT EXISTS chaos_executions_job ON chaos_executions (job_id)",
    "CREATE TABLE IF NOT EXISTS chaos_effects (job_id TEXT PRIMARY KEY, execution_id TEXT NOT NULL,"
    " attempt INTEGER NOT NULL, pid INTEGER NOT NULL, applied_at DOUBLE PRECISION NOT NULL)",
)
_START = (
    "INSERT INTO chaos_executions (id, job_id, attempt, pid, started_at)"
    " VALUES (:id, :job, :attempt, :pid, :now)"
)
_EFFECT = (
    "INSERT INTO chaos_effects (job_id, execution_id, attempt, pid, applied_at)"
    " VALUES (:job, :id, :attempt, :pid, :now) ON CONFLICT (job_id) DO NOTHING"
)
_MARK = "UPDATE chaos_executions SET effect_at = :now, effect_first = :first WHERE id = :id"


# --- the side-effect store: one connection per thread, reconnecting after any failure ------
class Store:
    """Runs the harness's statements on SQLite or PostgreSQL, each in its own transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self._local = threading.local()

    def _connect(self) -> Any:
        if self.sqlite:
            conn = sqlite3.connect(sqlite_path(self.url), timeout=60, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 60000")
            return conn
        return psycopg.connect(conninfo(self.url), autocommit=True, connect_timeout=5)

    @contextmanager
    def transaction(self) -> Iterator[Callable[[str, dict[str, Any]], int]]:
        """Yields ``execute(sql, params) -> rowcount`` inside one committed transaction."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        try:
            if self.sqlite:
                conn.execute("BEGIN IMMEDIATE")

                def run_sqlite(sql: str, params: dict[str, Any]) -> int:
                    return int(conn.execute(sql, params).rowcount)

                try:
                    yield run_sqlite
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                with conn.transaction():

                    def run_pg(sql: str, params: dict[str, Any]) -> int:
                        pyformat = _pyformat(sql)
                        return int(conn.execute(pyformat, params).rowcount)  # type: ignore[arg-type]

                    yield run_pg
        except BaseException:
            self._local.conn = None
            with suppress(Exception):
                conn.close()
            raise

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of one read (outside any transaction); reconnects next time after a failure."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        try:
            return [tuple(row) for row in conn.execute(sql).fetchall()]
        except BaseException:
            self._local.conn = None
            with suppress(Exception):
                conn.close()
            raise

    def create_tables(self) -> None:
        for statement in TABLES:
            with self.transaction() as execute:
                execute(statement, {})

    def started(self, execution: str, job_id: str, attempt: int) -> None:
        params = {"id": execution, "job": job_id, "attempt": attempt, "pid": os.getpid()}
        with self.transaction() as execute:
            execute(_START, {**params, "now": time.time()})

    def apply(self, execution: str, job_id: str, attempt: int) -> bool:
        """The side effect, idempotent on the job id; True when this execution applied it."""
        params = {"id": execution, "job": job_id, "attempt": attempt, "pid": os.getpid()}
        with self.transaction() as execute:
            now = time.time()
            first = execute(_EFFECT, {**params, "now": now}) == 1
            execute(_MARK, {"id": execution, "now": now, "first": int(first)})
        return first


def _pyformat(sql: str) -> str:
    import re

    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()
_ends_lock = threading.Lock()


def store_for(url: str) -> Store:
    with _stores_lock:
        if url not in _stores:
            _stores[url] = Store(url)
        return _stores[url]


def _record_end(execution: str, outcome: str) -> None:
    """Append the end of an execution to this process's file (no database needed)."""
    folder = os.environ.get("CHAOS_DIR")
    if not folder:
        return
    line = f"{execution} {time.time():.6f} {outcome}\n"
    with _ends_lock, open(Path(folder) / f"ends-{os.getpid()}.log", "a") as f:
        f.write(line)
        f.flush()


@task(name=TASK, max_attempts=5, retry_backoff=0.2, retry_backoff_max=2.0, timeout=120)
def effect(ctx: JobContext, seconds: float = 0.05) -> dict[str, Any]:
    """Work for ``seconds`` (reporting progress), then apply the side effect once per job."""
    store = store_for(ctx.database_url)
    execution = uuid.uuid4().hex
    store.started(execution, ctx.id, ctx.attempt)
    outcome = "error"
    try:
        began = time.monotonic()
        while (elapsed := time.monotonic() - began) < seconds:
            ctx.progress(99 * elapsed / seconds, "working")
            time.sleep(min(0.02, seconds - elapsed))
        ctx.check_cancelled()
        first = store.apply(execution, ctx.id, ctx.attempt)
        outcome = "applied" if first else "repeat"
        return {"first": first, "attempt": ctx.attempt}
    except Cancelled:
        outcome = "aborted"
        raise
    finally:
        _record_end(execution, outcome)


# --- the driver ----------------------------------------------------------------------------
@dataclass
class ChaosConfig:
    engine: str  # "postgresql" (``ledgerflow worker`` processes) or "sqlite" (``serve``)
    url: str
    workdir: Path
    jobs: int = 5000
    processes: int = 4
    threads: int = 4
    job_seconds: float = 0.1
    kill_every: float = 2.0
    min_uptime: float = 1.0  # a process is killed only after working this long
    max_kills: int | None = None
    first_kill_after: float = 1.0
    restart_database_at: float | None = None  # fraction of jobs finished; PostgreSQL only
    restart_command: tuple[str, ...] = PG_RESTART
    companies: int = 20
    drain_timeout: float = 600.0
    seed: int = 8
    log: Callable[[str], None] = field(default=lambda _: None)


@dataclass
class ChaosReport:
    engine: str
    jobs: int
    kills: int
    restarts: int
    lost: int
    duplicated: int
    at_once: int
    stuck: int
    complete: int
    failed: int
    failed_without_reason: int
    drain_seconds: float
    executions: int
    max_executions: int
    repeats_absorbed: int
    died: int
    unclean_exits: int
    problems: list[str]
    failure_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def executions_per_job(self) -> float:
        return self.executions / max(1, self.jobs)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.at_once
            or self.stuck
            or self.failed_without_reason
            or self.died
            or self.unclean_exits
        )


HEADER = (
    "| engine | jobs | kills | restarts | lost | duplicated | at once | stuck | complete "
    "| failed (reason) | time to drain | executions/job (max) | re-runs absorbed |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def table_row(r: ChaosReport) -> str:
    return (
        f"| {r.engine} | {r.jobs:,} | {r.kills} | {r.restarts} | {r.lost} | {r.duplicated} "
        f"| {r.at_once} | {r.stuck} | {r.complete:,} | {r.failed} | {r.drain_seconds:.1f} s "
        f"| {r.executions_per_job:.3f} ({r.max_executions}) | {r.repeats_absorbed} |"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Fleet:
    """The worker processes: start, SIGKILL, stop; remembers when each pid was killed."""

    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self.live: list[subprocess.Popen[bytes]] = []
        self.killed_at: dict[int, float] = {}
        self.died: list[tuple[int, int | None]] = []
        self.unclean: list[tuple[int, int | None]] = []
        self._logs: list[Any] = []
        self._count = 0
        self._ready_since: dict[int, float] = {}

    def env(self) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
        return {
            **os.environ,
            **WORKER_ENV,
            "PYTHONPATH": path,
            "DATABASE_URL": self.config.url,
            "CHAOS_DIR": str(self.config.workdir),
            "WORKER_THREADS": str(self.config.threads),
            "LEDGERFLOW_SECRET_KEY": "chaos-secret-key-chaos-secret-key-0123456789",
            "UPLOAD_DIR": str(self.config.workdir / "uploads"),
            "PYTHONFAULTHANDLER": "1",
        }

    def command(self) -> list[str]:
        common = [sys.executable]
        if self.config.engine == "sqlite":
            # ``ledgerflow serve`` with this module imported first, so its in-process workers
            # know the chaos task (serve itself only imports ledgerflow.tasks).
            preload = "import chaoskit, ledgerflow.cli; ledgerflow.cli.main(prog_name='ledgerflow')"
            return [
                *common, "-c", preload, "--log-level", "WARNING", "serve",
                "--port", str(free_port()), "--worker-mode", "thread",
                "--workers", str(self.config.threads),
            ]  # fmt: skip
        return [
            *common, "-m", "ledgerflow.cli", "--log-level", "WARNING", "worker",
            "--import", "chaoskit", "--concurrency", str(self.config.threads),
        ]  # fmt: skip

    def start(self) -> subprocess.Popen[bytes]:
        self._count += 1
        log = open(self.config.workdir / f"process-{self._count}.log", "wb")  # noqa: SIM115
        self._logs.append(log)
        process = subprocess.Popen(
            self.command(),
            env=self.env(),
            cwd=self.config.workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.live.append(process)
        return process

    def check_alive(self) -> None:
        """Processes that exited on their own are a finding: record and replace them."""
        for process in list(self.live):
            code = process.poll()
            if code is not None:
                self.live.remove(process)
                self.died.append((process.pid, code))
                self.config.log(f"process {process.pid} exited on its own with {code}")
                self.start()

    def ready(self, store: Store, for_at_least: float = 0.0) -> list[subprocess.Popen[bytes]]:
        """Live processes whose worker registered (beat) at least ``for_at_least`` s ago."""
        try:
            pids = {row[0] for row in store.query("SELECT pid FROM lf_workers")}
        except Exception:  # the database may be restarting
            return []
        now = time.monotonic()
        ready = []
        for process in self.live:
            if process.pid in pids and process.poll() is None:
                since = self._ready_since.setdefault(process.pid, now)
                if now - since >= for_at_least:
                    ready.append(process)
        return ready

    def kill_one(self, rng: random.Random, store: Store) -> bool:
        """SIGKILL a random worker that has been working a while; False if none has yet."""
        ready = self.ready(store, self.config.min_uptime)
        if not ready:
            return False
        victim = rng.choice(ready)
        victim.kill()
        self.killed_at[victim.pid] = time.time()
        victim.wait()
        self.live.remove(victim)
        return True

    def wait_ready(self, store: Store, timeout: float = 60.0) -> None:
        """Let freshly started processes finish starting (so SIGTERM meets a worker)."""
        deadline = time.monotonic() + timeout
        while len(self.ready(store)) < len(self.live) and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop_all(self, store: Store, timeout: float = 30.0) -> None:
        """SIGTERM every live process; a clean stop exits 0 (uvicorn re-raises SIGTERM after a
        graceful shutdown, so ``serve`` exits -15) and records its worker as stopped."""
        stopping = list(self.live)
        for process in stopping:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: dict[int, int | None] = {}
        for process in stopping:
            try:
                codes[process.pid] = process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGUSR1)  # thread stacks into its log
                time.sleep(0.5)
                process.kill()
                process.wait()
                codes[process.pid] = None
        self.live.clear()
        for log in self._logs:
            log.close()
        try:
            stopped = {
                pid for pid, at in store.query("SELECT pid, stopped_at FROM lf_workers") if at
            }
        except Exception:
            stopped = set()
        for pid, code in codes.items():
            if code not in (0, -signal.SIGTERM) or pid not in stopped:
                self.unclean.append((pid, code))


def job_counts(store: Store) -> dict[str, int] | None:
    try:
        rows = store.query("SELECT status, count(*) FROM lf_jobs GROUP BY status")
    except Exception:  # the database may be restarting
        return None
    return {status: int(n) for status, n in rows}


def enqueue(config: ChaosConfig) -> list[str]:
    rng = random.Random(config.seed)
    ids: list[str] = []
    with Queue(config.url) as queue:
        per_company = -(-config.jobs // config.companies)
        for c in range(config.companies):
            count = min(per_company, config.jobs - len(ids))
            if count <= 0:
                break
            args = [
                {"seconds": round(config.job_seconds * rng.uniform(0.5, 1.5), 4)}
                for _ in range(count)
            ]
            company = f"co{c:02d}"
            ids += queue.enqueue_many(
                TASK, args, meta={"company_id": company}, concurrency_key=company
            )
    return ids


def restart_database(config: ChaosConfig) -> float:
    began = time.monotonic()
    subprocess.run(config.restart_command, check=True, timeout=120, capture_output=True)
    return time.monotonic() - began


def run_chaos(config: ChaosConfig) -> ChaosReport:
    """Run the whole scenario and check it; never raises for findings, reports them."""
    config.workdir.mkdir(parents=True, exist_ok=True)
    Queue(config.url).close()  # migrate the job tables
    if config.engine == "sqlite":
        from ledgerflow.server import migrate

        migrate(config.url)  # serve would, but several starting at once would race
    store = Store(config.url)
    store.create_tables()
    ids = enqueue(config)
    config.log(f"enqueued {len(ids):,} jobs")
    rng = random.Random(config.seed)
    fleet = Fleet(config)
    kills = restarts = 0
    began = time.monotonic()
    for _ in range(config.processes):
        fleet.start()
    next_kill = began + config.first_kill_after
    deadline = began + config.drain_timeout
    drained_at: float | None = None
    problems: list[str] = []
    try:
        while time.monotonic() < deadline:
            time.sleep(0.1)
            fleet.check_alive()
            counts = job_counts(store)
            if counts is not None:
                left = counts.get("pending", 0) + counts.get("running", 0)
                if left == 0:
                    drained_at = time.monotonic()
                    break
                done = 1 - left / max(1, len(ids))
                if (
                    config.restart_database_at is not None
                    and restarts == 0
                    and done >= config.restart_database_at
                ):
                    config.log(f"restarting the database at {done:.0%} done")
                    took = restart_database(config)
                    restarts += 1
                    config.log(f"database back after {took:.1f} s")
            now = time.monotonic()
            if (
                now >= next_kill
                and (config.max_kills is None or kills < config.max_kills)
                and fleet.kill_one(rng, store)
            ):
                kills += 1
                fleet.start()
                next_kill = now + config.kill_every
    finally:
        drain_seconds = (drained_at or time.monotonic()) - began
        fleet.wait_ready(store)
        fleet.stop_all(store)
    if drained_at is None:
        problems.append(f"not drained within {config.drain_timeout:.0f} s")
    report = verify(config, store, ids, fleet, drain_seconds, problems)
    report.kills, report.restarts = kills, restarts
    return report


def _read_ends(folder: Path) -> dict[str, tuple[float, str]]:
    ends: dict[str, tuple[float, str]] = {}
    for path in folder.glob("ends-*.log"):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                ends[parts[0]] = (float(parts[1]), parts[2])
    return ends


def verify(
    config: ChaosConfig,
    store: Store,
    ids: list[str],
    fleet: Fleet,
    drain_seconds: float,
    problems: list[str],
) -> ChaosReport:
    jobs = {
        row[0]: row[1:]
        for row in store.query(
            "SELECT id, status, error, finished_at, attempts, worker_id FROM lf_jobs"
        )
    }
    effects = {row[0]: row[1:] for row in store.query("SELECT job_id, attempt FROM chaos_effects")}
    executions: dict[str, list[tuple[str, int, float, int | None]]] = defaultdict(list)
    for execution, job_id, pid, started, first in store.query(
        "SELECT id, job_id, pid, started_at, effect_first FROM chaos_executions"
    ):
        executions[job_id].append((execution, pid, started, first))
    ends = _read_ends(config.workdir)

    lost = duplicated = at_once = stuck = failed_no_reason = 0
    status_counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for job_id in ids:
        row = jobs.get(job_id)
        if row is None:
            lost += 1
            problems.append(f"{job_id}: no row")
            continue
        status, error, finished_at, attempts, worker = row
        status_counts[status] += 1
        if status in ("pending", "running"):
            stuck += 1
            if stuck <= 10:
                problems.append(f"{job_id}: stuck {status} (attempts {attempts}, worker {worker})")
        elif status == "complete" and job_id not in effects:
            lost += 1
            problems.append(f"{job_id}: complete without its side effect")
        elif status == "failed" and not error:
            failed_no_reason += 1
            problems.append(f"{job_id}: failed without a reason")
        elif status == "failed":
            reasons[error.splitlines()[0][:120]] += 1
        runs = executions.get(job_id, [])
        if finished_at is not None:
            late = [r for r in runs if r[2] > finished_at]
            if late:
                duplicated += 1
                problems.append(f"{job_id}: executed {len(late)}x after it finished ({status})")
        intervals = []
        for execution, pid, started, _ in runs:
            end = ends.get(execution, (fleet.killed_at.get(pid), ""))[0]
            if end is not None and end >= started:
                intervals.append((started, end))
        intervals.sort()
        if any(b[0] < a[1] for a, b in itertools.pairwise(intervals)):
            at_once += 1
            problems.append(f"{job_id}: two executions overlapped: {intervals}")
    counted = [len(executions.get(j, [])) for j in ids]
    repeats = sum(1 for runs in executions.values() for r in runs if r[3] == 0)
    for pid, code in fleet.died:
        problems.append(f"worker pid {pid} died on its own (exit {code})")
    for pid, code in fleet.unclean:
        problems.append(f"worker pid {pid} did not stop cleanly on SIGTERM (exit {code})")
    return ChaosReport(
        engine=config.engine,
        jobs=len(ids),
        kills=0,
        restarts=0,
        lost=lost,
        duplicated=duplicated,
        at_once=at_once,
        stuck=stuck,
        complete=status_counts["complete"],
        failed=status_counts["failed"],
        failed_without_reason=failed_no_reason,
        drain_seconds=drain_seconds,
        executions=sum(counted),
        max_executions=max(counted, default=0),
        repeats_absorbed=repeats,
        died=len(fleet.died),
        unclean_exits=len(fleet.unclean),
        problems=problems,
        failure_reasons=dict(reasons),
    )


def report_json(report: ChaosReport) -> str:
    data = dict(report.__dict__)
    data["problems"] = report.problems[:50]
    return json.dumps(data, indent=2)
