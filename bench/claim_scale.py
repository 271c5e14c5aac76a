"""What one claim costs as what it must pass over grows: keys, their lines, scheduled jobs.

Each case fills a fresh database, then makes claims on the backend directly, as a worker's
coordinator does: five of one job (what a worker of long jobs asks for, one per freed slot),
then three of 200 (a worker of short jobs). The claimed jobs stay running, so each claim sees
what the one before left. Cases:

* ``KEYSxDEPTH``: ``KEYS`` concurrency keys of ``DEPTH`` pending no-op jobs each;
* ``scheduled:N``: 100 due unkeyed jobs behind ``N`` scheduled an hour ahead at a higher
  priority (a claim of 200 finds fewer due jobs than it asks for, as an idle worker's does);
* ``idle:N``: ``N`` jobs run to completion and nothing pending; the claims are an idle
  worker's timer polls (``poll=True``: a look without the write lock first).

Prints the median time of each kind of claim, in milliseconds.

Usage: python bench/claim_scale.py [--engines sqlite postgresql] [--cases 100x1000 scheduled:100000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from categorize import database
from claim_cost import Loop
from ledgerflow.jobs import Queue
from ledgerflow.jobs.backend import ClaimRequest
from peers.ledgerflow import noop

CASES = [
    "100x1000", "129x1000", "1000x10", "1000x100", "5000x2", "10000x1",
    "scheduled:0", "scheduled:100000", "idle:0", "idle:100000",
]  # fmt: skip
SMALL, LARGE = 1, 200


def fill(queue: Queue, case: str) -> None:
    if case.startswith("idle:"):
        queue.enqueue_many(noop, [{}] * int(case.split(":")[1]))
        loop = Loop(queue)  # claim and complete, as a worker of no-op jobs does
        while not loop.finished:
            loop.step()
        return
    if case.startswith("scheduled:"):
        queue.enqueue_many(noop, [{}] * int(case.split(":")[1]), priority=5, delay=3600)
        queue.enqueue_many(noop, [{}] * 100)
        return
    keys, depth = (int(part) for part in case.split("x"))
    for k in range(keys):
        queue.enqueue_many(noop, [{}] * depth, concurrency_key=f"key-{k}")


def claim_times(engine: str, case: str) -> tuple[list[float], list[float]]:
    """Milliseconds of each claim of one job, then of each claim of ``LARGE``."""
    with tempfile.TemporaryDirectory() as tmp, database(engine, Path(tmp)) as url:
        queue = Queue(url)
        try:
            fill(queue, case)
            times: dict[int, list[float]] = {SMALL: [], LARGE: []}
            poll = case.startswith("idle:")
            for limit in [SMALL] * 5 + [LARGE] * 3:
                now = time.time()
                request = ClaimRequest("bench", ("default",), limit, now, now + 600, poll)
                started = time.perf_counter()
                queue.backend.exchange([], [], request)
                times[limit].append(1000 * (time.perf_counter() - started))
            return times[SMALL], times[LARGE]
        finally:
            queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--cases", nargs="+", default=CASES)
    args = parser.parse_args()
    print(f"| Engine | Case | Claim of {SMALL} (ms, median of 5) | Of {LARGE} (ms, median of 3) |")
    print("|---|---|---:|---:|")
    for engine in args.engines:
        for case in args.cases:
            small, large = claim_times(engine, case)
            cells = [
                f"{statistics.median(t):.1f} ({min(t):.1f}–{max(t):.1f})" for t in (small, large)
            ]
            print(f"| {engine} | {case} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
