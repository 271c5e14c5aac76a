"""Huey: ``SqliteHuey`` (a file in the scenario's temp dir) and ``RedisHuey`` (the bench db).

Workers are the consumer's documented thread pool (``huey_consumer -k thread -w 4``), run in
this process through ``huey.create_consumer(...).start()``. Huey keeps no running/complete
state, so completions are counted by the task itself (an in-process list).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from huey import Huey, RedisHuey, SqliteHuey

from common import WORKERS, Adapter, Resources, WorkerHandle

DONE: list[int] = []  # one entry per executed job (list.append is atomic)
STARTS: dict[int, float] = {}  # latency probe -> time.time() when its task started


def noop(i: int) -> None:
    DONE.append(i)


def probe(i: int) -> None:
    STARTS[i] = time.time()
    DONE.append(i)


class _Huey(Adapter):
    bulk_api = None  # huey has no bulk enqueue; `huey.enqueue` takes one task at a time
    worker_model = f"{WORKERS} threads, 1 process"
    notes: ClassVar[tuple[str, ...]] = (
        "huey: consumer defaults (initial poll delay 0.1 s, backoff 1.15, max 10 s); "
        "completions counted by the task itself (huey keeps no completion state)",
    )

    def make(self) -> Huey:
        raise NotImplementedError

    def setup(self, fresh: bool) -> None:
        self.huey = self.make()
        self.noop = self.huey.task(name="bench_noop")(noop)
        self.probe = self.huey.task(name="bench_probe")(probe)

    def enqueue_one(self, i: int) -> None:
        self.noop(i)

    def completed(self) -> int:
        return len(DONE)

    def workers(self, placement: str, burst: bool) -> WorkerHandle:
        consumer = self.huey.create_consumer(workers=WORKERS, worker_type="thread")
        return WorkerHandle.threads(
            consumer.start, lambda: consumer.stop(graceful=True), "huey consumer"
        )

    def enqueue_probe(self, i: int) -> object:
        self.probe(i)
        return i

    def probe_latencies(self, sent: dict[int, tuple[float, object]]) -> list[float]:
        return [STARTS[i] - before for i, (before, _) in sent.items() if i >= 0 and i in STARTS]

    def teardown(self) -> None:
        self.huey.storage.close()


class HueySqlite(_Huey):
    name = "huey-sqlite"
    storage = "SQLite file (WAL, synchronous=FULL: huey's default)"

    def make(self) -> Huey:
        return SqliteHuey("bench", filename=str(Path(self.res.tmpdir) / "huey.db"))


class HueyRedis(_Huey):
    name = "huey-redis"
    storage = "Redis"
    needs = frozenset({"redis"})

    def __init__(self, res: Resources) -> None:
        super().__init__(res)
        assert res.redis_url is not None
        self.url: str = res.redis_url

    def make(self) -> Huey:
        return RedisHuey("bench", url=self.url)

    def teardown(self) -> None:
        pool: Any = getattr(self.huey.storage, "pool", None)
        if pool is not None:
            pool.disconnect()
