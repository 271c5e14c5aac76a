"""How long a PostgreSQL claim holds the lock that serializes every worker's claims.

The claim takes a transaction-level advisory lock first (it keeps per-key running counts
exact), so the lock is held from the claim's first statement until its commit: the claim
query, the change announcements and the commit's WAL flush. Whatever the number of worker
hosts, the whole fleet makes at most one claim per hold time. One worker process (4 threads)
runs no-op jobs (large batched claims) and jobs of ``--sleep`` seconds (a claim per freed
slot); the script times every claim from its first statement to the end of its commit.

Usage: python bench/claim_lock.py [--n 10000] [--slow 400] [--sleep 0.05]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from categorize import database
from ledgerflow.jobs import JobContext, Queue, task
from ledgerflow.jobs.backend import ClaimRequest


@task(name="bench.claim_lock.sleep", max_attempts=1)
def pause(ctx: JobContext, seconds: float) -> None:
    time.sleep(seconds)


@contextmanager
def fresh_queue() -> Iterator[Queue]:
    """A queue on a new PostgreSQL database, dropped afterwards."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        database("postgresql", Path(tmp)) as url,
        Queue(url) as queue,
    ):
        yield queue


def prefill(queue: Queue, jobs: int, seconds: float) -> None:
    queue.enqueue_many(pause, [{"seconds": seconds}] * jobs)
    # A running deployment has statistics (autovacuum); without them the planner finds the
    # freshly loaded table small enough to scan, and a one-job claim took twice as long.
    queue.backend.run(lambda conn: conn.execute("ANALYZE lf_jobs"))  # type: ignore[attr-defined]


def bare(queue: Queue, claims: int) -> tuple[float, float]:
    """Median ms of a one-job claim (the lock and the query) and of its commit, made one after
    another on one connection with no worker around them."""
    backend: Any = queue.backend
    prefill(queue, claims, 0.0)
    conn = backend.connect()
    query: list[float] = []
    commit: list[float] = []
    try:
        for _ in range(claims):
            now = time.time()
            with conn.transaction():
                started = time.perf_counter()
                backend.claim(conn, ClaimRequest("bench", ("default",), 1, now, now + 60))
                claimed = time.perf_counter()
            query.append(claimed - started)
            commit.append(time.perf_counter() - claimed)
    finally:
        conn.close()
    return 1e3 * statistics.median(query), 1e3 * statistics.median(commit)


def timed(queue: Queue, jobs: int, seconds: float) -> dict[str, Any]:
    """Run ``jobs`` jobs of ``seconds`` with one 4-thread worker, timing each claim's hold."""
    backend = queue.backend
    claim, run = backend.claim, backend.run  # type: ignore[attr-defined]
    local = threading.local()
    holds: list[float] = []
    tails: list[float] = []
    sizes: list[int] = []

    def timed_claim(conn: Any, request: Any) -> Any:
        local.started = time.perf_counter()
        claimed = claim(conn, request)
        local.claimed = time.perf_counter()
        sizes.append(len(claimed))
        return claimed

    def timed_run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        local.started = None
        result = run(fn, *args, **kwargs)
        if local.started is not None:  # this transaction claimed: it held the lock till now
            ended = time.perf_counter()
            holds.append(ended - local.started)
            tails.append(ended - local.claimed)
        return result

    backend.claim, backend.run = timed_claim, timed_run  # type: ignore[attr-defined]
    prefill(queue, jobs, seconds)
    started = time.perf_counter()
    with queue.worker(concurrency=4):
        while (
            queue.list(status="pending", limit=1).jobs or queue.list(status="running", limit=1).jobs
        ):
            time.sleep(0.05)
    elapsed = time.perf_counter() - started
    return {
        "jobs_per_s": jobs / elapsed,
        "claims": len(holds),
        "jobs_per_claim": statistics.median(sizes),
        "hold_p50_ms": 1e3 * statistics.median(holds),
        "hold_p90_ms": 1e3 * statistics.quantiles(holds, n=10)[-1],
        "after_query_p50_ms": 1e3 * statistics.median(tails),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="no-op jobs")
    parser.add_argument("--slow", type=int, default=400, help="jobs of --sleep seconds")
    parser.add_argument("--sleep", type=float, default=0.05)
    args = parser.parse_args()
    print(
        "| Jobs | Jobs/s | Claims | Jobs per claim (median) | Lock held p50 / p90 (ms) "
        "| … after the query: announce + commit (p50, ms) | Fleet-wide claims/s at p50 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for jobs, seconds in ((args.n, 0.0), (args.slow, args.sleep)):
        with fresh_queue() as queue:
            r = timed(queue, jobs, seconds)
        print(
            f"| {jobs:,} × {seconds * 1e3:.0f} ms | {r['jobs_per_s']:,.0f} | {r['claims']:,} "
            f"| {r['jobs_per_claim']:.0f} | {r['hold_p50_ms']:.2f} / {r['hold_p90_ms']:.2f} "
            f"| {r['after_query_p50_ms']:.2f} | {1e3 / r['hold_p50_ms']:,.0f} |",
            flush=True,
        )
    with fresh_queue() as queue:
        query, commit = bare(queue, args.slow)
    print(
        f"\nBare one-job claims, no worker ({args.slow}): lock and query {query:.2f} ms, "
        f"commit {commit:.2f} ms (p50): {1e3 / (query + commit):,.0f} claims/s"
    )


if __name__ == "__main__":
    main()
