"""Procrastinate on a fresh PostgreSQL database with its schema applied.

The worker is the documented ``App.run_worker_async(concurrency=4)`` (what ``procrastinate
worker --concurrency 4`` runs), on its own event loop in a thread of this process; jobs are
deferred through a second, synchronous ``App`` as a web process would. Tasks are ``async def``,
the form procrastinate documents for concurrency (sync tasks would be sent to threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any, ClassVar

import procrastinate
import psycopg

from common import KEYS, WORKERS, Adapter, NotSupported, Resources, WorkerHandle

STARTS: dict[int, float] = {}  # latency probe -> time.time() when its task started


async def noop(i: int) -> None:
    return None


async def probe(i: int) -> None:
    STARTS[i] = time.time()


class Procrastinate(Adapter):
    name = "procrastinate"
    storage = "PostgreSQL"
    worker_model = f"concurrency {WORKERS} (asyncio), 1 process"
    needs = frozenset({"postgres"})
    bulk_api = "Task.batch_defer"
    notes: ClassVar[tuple[str, ...]] = (
        "procrastinate: async def tasks, worker defaults (LISTEN/NOTIFY on, jobs kept)",
    )
    one_at_a_time_per_key = True  # a job's ``lock``: one job of each lock runs at a time

    def __init__(self, res: Resources) -> None:
        super().__init__(res)
        assert res.pg_url is not None
        self.url: str = res.pg_url

    def _app(self) -> tuple[procrastinate.App, Any, Any]:
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=self.url))
        return app, app.task(name="bench.noop")(noop), app.task(name="bench.probe")(probe)

    def setup(self, fresh: bool) -> None:
        self.app, self.noop, self.probe = self._app()
        self.app.open()
        if fresh:
            self.app.schema_manager.apply_schema()
        self.conn = psycopg.connect(self.url, autocommit=True)

    def enqueue_one(self, i: int) -> None:
        self.noop.defer(i=i)

    def enqueue_bulk(self, n: int) -> None:
        self.noop.batch_defer(*[{"i": i} for i in range(n)])

    def prefill(self, n: int, kind: str = "noop") -> dict[str, Any]:
        if kind in ("noop", "companies"):  # no meta to put a company in: the same jobs
            self.enqueue_bulk(n)
        elif kind == "keyed-1":  # interleaved, each job with its company's lock
            deferrers = [self.noop.configure(lock=f"co_{k}") for k in range(KEYS)]
            jobs = [deferrers[i % KEYS].make_new_job(i=i) for i in range(n)]
            self.app.job_manager.batch_defer_jobs(jobs)
        elif kind == "keyed-1-blocks":
            for k in range(KEYS):
                lock = self.noop.configure(lock=f"co_{k}")
                lock.batch_defer(*[{"i": i} for i in range(k, n, KEYS)])
        else:
            raise NotSupported(f"{self.name}: no {kind!r} jobs")
        return {}

    def _count(self, statuses: tuple[str, ...]) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = ANY(%s)", (list(statuses),)
        ).fetchone()
        assert row is not None
        return int(row[0])

    def completed(self) -> int:
        return self._count(("succeeded",))

    def failed(self) -> int:
        return self._count(("failed", "aborted", "cancelled"))

    def workers(self, placement: str, burst: bool) -> WorkerHandle:
        app, _, _ = self._app()
        loop = asyncio.new_event_loop()
        errors: list[BaseException] = []

        async def main() -> None:
            async with app.open_async():
                await app.run_worker_async(concurrency=WORKERS, install_signal_handlers=False)

        main_task = loop.create_task(main())

        def run() -> None:
            try:
                loop.run_until_complete(main_task)
            except asyncio.CancelledError:
                pass
            except BaseException as exc:
                errors.append(exc)
            finally:
                loop.close()

        thread = threading.Thread(target=run, name="procrastinate-worker", daemon=True)

        def stop() -> None:
            # Cancelling run_worker_async is the documented graceful stop when embedding it.
            with contextlib.suppress(RuntimeError):  # the loop already ended (on an error)
                loop.call_soon_threadsafe(main_task.cancel)
            thread.join()
            if errors:
                raise errors[0]

        return WorkerHandle.threads(thread.start, stop, "procrastinate worker")

    def enqueue_probe(self, i: int) -> object:
        self.probe.defer(i=i)
        return i

    def probe_latencies(self, sent: dict[int, tuple[float, object]]) -> list[float]:
        return [STARTS[i] - before for i, (before, _) in sent.items() if i >= 0 and i in STARTS]

    def teardown(self) -> None:
        self.conn.close()
        self.app.close()
