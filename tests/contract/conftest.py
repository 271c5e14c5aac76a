from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import FAST

from ledgerflow.jobs import Queue, Worker


@pytest.fixture
def queue(db_url: str) -> Iterator[Queue]:
    q = Queue(db_url, settings=FAST)
    yield q
    q.close()


@pytest.fixture
def make_worker(queue: Queue) -> Iterator:  # type: ignore[type-arg]
    workers: list[Worker] = []

    def make(**options: object) -> Worker:
        worker = queue.worker(**options).start()
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop(grace=0)
