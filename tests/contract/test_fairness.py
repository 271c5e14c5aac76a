"""The claim's per-key limits at their edges, on every engine: several keys, limits above one,
keyed and unkeyed jobs together, priorities across keys, other queues, mixed limits in a key.

Claims are made directly on the backend, so which jobs a claim takes is deterministic. Each test
runs twice: with few keys (the claim walks the keys) and with more keys than the walk takes (the
claim ranks every pending job instead); the answers must be the same.
"""

from __future__ import annotations

import time

import jobtasks
import pytest

from ledgerflow.jobs import Job, Queue
from ledgerflow.jobs.backend import ClaimRequest
from ledgerflow.jobs.backends.claim import WALK_KEYS
from ledgerflow.jobs.models import Outcome, OutcomeKind

WORKER = "w-fairness"


@pytest.fixture(autouse=True, params=["few keys", "many keys"])
def keys(request: pytest.FixtureRequest, queue: Queue) -> None:
    """With "many keys", more keys than the walk takes, each with a job no claim here takes."""
    if request.param == "many keys":
        for k in range(WALK_KEYS + 1):
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
