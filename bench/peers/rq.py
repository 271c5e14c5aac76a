"""RQ on the bench Redis db: 4 ``SimpleWorker`` processes, or 4 default forking ``Worker``s.

Each worker is its own process, as ``rq worker`` runs it; they are started through the
documented ``Worker(...).work(burst=...)`` from ``python -m peers.rq``, which connects and then
waits on a Redis list for the signal to start, so the clock measures work, not Python start-up.
Completions are the queue's ``FinishedJobRegistry`` (and its ``FailedJobRegistry``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, ClassVar

from redis import Redis
from rq import Queue, SimpleWorker, Worker, get_current_job

from common import (
    WORKERS,
    Adapter,
    BenchTimeout,
    Resources,
    WorkerHandle,
    self_rss_kb,
    spawn,
)

QUEUE = "bench"
READY = "bench:ready"  # each worker process pushes its pid once connected
GATE = "bench:go"  # the driver pushes one token per worker to start them
STARTS = "bench:starts"  # latency probe -> time.time() when its task started
RSS = "bench:rss"  # each worker process pushes its peak RSS (KiB) as it exits


def noop(i: int) -> None:
    return None


def probe(i: int) -> None:
    started = time.time()
    job = get_current_job()
    assert job is not None
    job.connection.hset(STARTS, str(i), repr(started))


class _Rq(Adapter):
    storage = "Redis"
    needs = frozenset({"redis"})
    bulk_api = "Queue.enqueue_many (pipeline)"
    placements: ClassVar[tuple[str, ...]] = ("separate processes",)
    worker_class: ClassVar[str]
    notes: ClassVar[tuple[str, ...]] = (
        "rq: workers started with logging_level=WARNING (no per-job INFO lines), "
        "result_ttl default (500 s)",
    )

    def __init__(self, res: Resources) -> None:
        super().__init__(res)
        assert res.redis_url is not None
        self.url: str = res.redis_url

    def setup(self, fresh: bool) -> None:
        self.redis = Redis.from_url(self.url)
        self.queue = Queue(QUEUE, connection=self.redis)

    def enqueue_one(self, i: int) -> None:
        self.queue.enqueue(noop, i)

    def enqueue_bulk(self, n: int) -> None:
        with self.redis.pipeline() as pipe:
            self.queue.enqueue_many([Queue.prepare_data(noop, (i,)) for i in range(n)], pipe)
            pipe.execute()

    def completed(self) -> int:
        return int(self.queue.finished_job_registry.get_job_count(cleanup=False))

    def failed(self) -> int:
        return int(self.queue.failed_job_registry.get_job_count(cleanup=False))

    def workers(self, placement: str, burst: bool) -> WorkerHandle:
        self.redis.delete(READY, GATE, RSS)
        spec = json.dumps({"url": self.url, "class": self.worker_class, "burst": burst})
        procs = [spawn([sys.executable, "-m", __name__, spec]) for _ in range(WORKERS)]
        handle = WorkerHandle.processes(
            procs,
            lambda: self.redis.rpush(GATE, *["go"] * WORKERS),
            exit_by_themselves=burst,
            reported_rss=lambda: [int(v) for v in self.redis.lrange(RSS, 0, -1)],
        )
        ready, deadline = 0, time.monotonic() + 60
        while ready < WORKERS:
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                handle.abort()
                raise BenchTimeout("rq worker processes did not all get ready within 60 s")
            ready += _pop(self.redis, READY, 1.0)
        return handle

    def enqueue_probe(self, i: int) -> object:
        self.queue.enqueue(probe, i)
        return i

    def probe_latencies(self, sent: dict[int, tuple[float, object]]) -> list[float]:
        starts = {int(k): float(v) for k, v in self.redis.hgetall(STARTS).items()}
        return [starts[i] - before for i, (before, _) in sent.items() if i >= 0 and i in starts]

    def teardown(self) -> None:
        self.redis.close()


class RqSimple(_Rq):
    name = "rq"
    worker_class = "simple"
    worker_model = f"{WORKERS} SimpleWorker processes"


class RqFork(_Rq):
    name = "rq-fork"
    worker_class = "fork"
    worker_model = f"{WORKERS} Worker processes (fork per job)"


def _pop(redis: Redis, key: str, seconds: float) -> bool:
    """BLPOP for at most ``seconds`` (short: redis-py's default socket timeout is 5 s)."""
    return redis.blpop([key], timeout=seconds) is not None


def _worker_main(spec: dict[str, Any]) -> int:
    redis = Redis.from_url(spec["url"])
    cls = SimpleWorker if spec["class"] == "simple" else Worker
    worker = cls([Queue(QUEUE, connection=redis)], connection=redis)
    redis.rpush(READY, os.getpid())
    deadline = time.monotonic() + 120
    while not _pop(redis, GATE, 1.0):
        if time.monotonic() > deadline:
            return 2
    worker.work(burst=spec["burst"], logging_level="WARNING")
    redis.rpush(RSS, self_rss_kb())
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(json.loads(sys.argv[1])))
