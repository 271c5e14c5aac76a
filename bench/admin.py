"""Latency of the admin queries (``ledgerflow.jobs.admin``) over a large job table.

Fills ``lf_jobs`` with ``--jobs`` jobs (default 1,000,000) created over the last 24 hours, as a
busy instance with the default one-day ``JOB_TTL`` holds them: 2,000 companies (a few large),
five job types, run times per type, ~2.5% failed and ~1.5% cancelled with errors and
tracebacks, a live backlog of pending (some overdue) and running jobs (some with expired
leases), a file name in the meta of every upload, and 16 workers (two late, one stopped).
Rows go in with COPY on PostgreSQL and one ``executemany`` on SQLite; every job id embeds its
``created_at`` as the runtime's ids do. Then each query runs ``--repeat`` times and the table
shows p50 and p99 in milliseconds. The time series are also timed cold (a fresh process
computes every bucket once; later calls read only the unsettled minutes).

Usage: python bench/admin.py [--jobs 1000000] [--repeat 50] [--engines postgresql sqlite]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg

from ledgerflow.jobs import JobStatus, Queue
from ledgerflow.jobs import series as series_module
from ledgerflow.jobs.admin import JobsAdmin, Search
from ledgerflow.jobs.backends.statements import COLUMNS
from ledgerflow.jobs.ids import _encode

PG_SERVER = os.environ.get("LEDGERFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TYPES = {  # type: (share, median run seconds)
    "upload_and_categorize": (0.30, 4.0),
    "categorize_transactions": (0.30, 2.0),
    "process_receipt_ocr": (0.20, 1.2),
    "bulk_approve_transactions": (0.10, 0.6),
    "export_to_quickbooks": (0.10, 3.0),
}
COMPANIES = 2000
TRACEBACK = 'Traceback (most recent call last):\n  File "task.py", line 42, in run\n' * 4


@contextmanager
def database(engine: str, tmp: Path, keep: bool) -> Iterator[str]:
    if engine == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="lf-admin-bench-")) if keep else tmp
        yield f"sqlite:///{folder / 'admin-bench.db'}"
        return
    name = f"lf_bench_admin_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if not keep:
            with psycopg.connect(PG_SERVER, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def job_id(rng: random.Random, created: float) -> str:
    return "job_" + _encode(int(created * 1000), 5) + _encode(rng.getrandbits(79), 8)


def rows(count: int, now: float, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """Job rows in ``COLUMNS`` order, oldest first (as a live table grows)."""
    rng = random.Random(seed)
    names = list(TYPES)
    shares = [TYPES[n][0] for n in names]
    companies = [f"co-{i:04d}" for i in range(COMPANIES)]
    weights = [1 / (i + 1) ** 0.8 for i in range(COMPANIES)]
    workers = [f"wrk_bench{i:02d}" for i in range(16)]
    tasks = rng.choices(names, shares, k=count)
    owners = rng.choices(companies, weights, k=count)
    ages = sorted((rng.random() * 86_000 for _ in range(count)), reverse=True)
    for i in range(count):
        task, company, age = tasks[i], owners[i], ages[i]
        created = now - age
        meta: dict[str, Any] = {
            "company_id": company,
            "user_id": f"usr_{rng.randrange(5000):04d}",
            "request_id": f"{rng.getrandbits(64):016x}",
        }
        if task == "upload_and_categorize":
            meta["file_name"] = f"statement-{i}.csv"
        started = created + rng.expovariate(2.0)
        finished: float | None = started + rng.lognormvariate(0, 0.8) * TYPES[task][1]
        status, error, traceback, lease, worker = "complete", None, None, None, None
        roll = rng.random()
        if age < 5:  # about 60 running: what 16 workers with 4 threads hold
            status, finished, worker = "running", None, rng.choice(workers)
            lease = now - 60 if worker in workers[:2] else now + 30  # two workers are late
        elif finished is not None and finished > now:  # not a running job: it just ended
            started, finished = created, max(created + 0.001, now - 0.5)
        if status == "running":
            pass
        elif age < 600 and roll < 0.5:
            status, started, finished = "pending", None, None
        elif roll < 0.0002:
            status, started, finished = "pending", None, None  # overdue: nobody takes it
        elif roll < 0.025:
            status, error, traceback = "failed", "ValueError: the file has no header row", TRACEBACK
        elif roll < 0.04:
            status = "cancelled"
        run_at = created + (3600 if status == "pending" and age < 600 and roll < 0.05 else 0)
        yield (
            job_id(rng, created), task, "default", status, "{}", orjson.dumps(meta).decode(),
            company, 100 if status == "complete" else 0, None,
            '{"ok": true}' if status == "complete" else None, error, traceback,
            0 if status == "pending" else 1, 3, 0, 600.0, run_at, created, started, finished,
            lease, worker, None, company, 2, False, 3,
        )  # fmt: skip


INDEXES = {
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'lf_jobs'"
    " AND sql IS NOT NULL",
    "postgresql": "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'lf_jobs'"
    " AND indexname <> 'lf_jobs_pkey'",
}


def fill(queue: Queue, count: int, now: float) -> float:
    """Write the rows with the secondary indexes dropped, then build them (and time each)."""
    began = time.perf_counter()
    columns = ", ".join(COLUMNS)
    engine = "sqlite" if queue.url.startswith("sqlite") else "postgresql"
    run: Any = queue.backend.run  # type: ignore[attr-defined]
    indexes = run(lambda c: c.execute(INDEXES[engine]).fetchall(), write=False)
    for name, _ in indexes:
        run(lambda c, name=name: c.execute(f"DROP INDEX {name}"))
    if engine == "sqlite":
        marks = ", ".join("?" * len(COLUMNS))
        insert = f"INSERT INTO lf_jobs ({columns}) VALUES ({marks})"
        run(lambda c: c.executemany(insert, rows(count, now)))
    else:
        copy_rows = f"COPY lf_jobs ({columns}) FROM STDIN"
        with (
            psycopg.connect(queue.url, autocommit=True) as conn,
            conn.cursor() as cursor,
            cursor.copy(copy_rows) as copy,
        ):
            for row in rows(count, now):
                copy.write_row(row)
    print(f"  rows written in {time.perf_counter() - began:.1f} s; building indexes:")
    for name, statement in indexes:
        started = time.perf_counter()
        run(lambda c, statement=statement: c.execute(statement))
        print(f"    {name}: {time.perf_counter() - started:.1f} s", flush=True)
    if engine == "sqlite":
        run(lambda c: c.execute("ANALYZE"), write=False)
    else:
        with psycopg.connect(queue.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE lf_jobs")
    workers = [
        (f"wrk_bench{i:02d}", f"host-{i % 4}", 1000 + i, "default", 4, now - 7200,
         now - (120 if i < 2 else 1), now - 60 if i == 15 else None)
        for i in range(16)
    ]  # fmt: skip
    insert_workers = (
        "INSERT INTO lf_workers (id, host, pid, queues, concurrency, started_at, heartbeat_at,"
        " stopped_at) VALUES (:id, :host, :pid, :queues, :c, :s, :h, :x)"
    )
    keys = ("id", "host", "pid", "queues", "c", "s", "h", "x")
    params = [dict(zip(keys, w, strict=True)) for w in workers]
    run(lambda c: queue.backend.executemany(c, insert_workers, params))  # type: ignore[attr-defined]
    return time.perf_counter() - began


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm the connection and caches
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def pick(queue: Queue, sql: str) -> Any:
    return queue.backend.run(  # type: ignore[attr-defined]
        lambda c: queue.backend.execute(c, sql).fetchone()[0],  # type: ignore[attr-defined]
        write=False,
    )


def queries(admin: JobsAdmin, queue: Queue, now: float) -> dict[str, Callable[[], object]]:
    some_id = pick(queue, "SELECT min(id) FROM lf_jobs WHERE status = 'failed'")
    file_name = pick(queue, "SELECT meta FROM lf_jobs WHERE task = 'upload_and_categorize' LIMIT 1")
    file_name = orjson.loads(file_name)["file_name"]
    big, small = "co-0000", "co-1500"
    page2 = admin.search(Search(task="bulk_approve_transactions")).next_cursor
    return {
        "depth": lambda: admin.depth(now),
        "series hour": lambda: admin.series("hour", now),
        "series day": lambda: admin.series("day", now),
        "series day, one type": lambda: admin.series("day", now, task="process_receipt_ocr"),
        "workers": lambda: admin.workers(now),
        "failed, page 1": lambda: admin.failed(),
        "stuck": lambda: admin.stuck(now),
        "search: id": lambda: admin.search(Search(job_id=some_id)),
        "search: company (largest)": lambda: admin.search(Search(company_id=big)),
        "search: company (small) + failed": lambda: admin.search(
            Search(company_id=small, status=JobStatus.FAILED)
        ),
        "search: type": lambda: admin.search(Search(task="export_to_quickbooks")),
        "search: type, page 2": lambda: admin.search(
            Search(task="bulk_approve_transactions", cursor=page2)
        ),
        "search: type + cancelled": lambda: admin.search(
            Search(task="process_receipt_ocr", status=JobStatus.CANCELLED)
        ),
        "search: status pending": lambda: admin.search(Search(status=JobStatus.PENDING)),
        "search: created 1 h, 20 h ago": lambda: admin.search(
            Search(created_from=now - 20 * 3600, created_to=now - 19 * 3600)
        ),
        "search: meta file_name": lambda: admin.search(Search(meta={"file_name": file_name})),
        "search: meta file_name (no match)": lambda: admin.search(
            Search(meta={"file_name": "nope.csv"})
        ),
        "search: meta user_id + company": lambda: admin.search(
            Search(company_id=small, meta={"user_id": "usr_0042"})
        ),
        "search: meta user_id alone (not indexed)": lambda: admin.search(
            Search(meta={"user_id": "usr_0042"})
        ),
        "search: everything": lambda: admin.search(
            Search(
                company_id=big,
                task="upload_and_categorize",
                status=JobStatus.COMPLETE,
                created_from=now - 6 * 3600,
                created_to=now - 3600,
            )
        ),
    }


def bench(engine: str, jobs: int, repeat: int, keep: bool, reuse: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(engine, Path(tmp), keep) as url:
        url = reuse or url
        queue = Queue(url)
        now = time.time()
        if reuse:  # a table filled before: its clock is the newest created_at
            jobs = pick(queue, "SELECT count(*) FROM lf_jobs")
            now = pick(queue, "SELECT max(created_at) FROM lf_jobs") + 1
        else:
            print(f"\n{engine}: {jobs:,} jobs", flush=True)
            seconds = fill(queue, jobs, now)
            print(f"  filled in {seconds:.1f} s" + (f"; kept at {url}" if keep else ""))
        admin = JobsAdmin(queue)
        for window in ("hour", "day"):
            began = time.perf_counter()
            admin.series(window, now)
            cold = (time.perf_counter() - began) * 1000
            print(f"  series {window}, cold (first call in a process): {cold:.0f} ms")
        print(f"| query ({engine}, {jobs:,} jobs) | p50 ms | p99 ms | rows |")
        print("|---|---:|---:|---:|")
        for name, fn in queries(admin, queue, now).items():
            samples = timed(fn, repeat)
            result = fn()
            found = getattr(result, "jobs", result)
            size = len(found) if isinstance(found, list) else "-"
            p50 = statistics.median(samples)
            p99 = sorted(samples)[min(len(samples) - 1, int(0.99 * len(samples)))]
            print(f"| {name} | {p50:.2f} | {p99:.2f} | {size} |", flush=True)
        series_module._BUCKETS.clear()
        queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--engines", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--keep", action="store_true", help="keep the filled database")
    parser.add_argument("--url", help="time the queries on a database kept before")
    args = parser.parse_args()
    if args.url:
        bench(
            "sqlite" if args.url.startswith("sqlite") else "postgresql",
            0,
            args.repeat,
            False,
            args.url,
        )
        return
    for engine in args.engines:
        bench(engine, args.jobs, args.repeat, args.keep, None)


if __name__ == "__main__":
    sys.exit(main())
