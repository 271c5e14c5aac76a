"""The job state machine and everything a single worker does, on every engine."""

from __future__ import annotations

import time

import jobtasks
import pytest
from helpers import wait_for

from ledgerflow.jobs import ConfigurationError, JobNotFound, JobStatus, Queue


def final(queue: Queue, job_id: str, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    return wait_for(lambda: (j := queue.get(job_id)).is_final and j, timeout)


def test_pending_running_complete(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    job = queue.enqueue(jobtasks.count, n=40, pause=0.02, meta={"company_id": "acme"})
    assert job.id.startswith("job_") and len(job.id) == 30
    assert job.status is JobStatus.PENDING and job.progress == 0 and job.attempts == 0
    stored = queue.get(job.id)
    assert stored.status is JobStatus.PENDING and stored.meta == {"company_id": "acme"}
    assert stored.company_id == "acme" and stored.args == {"n": 40, "pause": 0.02}

    make_worker(concurrency=1)
    running = wait_for(lambda: (j := queue.get(job.id)).status is JobStatus.RUNNING and j)
    assert running.started_at is not None and running.worker_id and running.lease_expires_at
    assert running.finished_at is None

    done = final(queue, job.id)
    assert done.status is JobStatus.COMPLETE
    assert done.result == {"counted": 40}
    assert done.progress == 100 and done.message == "Processing 39/40..."
    assert done.attempts == 1 and done.error is None
    assert done.created_at <= done.started_at <= done.finished_at  # type: ignore[operator]


def test_failure_keeps_traceback_apart(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    job = queue.enqueue(jobtasks.refuse)
    make_worker(concurrency=1)
    done = final(queue, job.id)
    assert done.status is JobStatus.FAILED
    assert done.error == "The file has no amount column."
    assert "Traceback" in (done.traceback or "") and "Traceback" not in done.error
    assert done.attempts == 1, "JobFailed is never retried"


def test_retries_then_succeeds(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    job = queue.enqueue(jobtasks.flaky, failures=2)
    make_worker(concurrency=1)
    done = final(queue, job.id)
    assert done.status is JobStatus.COMPLETE and done.result == {"attempt": 3}
    assert done.attempts == 3


def test_retries_exhausted(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    job = queue.enqueue(jobtasks.flaky, failures=5)
    make_worker(concurrency=1)
    done = final(queue, job.id)
    assert done.status is JobStatus.FAILED and done.attempts == 3
    assert done.error == "RuntimeError: failure on attempt 3"


def test_unknown_task_fails_clearly(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    job = queue.enqueue("t.does-not-exist", x=1)
    make_worker(concurrency=1)
    done = final(queue, job.id)
    assert done.status is JobStatus.FAILED and "t.does-not-exist" in (done.error or "")


def test_timeout_fails_job_and_frees_slot(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    hung = queue.enqueue(jobtasks.hang, seconds=5, timeout=0.5)
    after = queue.enqueue(jobtasks.echo, value=1)
    make_worker(concurrency=1)
    done = final(queue, hung.id)
    assert done.status is JobStatus.FAILED and done.error == "Timed out after 0.5 s."
    # The only thread is still stuck in time.sleep, yet the next job runs at once.
    assert final(queue, after.id, timeout=3).status is JobStatus.COMPLETE


def test_cancel_pending_is_immediate(queue: Queue) -> None:
    job = queue.enqueue(jobtasks.noop)
    cancelled = queue.cancel(job.id)
    assert cancelled.status is JobStatus.CANCELLED and cancelled.finished_at is not None
    with pytest.raises(JobNotFound):
        queue.cancel("job_missing")


def test_cancel_running_stops_at_next_progress(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    job = queue.enqueue(jobtasks.count, n=10_000, pause=0.01)
    make_worker(concurrency=1)
    wait_for(lambda: queue.get(job.id).status is JobStatus.RUNNING)
    flagged = queue.cancel(job.id)
    assert flagged.cancel_requested
    done = final(queue, job.id, timeout=5)
    assert done.status is JobStatus.CANCELLED and done.finished_at is not None
    assert done.result is None


def test_progress_is_monotonic_and_throttled(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    job = queue.enqueue(jobtasks.count, n=3000, pause=0.0005)
    make_worker(concurrency=1)
    seen: list[int] = []
    while not (current := queue.get(job.id)).is_final:
        seen.append(current.progress)
        time.sleep(0.01)
    assert seen == sorted(seen), "progress never goes back"
    assert any(0 < p < 100 for p in seen), "intermediate progress is written while running"
    elapsed = current.finished_at - current.started_at  # type: ignore[operator]
    # revision counts every write: claim + throttled progress (≤ 4/s) + completion.
    assert current.revision <= 2 + 4 * elapsed + 3, (current.revision, elapsed)


def test_priority_then_age(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    low = queue.enqueue(jobtasks.echo, value="low", priority=0)
    high = queue.enqueue(jobtasks.echo, value="high", priority=5)
    older = queue.enqueue(jobtasks.echo, value="older", priority=0)
    make_worker(concurrency=1)
    jobs = [final(queue, j.id) for j in (low, high, older)]
    order = sorted(jobs, key=lambda j: j.started_at)
    assert [j.result["echo"] for j in order] == ["high", "low", "older"]


def test_scheduled_job_waits_for_run_at(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    job = queue.enqueue(jobtasks.echo, value=1, delay=0.6)
    make_worker(concurrency=1)
    done = final(queue, job.id)
    assert done.started_at >= job.run_at  # type: ignore[operator]


def test_list_filters_and_pages(queue: Queue) -> None:
    ids = [queue.enqueue(jobtasks.echo, value=i, meta={"company_id": "acme"}).id for i in range(7)]
    queue.enqueue(jobtasks.echo, value="other", meta={"company_id": "globex"})
    for i in (0, 3, 4):  # a company's statuses are read apart and merged: interleave them
        queue.cancel(ids[i])
    pages, cursor = [], None
    while True:
        page = queue.list(company_id="acme", limit=3, cursor=cursor)
        pages.append([j.id for j in page.jobs])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == sorted(ids, reverse=True), (
        "newest first, no gaps or repeats"
    )
    cancelled = queue.list(company_id="acme", status="cancelled").jobs
    assert [j.id for j in cancelled] == [ids[4], ids[3], ids[0]]
    assert queue.list(task="t.echo", limit=500).jobs.__len__() == 8
    with pytest.raises(ConfigurationError):
        queue.list(limit=0)


def test_enqueue_many_runs_all(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    ids = queue.enqueue_many(jobtasks.echo, [{"value": i} for i in range(300)])
    assert len(set(ids)) == 300 and ids == sorted(ids)
    make_worker(concurrency=4)
    # Not "none pending": the last claim's jobs are running until each thread gets to them.
    wait_for(lambda: len(queue.list(status="complete", limit=500).jobs) == 300)
    done = queue.list(status="complete", limit=500).jobs
    assert sorted(j.result["echo"] for j in done) == list(range(300))


def test_enqueue_many_stores_what_enqueue_stores(queue: Queue) -> None:
    """The bulk paths (SQLite unpacks JSON in SQL, PostgreSQL COPYs) keep every value exact,
    across the chunks a large batch is cut into."""
    tricky = {"s": 'é\u2028"\\ \U0001f600', "f": 1.0, "g": 1e-7, "big": 2**63 - 1, "n": None,
              "nested": [1, {"a": []}], "t": True}  # fmt: skip
    options = {"meta": {"company_id": "acme", "file_name": "a.csv"}, "priority": 3,
               "concurrency_key": "acme", "concurrency_limit": 1}  # fmt: skip
    args = [{"value": i} for i in range(25_001)]
    args[0] = args[12_345] = tricky
    ids = queue.enqueue_many(jobtasks.echo, args, **options)  # type: ignore[arg-type]
    single = queue.get(queue.enqueue(jobtasks.echo, **tricky, **options).id)  # type: ignore[arg-type]
    assert len(ids) == len(set(ids)) == 25_001 and ids == sorted(ids)
    shared = ("task", "queue", "meta", "company_id", "max_attempts", "priority", "timeout",
              "concurrency_key", "concurrency_limit", "status", "progress", "attempts")  # fmt: skip
    for index in (0, 12_345):
        bulk = queue.get(ids[index])
        assert bulk.args == tricky == single.args
        assert {c: getattr(bulk, c) for c in shared} == {c: getattr(single, c) for c in shared}
    assert queue.get(ids[25_000]).args == {"value": 25_000}
    assert queue.get(ids[10_000]).args == {"value": 10_000}


@pytest.mark.parametrize(
    "bad", [{"value": {1}}, {"value": 1, "priority": 2}], ids=["not JSON", "reserved name"]
)
def test_enqueue_many_is_all_or_nothing(queue: Queue, bad: dict[str, object]) -> None:
    """The arguments are checked while the first rows are already being written."""
    before = queue.list(limit=1).jobs
    with pytest.raises(ConfigurationError):
        queue.enqueue_many(jobtasks.echo, [{"value": i} for i in range(15_000)] + [bad])
    assert queue.list(limit=1).jobs == before


def test_retry_copies_a_failed_job(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    job = queue.enqueue(jobtasks.refuse, meta={"company_id": "acme"})
    make_worker(concurrency=1)
    final(queue, job.id)
    again = queue.retry(job.id)
    assert again.id != job.id and again.meta["retry_of"] == job.id
    assert again.company_id == "acme"
    with pytest.raises(ConfigurationError):
        queue.retry(queue.enqueue(jobtasks.noop).id)


def test_bad_arguments_are_rejected(queue: Queue) -> None:
    with pytest.raises(ConfigurationError, match="JSON"):
        queue.enqueue(jobtasks.echo, value=object())
    with pytest.raises(ConfigurationError, match="max_attempts"):
        queue.enqueue(jobtasks.echo, value=1, max_attempts=0)


def test_claim_whose_answer_was_lost_is_handed_back(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    from ledgerflow.jobs.backend import ClaimRequest

    worker = make_worker(concurrency=1)
    jobs = [queue.enqueue(jobtasks.echo, value=i, delay=3600) for i in range(3)]
    # A claim in the worker's name that the worker never heard of, as when the connection
    # breaks after COMMIT. ("now" is past the jobs' run_at, which the worker itself never
    # reaches, so only this claim can take them.)
    later = time.time() + 7200
    claimed = queue.backend.exchange(
        [], [], ClaimRequest(worker.id, ("default",), 3, later, later + 60)
    )
    assert len(claimed) == 3
    released = wait_for(
        lambda: all((j := queue.get(job.id)).status is JobStatus.PENDING for job in jobs) and j,
        timeout=5,
    )
    assert released
    for job in jobs:
        again = queue.get(job.id)
        assert again.worker_id is None and again.attempts == 0, "handed back, not a failed attempt"
