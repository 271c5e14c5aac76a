"""Where the per-company limit's cost goes, on one thread with no worker around it.

One loop claims 200 no-op jobs, marks them complete and claims again, in one transaction per
exchange, as a worker's coordinator does. The same jobs (``--n`` of 100 companies, arriving
mixed or in one block per company) run four ways:

* ``limit off``: no concurrency key, the plain claim;
* ``limit on``: the company as concurrency key (limit 2), the fair claim;
* ``fair order, ids chosen``: keyed jobs, but every claim takes ids chosen before the loop
  (each company's next 2, the set the fair claim takes): the claim's writes without its query;
* ``... no keyed index``: the same without ``lf_jobs_claim_keyed``: the writes that remain
  when no index orders the pending jobs by company.

Each variant runs against ``limit off`` in pairs of databases whose exchanges alternate, so the
machine's drift hits both sides; the change shown is the median over ``--pairs`` pairs.

Usage: python bench/claim_cost.py [--n 20000] [--pairs 6] [--engines sqlite postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import orjson

from categorize import database
from common import KEY_LIMIT, KEYS
from ledgerflow.jobs import Queue
from ledgerflow.jobs.backend import ClaimRequest
from ledgerflow.jobs.backends.claim import CLAIM_SET, claim_params
from ledgerflow.jobs.backends.statements import SELECT, row_to_job
from ledgerflow.jobs.models import Job, Outcome, OutcomeKind
from peers.ledgerflow import enqueue_companies, noop

BATCH = KEYS * KEY_LIMIT  # as many as the limit lets run at once
VARIANTS = {
    "limit on": "keyed",
    "fair order, ids chosen": "chosen",
    "... no keyed index": "chosen-unindexed",
}


def noop_args(i: int) -> dict[str, Any]:
    return {"i": i}


def choose_claims(queue: Queue) -> Callable[[Any, ClaimRequest], list[Job]]:
    """A claim that takes, each time, every company's next ``KEY_LIMIT`` jobs by id."""
    backend = queue.backend
    rows = backend.run(
        lambda c: backend.execute(
            c, "SELECT id, concurrency_key FROM lf_jobs ORDER BY id"
        ).fetchall(),
        write=False,
    )
    lines: dict[str, list[str]] = {}
    for job_id, key in rows:
        lines.setdefault(key, []).append(job_id)
    deepest = max(len(line) for line in lines.values())
    batches = iter(
        [
            [i for line in lines.values() for i in line[d : d + KEY_LIMIT]]
            for d in range(0, deepest, KEY_LIMIT)
        ]
    )
    ids = (
        "SELECT value FROM json_each(:ids)"
        if backend.url.startswith("sqlite")
        else ("SELECT json_array_elements_text(CAST(:ids AS json))")
    )
    statement = f"UPDATE lf_jobs SET {CLAIM_SET} WHERE id IN ({ids}) RETURNING {SELECT}"

    def claim(conn: Any, request: ClaimRequest) -> list[Job]:
        # The real claim's parameters (CLAIM_SET uses some), with the chosen ids beside them.
        params = {**claim_params(request), "ids": orjson.dumps(next(batches, [])).decode()}
        return [row_to_job(r) for r in backend.execute(conn, statement, params).fetchall()]

    return claim


@contextmanager
def prepared(engine: str, tmp: Path, variant: str, n: int, layout: str) -> Iterator[Queue]:
    with database(engine, tmp) as url:
        queue = Queue(url)
        try:
            enqueue_companies(
                queue, noop, noop_args, n, keyed=variant != "unkeyed", blocks=layout == "blocks"
            )
            if variant.endswith("unindexed"):
                queue.backend.run(
                    lambda c: queue.backend.execute(c, "DROP INDEX lf_jobs_claim_keyed")
                )
            if variant.startswith("chosen"):
                queue.backend.claim = choose_claims(queue)  # type: ignore[method-assign]
            yield queue
        finally:
            queue.close()


class Loop:
    """One claim-and-complete loop, advanced one exchange at a time."""

    def __init__(self, queue: Queue) -> None:
        self.backend = queue.backend
        self.held: list[Job] = []
        self.done = 0
        self.seconds = 0.0
        self.finished = False

    def step(self) -> None:
        now = time.time()
        outcomes = [
            Outcome(j.id, "bench", j.attempts, OutcomeKind.COMPLETE, now) for j in self.held
        ]
        started = time.perf_counter()
        self.held = self.backend.exchange(
            outcomes, [], ClaimRequest("bench", ("default",), BATCH, now, now + 60)
        )
        self.seconds += time.perf_counter() - started
        self.done += len(outcomes)
        self.finished = not self.held

    @property
    def rate(self) -> float:
        return self.done / self.seconds


def pair(engine: str, variant: str, n: int, layout: str, flip: bool) -> tuple[float, float]:
    """Jobs/s of ``limit off`` and of ``variant``, their exchanges alternating."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        sides = ["unkeyed", variant][:: -1 if flip else 1]
        loops = {
            side: Loop(stack.enter_context(prepared(engine, Path(tmp), side, n, layout)))
            for side in sides
        }
        while not all(loop.finished for loop in loops.values()):
            for side in sides:
                if not loops[side].finished:
                    loops[side].step()
        return loops["unkeyed"].rate, loops[variant].rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(f"{args.n:,} no-op jobs of {KEYS} companies, {BATCH}-job exchanges on one thread;")
    print(
        f"change against limit off, median of {args.pairs} alternating pairs (each pair's, in %)\n"
    )
    print("| Engine | Jobs | Limit off (jobs/s) | " + " | ".join(VARIANTS) + " |")
    print("|---|---|---:|" + "---:|" * len(VARIANTS))
    for engine in args.engines:
        for layout in ("mixed", "blocks"):
            base: list[float] = []
            cells = []
            for variant in VARIANTS.values():
                changes = []
                for i in range(args.pairs):
                    off, on = pair(engine, variant, args.n, layout, flip=i % 2 == 1)
                    base.append(off)
                    changes.append(100 * (on / off - 1))
                each = ", ".join(f"{c:+.0f}" for c in changes)
                cells.append(f"{statistics.median(changes):+.1f} % ({each})")
            row = [engine, layout, f"{statistics.median(base):,.0f}", *cells]
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
