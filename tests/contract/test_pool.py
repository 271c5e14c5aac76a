"""The connection pool bounds the connections open at once, on every engine."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from helpers import FAST, wait_for

from ledgerflow.jobs import BackendError, Queue

SIZE = 3


@pytest.fixture
def small(db_url: str) -> Iterator[tuple[Queue, str]]:
    """A queue whose pool opens at most SIZE connections, and the name its connections carry."""
    name = f"lf_pool_{uuid.uuid4().hex[:8]}"
    if db_url.startswith("postgresql"):
        db_url += f"&application_name={name}"
    settings = FAST.model_copy(update={"db_pool_size": SIZE, "db_pool_timeout": 30.0})
    queue = Queue(db_url, settings=settings)
    yield queue, name
    queue.close()


def server_connections(queue: Queue, name: str) -> int:
    """Connections the server has open for this pool (PostgreSQL), or the pool's own count."""
    if not queue.url.startswith("postgresql"):
        return queue.backend.pool.open  # type: ignore[attr-defined, no-any-return]
    with psycopg.connect(queue.url.split("?")[0], autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_one_borrower_too_many_waits_for_a_connection(small: tuple[Queue, str]) -> None:
    queue, name = small
    pool = queue.backend.pool  # type: ignore[attr-defined]
    release = [threading.Event() for _ in range(SIZE + 1)]
    lent: dict[int, object] = {}

    def borrow(i: int) -> None:
        with pool.connection() as conn:
            lent[i] = conn
            release[i].wait()

    threads = [threading.Thread(target=borrow, args=(i,)) for i in range(SIZE + 1)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(lent) == SIZE)
    waiting = next(i for i in range(SIZE + 1) if i not in lent)
    assert server_connections(queue, name) == SIZE, "the last borrower waits, opening nothing"

    first = next(iter(lent))
    handed_back = lent[first]
    release[first].set()
    wait_for(lambda: waiting in lent)
    assert lent[waiting] is handed_back, "it gets the connection handed back"
    assert server_connections(queue, name) == SIZE
    for event in release:
        event.set()
    for thread in threads:
        thread.join()


def test_a_borrower_that_waits_too_long_gets_a_clear_error(db_url: str) -> None:
    settings = FAST.model_copy(update={"db_pool_size": 1, "db_pool_timeout": 0.2})
    with Queue(db_url, settings=settings) as queue:
        pool = queue.backend.pool  # type: ignore[attr-defined]
        with pool.connection(), pytest.raises(BackendError, match="DB_POOL_SIZE"):
            queue.backend.get("no-such-job")
        assert queue.backend.get("no-such-job") is None, "usable again once it is back"
