"""ledgerflow.jobs on SQLite (a file in the scenario's temp dir) and on PostgreSQL (a fresh db).

Also the ``--import`` module of the separate-process worker (``ledgerflow worker``), so the
tasks are defined at module level.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import psycopg

from common import (
    KEYS,
    SHORT_ITERATIONS,
    WORK_ITERATIONS,
    WORKERS,
    Adapter,
    NotSupported,
    Resources,
    WorkerHandle,
    child_env,
    spawn,
    unit_of_work,
)
from ledgerflow.jobs import JobContext, Queue, Task, task
from ledgerflow.jobs.worker import BATCH_SIZE


@task(name="bench.noop", max_attempts=1)
def noop(ctx: JobContext, i: int) -> None:
    return None


# The task times its steps in chunks of this many: see ``work``.
CHUNK = 50


@task(name="bench.work", max_attempts=1)
def work(ctx: JobContext, iterations: int, report: bool) -> list[float]:
    """``iterations`` units of fixed arithmetic, reporting progress every iteration if asked.

    Returns the CPU seconds its own thread spent, and the same estimated from its fastest
    ``CHUNK`` steps. Other threads (cache, the GIL's hand-offs) and the VM (stolen time is
    charged to the running thread) only ever add time, and on this VM they add 20-40 % in
    bursts, so the fastest chunk is the one to compare: it is what the steps themselves cost.
    """
    started = chunk_started = time.thread_time()
    fastest = float("inf")
    acc = 0
    for i in range(iterations):
        if i and i % CHUNK == 0:
            now = time.thread_time()
            fastest, chunk_started = min(fastest, now - chunk_started), now
        acc ^= unit_of_work(i)
        if report:
            ctx.progress(100 * i / iterations, f"{i}/{iterations}")
    ended = time.thread_time()
    if iterations % CHUNK == 0:
        fastest = min(fastest, ended - chunk_started)
    whole = ended - started
    return [whole, fastest * iterations / CHUNK if fastest < whole else whole]


def enqueue_companies(
    queue: Queue,
    job: Task[Any, Any],
    make_args: Callable[[int], dict[str, Any]],
    n: int,
    keyed: bool,
    blocks: bool = False,
    limit: int | None = None,
) -> None:
    """``n`` jobs of ``KEYS`` companies as the API enqueues them: the company in the meta and,
    ``keyed``, as the concurrency key too (``limit``, or the default of 2). Mixed, the
    companies' jobs arrive interleaved, one call each; in ``blocks``, each company's jobs in
    one call."""
    if not blocks:
        for i in range(n):
            company = f"co_{i % KEYS}"
            key = company if keyed else None
            queue.enqueue(
                job, **make_args(i), meta={"company_id": company}, concurrency_key=key,
                concurrency_limit=limit,
            )  # fmt: skip
        return
    for k in range(KEYS):
        company = f"co_{k}"
        args = [make_args(i) for i in range(k, n, KEYS)]
        key = company if keyed else None
        queue.enqueue_many(
            job, args, meta={"company_id": company}, concurrency_key=key, concurrency_limit=limit
        )


class _Ledgerflow(Adapter):
    placements: ClassVar[tuple[str, ...]] = ("in-process", "separate process")
    one_at_a_time_per_key = True
    bulk_api = "Queue.enqueue_many"
    worker_model = f"{WORKERS} threads, 1 process"

    url: str
    batch_size: int = BATCH_SIZE

    def setup(self, fresh: bool) -> None:
        self.queue = Queue(self.url)  # brings the schema up to date (a no-op after the first)

    def enqueue_one(self, i: int) -> None:
        self.queue.enqueue(noop, i=i)

    def enqueue_bulk(self, n: int) -> None:
        self.queue.enqueue_many(noop, [{"i": i} for i in range(n)])

    def prefill(self, n: int, kind: str = "noop") -> dict[str, Any]:
        # "short…" kinds: jobs of SHORT_ITERATIONS units of work (~1 ms) instead of no-ops.
        job, make_args = (
            (work, lambda i: {"iterations": SHORT_ITERATIONS, "report": False})
            if kind.startswith("short")
            else (noop, lambda i: {"i": i})
        )
        layout = kind.removeprefix("short").strip("-") or "noop"
        # "keyed-1…": a limit of one running job per company instead of the default.
        limit = 1 if layout.startswith("keyed-1") else None
        layout = layout.replace("keyed-1", "keyed")
        if layout == "noop":
            self.queue.enqueue_many(job, [make_args(i) for i in range(n)])
        elif layout in ("companies", "keyed"):
            enqueue_companies(self.queue, job, make_args, n, keyed=layout == "keyed", limit=limit)
        elif layout == "keyed-blocks":
            enqueue_companies(self.queue, job, make_args, n, keyed=True, blocks=True, limit=limit)
        elif kind in ("work", "work-progress"):
            args = {"iterations": WORK_ITERATIONS, "report": kind == "work-progress"}
            self.queue.enqueue_many(work, [args] * n)
        elif kind == "work-alternating":  # both variants side by side in one run
            reports = (False, True)
            self.queue.enqueue_many(
                work, [{"iterations": WORK_ITERATIONS, "report": reports[i % 2]} for i in range(n)]
            )
        else:
            raise NotSupported(f"{self.name}: no {kind!r} jobs")
        return {}

    def count(self, status: str) -> int:
        raise NotImplementedError

    def task_cpu(self) -> dict[str, Any]:
        """Thread CPU of the completed ``work`` jobs, without and with progress: the median
        job's, and the median of the jobs' fastest-chunk estimates."""
        seconds: dict[bool, list[list[float]]] = {False: [], True: []}
        cursor = None
        while True:
            page = self.queue.list(task="bench.work", status="complete", limit=500, cursor=cursor)
            for job in page.jobs:
                seconds[bool(job.args["report"])].append(job.result)  # type: ignore[arg-type]
            if (cursor := page.next_cursor) is None:
                break

        def medians(column: int) -> tuple[float, float]:
            plain, report = (statistics.median(r[column] for r in seconds[k]) for k in seconds)
            return plain * 1000, report * 1000

        (plain, report), (plain_chunk, report_chunk) = medians(0), medians(1)
        return {"jobs": [len(seconds[False]), len(seconds[True])], "plain_ms": plain,
                "progress_ms": report, "change": report / plain - 1,
                "fastest_chunk": {"plain_ms": plain_chunk, "progress_ms": report_chunk,
                                  "change": report_chunk / plain_chunk - 1}}  # fmt: skip

    def completed(self) -> int:
        return self.count("complete")

    def failed(self) -> int:
        return self.count("failed")

    def cap_claims(self, jobs: int) -> None:
        self.batch_size = jobs

    def workers(self, placement: str, burst: bool) -> WorkerHandle:
        if placement == "in-process":
            worker = self.queue.worker(concurrency=WORKERS, batch_size=self.batch_size)
            return WorkerHandle.threads(worker.start, worker.stop, "ledgerflow worker")
        # The documented deployment: `ledgerflow worker` in its own process (SIGTERM stops it).
        cmd = [
            sys.executable, "-m", "ledgerflow.cli", "--log-level", "WARNING", "worker",
            "--import", __name__, "--concurrency", str(WORKERS),
        ]  # fmt: skip
        proc = spawn(cmd, child_env({"DATABASE_URL": self.url}))
        return WorkerHandle.processes([proc])

    def enqueue_probe(self, i: int) -> object:
        return self.queue.enqueue(noop, i=i).id

    def probe_latencies(self, sent: dict[int, tuple[float, object]]) -> list[float]:
        # Ours come from the row: started_at (stamped when the worker claims the job, just
        # before it hands it to a thread) minus created_at (stamped by enqueue).
        out = []
        for i, (_, job_id) in sent.items():
            if i < 0:
                continue
            job = self.queue.get(str(job_id))
            if job.started_at is not None:
                out.append(job.started_at - job.created_at)
        return out

    def teardown(self) -> None:
        self.queue.close()


class LedgerflowSqlite(_Ledgerflow):
    name = "ledgerflow-sqlite"
    storage = "SQLite file (WAL, synchronous=NORMAL)"

    def __init__(self, res: Resources) -> None:
        super().__init__(res)
        self.path = str(Path(res.tmpdir) / "ledgerflow.db")
        self.url = f"sqlite:///{self.path}"

    def setup(self, fresh: bool) -> None:
        super().setup(fresh)
        self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)

    def count(self, status: str) -> int:
        row = self.conn.execute("SELECT count(*) FROM lf_jobs WHERE status = ?", (status,))
        return int(row.fetchone()[0])

    def row_size(self) -> dict[str, Any]:
        conn = self.conn
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = int(conn.execute("SELECT count(*) FROM lf_jobs").fetchone()[0])
        # dbstat: bytes of the table's b-tree pages and of the row payloads themselves.
        table_bytes, payload = conn.execute(
            "SELECT sum(pgsize), sum(payload) FROM dbstat WHERE name = 'lf_jobs'"
        ).fetchone()
        index_bytes = conn.execute(
            "SELECT coalesce(sum(d.pgsize), 0) FROM dbstat d JOIN sqlite_master m"
            " ON m.name = d.name WHERE m.type = 'index' AND m.tbl_name = 'lf_jobs'"
        ).fetchone()[0]
        file_bytes = os.path.getsize(self.path)
        return {
            "rows": rows,
            "avg_row_bytes": payload / rows,
            "table_bytes_per_row": table_bytes / rows,
            "total_bytes_per_row": (table_bytes + index_bytes) / rows,
            "file_bytes": file_bytes,
            "how": "dbstat: payload / rows; table+index pages / rows",
        }

    def teardown(self) -> None:
        self.conn.close()
        super().teardown()


class LedgerflowPostgres(_Ledgerflow):
    name = "ledgerflow-pg"
    storage = "PostgreSQL"
    needs = frozenset({"postgres"})

    def __init__(self, res: Resources) -> None:
        super().__init__(res)
        assert res.pg_url is not None
        self.url = res.pg_url

    def setup(self, fresh: bool) -> None:
        super().setup(fresh)
        self.conn = psycopg.connect(self.url, autocommit=True)

    def count(self, status: str) -> int:
        row = self.conn.execute("SELECT count(*) FROM lf_jobs WHERE status = %s", (status,))
        return int(row.fetchone()[0])  # type: ignore[index]

    def row_size(self) -> dict[str, Any]:
        self.conn.execute("VACUUM ANALYZE lf_jobs")
        rows, avg_row, table_bytes, total_bytes = self.conn.execute(
            "SELECT count(*), avg(pg_column_size(j.*)), pg_table_size('lf_jobs'),"
            " pg_total_relation_size('lf_jobs') FROM lf_jobs j"
        ).fetchone()  # type: ignore[misc]
        return {
            "rows": rows,
            "avg_row_bytes": float(avg_row),
            "table_bytes_per_row": table_bytes / rows,
            "total_bytes_per_row": total_bytes / rows,
            "how": "avg(pg_column_size(row)); pg_table_size and pg_total_relation_size / rows",
        }

    def teardown(self) -> None:
        self.conn.close()
        super().teardown()
