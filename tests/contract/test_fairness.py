"""The claim's per-key limits at their edges, on every engine: several keys, limits above one,
keyed and unkeyed jobs together, priorities across keys, other queues, mixed limits in a key;
and what a claim reads as keys, their lines and the scheduled jobs grow.

Claims are made directly on the backend, so which jobs a claim takes is deterministic. Each test
runs twice: alone, and beside a few hundred keys of another queue whose jobs no claim here
takes (the walk passes every one of them); the answers must be the same.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import jobtasks
import pytest

from ledgerflow.jobs import Job, Queue
from ledgerflow.jobs.backend import ClaimRequest
from ledgerflow.jobs.backends.claim import claim_candidates, claim_params
from ledgerflow.jobs.models import Outcome, OutcomeKind

WORKER = "w-fairness"
OTHER_KEYS = 300


@pytest.fixture(autouse=True, params=["few keys", "many keys"])
def keys(request: pytest.FixtureRequest, queue: Queue) -> None:
    """With "many keys", keys of another queue, each with a job no claim here takes."""
    if request.param == "many keys":
        for k in range(OTHER_KEYS):
            queue.enqueue(jobtasks.noop, concurrency_key=f"filler-{k}", queue="filler")


def claim(queue: Queue, limit: int, queues: tuple[str, ...] = ("default",)) -> list[str]:
    now = time.time() + 1
    jobs = queue.backend.exchange([], [], ClaimRequest(WORKER, queues, limit, now, now + 60))
    return ids(jobs)


def complete_and_claim(queue: Queue, done: list[str], limit: int) -> list[str]:
    now = time.time() + 1
    outcomes = [Outcome(i, WORKER, 1, OutcomeKind.COMPLETE, now) for i in done]
    request = ClaimRequest(WORKER, ("default",), limit, now, now + 60)
    return ids(queue.backend.exchange(outcomes, [], request))


def ids(jobs: list[Job]) -> list[str]:
    return [j.id for j in sorted(jobs, key=lambda j: (-j.priority, j.run_at, j.id))]


def enqueue(q: Queue, count: int, **options: object) -> list[str]:
    return [q.enqueue(jobtasks.noop, **options).id for _ in range(count)]  # type: ignore[arg-type]


def test_each_key_runs_up_to_its_limit_best_first(queue: Queue) -> None:
    a = enqueue(queue, 5, concurrency_key="a", concurrency_limit=3)
    b = enqueue(queue, 3, concurrency_key="b", concurrency_limit=1, priority=5)
    plain = enqueue(queue, 2, priority=1)
    elsewhere = enqueue(queue, 2, concurrency_key="c", queue="other")

    assert claim(queue, 2) == [b[0], plain[0]], "priority first, across keys and unkeyed jobs"
    assert claim(queue, 100) == [plain[1], *a[:3]], "b is at its limit; a takes three"
    assert claim(queue, 100) == [], "every key is at its limit"
    assert complete_and_claim(queue, [a[0], b[0]], 100) == [b[1], a[3]], "a finish frees a slot"
    assert claim(queue, 100, ("default", "other")) == elsewhere, "another queue, its own key"


def test_running_jobs_count_against_their_key_whatever_their_queue(queue: Queue) -> None:
    first = enqueue(queue, 1, concurrency_key="k", queue="other")
    line = enqueue(queue, 3, concurrency_key="k")
    assert claim(queue, 100, ("other",)) == first
    assert claim(queue, 100) == line[:1], "one slot of two is taken in the other queue"


def test_a_keys_limit_is_its_first_jobs_and_each_job_keeps_its_own(queue: Queue) -> None:
    # Mixed limits in one key: the line is read only as deep as its first job's limit
    # allows, and a job whose own limit is lower also waits until the key fits under it.
    low_first = enqueue(queue, 1, concurrency_key="m", concurrency_limit=1)
    low_first += enqueue(queue, 1, concurrency_key="m", concurrency_limit=3)
    high_first = enqueue(queue, 1, concurrency_key="n", concurrency_limit=3)
    high_first += enqueue(queue, 1, concurrency_key="n", concurrency_limit=1)
    high_first += enqueue(queue, 1, concurrency_key="n", concurrency_limit=3)
    claimed = claim(queue, 100)
    assert claimed == [low_first[0], high_first[0], high_first[2]], claimed


def test_a_small_claim_reads_only_keys_that_can_contribute(queue: Queue) -> None:
    # A claim for fewer jobs than there are keys skips the keys whose first job comes after the
    # claim's last candidate. A key whose first job is not due still counts by its due jobs.
    late_ready = enqueue(queue, 1, concurrency_key="late")
    enqueue(queue, 1, concurrency_key="late", priority=9, delay=100)  # the key's head, not due
    lines = [enqueue(queue, 2, concurrency_key=f"k{k}") for k in range(10)]
    urgent = enqueue(queue, 1, concurrency_key="k9", priority=5)
    assert claim(queue, 3) == [*urgent, *late_ready, lines[0][0]]
    assert claim(queue, 3) == [lines[0][1], lines[1][0], lines[1][1]]


def claim_reads(queue: Queue, limit: int) -> int:
    """How much the claim's query reads: SQLite's VM instructions (in hundreds), or the rows
    PostgreSQL's plan nodes produce plus the pages it reads. Counts, not times: the same data
    gives the same count."""
    backend: Any = queue.backend  # an SQL backend: run and execute
    now = time.time() + 1
    params = claim_params(ClaimRequest(WORKER, ("default",), limit, now, now + 60))
    statement = claim_candidates(1, backend.lateral)

    def measure(conn: Any) -> int:
        if isinstance(conn, sqlite3.Connection):
            steps = 0

            def count() -> int:
                nonlocal steps
                steps += 1
                return 0  # go on

            conn.set_progress_handler(count, 100)
            try:
                backend.execute(conn, statement, params).fetchall()
            finally:
                conn.set_progress_handler(None, 0)
            return steps
        explain = f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}"
        root = backend.execute(conn, explain, params).fetchone()[0][0]["Plan"]
        return rows_produced(root) + root["Shared Hit Blocks"] + root["Shared Read Blocks"]

    return backend.run(measure, write=False)


def rows_produced(node: dict[str, Any]) -> int:
    own = int(node["Actual Rows"] * node["Actual Loops"])
    return own + sum(rows_produced(child) for child in node.get("Plans", []))


@pytest.mark.parametrize("limit", [1, 200])
def test_a_claim_reads_as_much_however_deep_the_keys_lines_are(queue: Queue, limit: int) -> None:
    # 150 keys with pending jobs: a claim walks the keys, one seek each, and reads each line
    # only as deep as its free slots. Twenty times the jobs behind the same keys must not make
    # it read much more (a pass ranking every pending job read ~20× more: 100-250× slower).
    for k in range(150):
        enqueue(queue, 2, concurrency_key=f"k{k}")
    shallow = claim_reads(queue, limit)
    for k in range(150):
        queue.enqueue_many(jobtasks.noop, [{}] * 40, concurrency_key=f"k{k}")
    deep = claim_reads(queue, limit)
    assert deep < 1.5 * shallow, (shallow, deep)


@pytest.mark.parametrize("limit", [1, 200])
@pytest.mark.parametrize("scheduled_priority", [0, 5], ids=["same priority", "higher priority"])
def test_a_claim_reads_no_job_that_is_not_due_yet(
    queue: Queue, limit: int, scheduled_priority: int
) -> None:
    # A queue's top priority is read in run_at order up to its first job not yet due, so
    # scheduled jobs cost a claim next to nothing. Read in one pass, each claim read them all:
    # 10,000 of them added ~600 (SQLite) and ~95 (PostgreSQL) to the counts below.
    due = enqueue(queue, 3)
    shallow = claim_reads(queue, limit)
    queue.enqueue_many(jobtasks.noop, [{}] * 10_000, priority=scheduled_priority, delay=3600)
    deep = claim_reads(queue, limit)
    assert deep < shallow + 20, (shallow, deep)
    assert claim(queue, limit) == due[:limit]


def test_an_idle_poll_finds_only_what_a_claim_would_take(queue: Queue) -> None:
    # ``has_ready`` gates an idle worker's poll. It runs the claim's own query, so it reads
    # only the claim indexes (a plain "any pending job due?" read the whole table, finished
    # jobs too: 10 ms on SQLite and 21 ms on PostgreSQL per 100,000, every poll of every
    # worker) and answers as a claim would.
    backend: Any = queue.backend

    def ready(queues: tuple[str, ...] = ("default",)) -> bool:
        now = time.time() + 1
        return bool(backend.has_ready(ClaimRequest(WORKER, queues, 50, now, now + 60)))

    done = enqueue(queue, 300)
    assert ready()
    assert claim(queue, 300) == done
    complete_and_claim(queue, done, 300)
    queue.enqueue_many(jobtasks.noop, [{}] * 100, delay=3600)
    assert not ready(), "only finished and scheduled jobs"
    elsewhere = enqueue(queue, 1, queue="other")
    assert not ready() and ready(("default", "other")), "a due job of another queue"
    assert claim(queue, 10, ("other",)) == elsewhere
    held = enqueue(queue, 3, concurrency_key="k", concurrency_limit=2)
    assert claim(queue, 10) == held[:2]
    assert not ready(), "its key is at its limit"
    backend.exchange([Outcome(held[0], WORKER, 1, OutcomeKind.COMPLETE, time.time())], [], None)
    assert ready(), "a slot of its key is free"
