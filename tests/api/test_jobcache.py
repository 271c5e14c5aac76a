"""The API's job cache: kept on PostgreSQL until a change is announced, never stale after one.

Each test changes the row behind the cache's back with plain SQL (no announcement), which shows
whether an answer came from memory, and announces changes the ways they really come: a write
through this process's queue, a NOTIFY from another connection, a listener reconnecting.
"""

from __future__ import annotations

from collections.abc import Iterator
from unittest.mock import patch

import jobtasks
import psycopg
import pytest
from helpers import wait_for

from ledgerflow.api.events import JobEventHub
from ledgerflow.api.jobcache import JobCache
from ledgerflow.jobs import Queue


@pytest.fixture
def queue(db_url: str) -> Iterator[Queue]:
    q = Queue(db_url)
    yield q
    q.close()


@pytest.fixture
def cache(queue: Queue) -> Iterator[JobCache]:
    cache = JobCache(queue, max_age=60.0)
    seen: list[str] = []
    cache.forget = lambda job_id, forget=cache.forget: (seen.append(job_id), forget(job_id))  # type: ignore[method-assign]
    hub = JobEventHub(queue, cache, recheck_seconds=1.0)
    if cache.enabled:  # the listener connects in the background, then says so with ""
        wait_for(lambda: "" in seen)
    yield cache
    hub.close()


def set_message_silently(queue: Queue, job_id: str, message: str) -> None:
    """Change the row as no ledgerflow code would: no revision, no announcement."""
    backend = queue.backend
    backend.run(  # type: ignore[attr-defined]
        lambda c: backend.execute(  # type: ignore[attr-defined]
            c, "UPDATE lf_jobs SET message = :m WHERE id = :id", {"m": message, "id": job_id}
        )
    )


def test_sqlite_keeps_nothing_postgresql_keeps_until_told(queue: Queue, cache: JobCache) -> None:
    job = queue.enqueue(jobtasks.noop)
    assert cache.get(job.id).message is None
    set_message_silently(queue, job.id, "changed behind its back")
    expected = "changed behind its back" if queue.url.startswith("sqlite") else None
    assert cache.enabled is not queue.url.startswith("sqlite")
    assert cache.get(job.id).message == expected


def test_a_write_through_this_process_is_seen_at_once(queue: Queue, cache: JobCache) -> None:
    job = queue.enqueue(jobtasks.noop)
    cache.get(job.id)
    queue.cancel(job.id)
    assert cache.get(job.id).status.value == "cancelled"


def test_another_process_change_is_seen_when_announced(
    queue: Queue, cache: JobCache, db_url: str
) -> None:
    if not cache.enabled:
        pytest.skip("SQLite keeps nothing")
    jobs = [queue.enqueue(jobtasks.noop) for _ in range(3)]
    for job in jobs:
        cache.get(job.id)
        set_message_silently(queue, job.id, "from elsewhere")
    with psycopg.connect(db_url, autocommit=True) as other:
        # Another worker's batch: many ids to a notification (two to each here).
        announce = queue.backend.announce_changes  # type: ignore[attr-defined]
        with patch("ledgerflow.jobs.backends.postgres._IDS_PER_NOTIFY", 2):
            announce(other, [job.id for job in jobs])
    for job in jobs:
        wait_for(lambda job=job: cache.get(job.id).message == "from elsewhere", timeout=5)


def test_a_read_overtaken_by_an_announcement_is_not_kept(queue: Queue, cache: JobCache) -> None:
    if not cache.enabled:
        pytest.skip("SQLite keeps nothing")
    job = queue.enqueue(jobtasks.noop)
    read = queue.get

    def read_then_hear_of_a_change(job_id: str):  # type: ignore[no-untyped-def]
        old = read(job_id)
        set_message_silently(queue, job_id, "newer")
        cache.forget(job_id)  # the announcement lands while the old read is on its way back
        return old

    queue.get = read_then_hear_of_a_change  # type: ignore[method-assign]
    assert cache.get(job.id).message is None
    queue.get = read  # type: ignore[method-assign]
    assert cache.get(job.id).message == "newer"


def test_a_reconnected_listener_forgets_everything(queue: Queue, cache: JobCache) -> None:
    if not cache.enabled:
        pytest.skip("SQLite keeps nothing")
    jobs = [queue.enqueue(jobtasks.noop) for _ in range(3)]
    for job in jobs:
        cache.get(job.id)
        set_message_silently(queue, job.id, "missed while away")
    cache.forget("")  # what the listener says after reconnecting
    assert {cache.get(j.id).message for j in jobs} == {"missed while away"}


def test_nothing_is_kept_longer_than_max_age(queue: Queue) -> None:
    cache = JobCache(queue, max_age=0.0)
    job = queue.enqueue(jobtasks.noop)
    cache.get(job.id)
    set_message_silently(queue, job.id, "unannounced")
    assert cache.get(job.id).message == "unannounced"
