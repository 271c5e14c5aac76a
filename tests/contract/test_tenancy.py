"""Idempotency, per-company fairness, TTL sweep and transactional enqueue, on every engine."""

from __future__ import annotations

import time

import jobtasks
import pytest
import sqlalchemy as sa
from helpers import FAST, wait_for

from ledgerflow.jobs import ConfigurationError, JobStatus, Queue
from ledgerflow.jobs.migrate import sqlalchemy_url


def test_idempotency_key_returns_the_existing_job(queue: Queue) -> None:
    first = queue.enqueue(jobtasks.echo, value=1, meta={"company_id": "acme"}, idempotency_key="k1")
    again = queue.enqueue(jobtasks.echo, value=2, meta={"company_id": "acme"}, idempotency_key="k1")
    other = queue.enqueue(
        jobtasks.echo, value=1, meta={"company_id": "globex"}, idempotency_key="k1"
    )
    assert again.id == first.id and again.args == {"value": 1}
    assert other.id != first.id, "keys are per company"
    assert len(queue.list(limit=10).jobs) == 2


def test_idempotency_key_is_reusable_once_the_job_is_swept(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    first = queue.enqueue(jobtasks.echo, value=1, meta={"company_id": "a"}, idempotency_key="k")
    queue.cancel(first.id)
    assert queue.backend.sweep(time.time() + 1, page_size=10) == 1
    second = queue.enqueue(jobtasks.echo, value=1, meta={"company_id": "a"}, idempotency_key="k")
    assert second.id != first.id


def test_ttl_sweep_deletes_only_old_final_jobs(queue: Queue) -> None:
    old = [queue.enqueue(jobtasks.noop).id for _ in range(25)]
    for job_id in old:
        queue.cancel(job_id)
    cutoff = time.time() + 0.001
    time.sleep(0.01)
    fresh_final = queue.cancel(queue.enqueue(jobtasks.noop).id)
    pending = queue.enqueue(jobtasks.noop)
    assert queue.backend.sweep(cutoff, page_size=10) == 25, "pages of 10 until done"
    remaining = {j.id for j in queue.list(limit=100).jobs}
    assert remaining == {fresh_final.id, pending.id}


def test_one_company_flood_does_not_starve_another(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    jobtasks.max_running_by_company.clear()
    flood = [
        queue.enqueue(
            jobtasks.tenant, seconds=0.1, meta={"company_id": "flood"}, concurrency_key="flood"
        ).id
        for _ in range(40)
    ]
    single = queue.enqueue(
        jobtasks.tenant, seconds=0.1, meta={"company_id": "solo"}, concurrency_key="solo"
    )
    assert queue.get(single.id).concurrency_limit == FAST.concurrency_limit == 2
    make_worker(concurrency=4)
    solo = wait_for(lambda: (j := queue.get(single.id)).is_final and j)
    assert solo.status is JobStatus.COMPLETE
    flood_jobs = [queue.get(i) for i in flood]
    started_before = [j for j in flood_jobs if j.started_at and j.started_at < solo.started_at]
    # The solo job waits behind at most one claim of the flood's (2 running), not 40 jobs.
    assert len(started_before) <= 2, len(started_before)
    wait_for(lambda: all(queue.get(i).is_final for i in flood), timeout=30)
    assert jobtasks.max_running_by_company["flood"] == 2, "the per-company limit holds"


def test_enqueue_in_callers_transaction(queue: Queue, db_url: str) -> None:
    engine = sa.create_engine(sqlalchemy_url(db_url))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE uploads (name VARCHAR(50))"))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("INSERT INTO uploads VALUES ('rolled back')"))
            lost = queue.enqueue(jobtasks.echo, value=1, connection=conn)
            conn.rollback()
        assert queue.backend.get(lost.id) is None, "rolled back with the caller's data"

        with engine.connect() as conn:
            conn.execute(sa.text("INSERT INTO uploads VALUES ('kept')"))
            kept = queue.enqueue(jobtasks.echo, value=2, connection=conn)
            conn.commit()
        assert queue.get(kept.id).status is JobStatus.PENDING
        with engine.connect() as conn:  # a bad argument is refused before anything is written
            conn.execute(sa.text("INSERT INTO uploads VALUES ('also kept')"))
            with pytest.raises(ConfigurationError, match="reserved"):
                queue.enqueue_many(
                    jobtasks.echo, [{"value": 3}, {"value": 4, "meta": {}}], connection=conn
                )
            conn.commit()
        assert [j.id for j in queue.list(limit=5).jobs] == [kept.id]
        with engine.connect() as conn:
            names = conn.execute(sa.text("SELECT name FROM uploads ORDER BY name")).scalars().all()
        assert names == ["also kept", "kept"]
    finally:
        engine.dispose()


def test_changes_are_announced_to_watchers(queue: Queue, make_worker) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    watcher = queue.backend.watch_changes(seen.append)
    try:
        time.sleep(0.2)  # the PostgreSQL listener connects in the background
        cancelled = queue.enqueue(jobtasks.noop)
        queue.cancel(cancelled.id)
        job = queue.enqueue(jobtasks.count, n=30, pause=0.02)
        make_worker(concurrency=1)
        wait_for(lambda: queue.get(job.id).is_final)
        wait_for(lambda: seen.count(job.id) >= 3)  # claimed, progress, completed
        assert cancelled.id in seen
    finally:
        watcher.close()
