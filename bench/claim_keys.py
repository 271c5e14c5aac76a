"""What a fair claim costs as the keys with pending jobs, and their lines, grow.

Each case fills a fresh database with ``keys`` concurrency keys of ``depth`` pending no-op jobs
each, then makes claims on the backend directly, as a worker's coordinator does: five of one
job (what a worker of long jobs asks for, one per freed slot), then three of 200 (a worker of
short jobs). The claimed jobs stay running, so each claim sees the keys the one before left.
Prints the median time of each kind of claim, in milliseconds.

Usage: python bench/claim_keys.py [--engines sqlite postgresql] [--cases 100x1000 1000x10 ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from categorize import database
from ledgerflow.jobs import Queue
from ledgerflow.jobs.backend import ClaimRequest
from peers.ledgerflow import noop

CASES = ["100x1000", "129x1000", "1000x10", "1000x100", "5000x2", "10000x1"]
SMALL, LARGE = 1, 200


def claim_times(engine: str, keys: int, depth: int) -> tuple[list[float], list[float]]:
    """Milliseconds of each claim of one job, then of each claim of ``LARGE``."""
    with tempfile.TemporaryDirectory() as tmp, database(engine, Path(tmp)) as url:
        queue = Queue(url)
        try:
            for k in range(keys):
                queue.enqueue_many(noop, [{}] * depth, concurrency_key=f"key-{k}")
            times: dict[int, list[float]] = {SMALL: [], LARGE: []}
            for limit in [SMALL] * 5 + [LARGE] * 3:
                now = time.time()
                request = ClaimRequest("bench", ("default",), limit, now, now + 600)
                started = time.perf_counter()
                queue.backend.exchange([], [], request)
                times[limit].append(1000 * (time.perf_counter() - started))
            return times[SMALL], times[LARGE]
        finally:
            queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--cases", nargs="+", default=CASES, help="KEYSxDEPTH")
    args = parser.parse_args()
    print(f"| Engine | Keys × pending jobs each | Claim of {SMALL} (ms, median of 5) |"
          f" Claim of {LARGE} (ms, median of 3) |")  # fmt: skip
    print("|---|---|---:|---:|")
    for engine in args.engines:
        for case in args.cases:
            keys, depth = (int(part) for part in case.split("x"))
            small, large = claim_times(engine, keys, depth)
            cells = [
                f"{statistics.median(t):.1f} ({min(t):.1f}–{max(t):.1f})" for t in (small, large)
            ]
            print(f"| {engine} | {keys:,} × {depth:,} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
