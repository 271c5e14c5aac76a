"""Live job events for Server-Sent Events streams.

One hub per API process watches job changes (LISTEN/NOTIFY on PostgreSQL, so changes made by
workers in any process arrive; in-process signals on SQLite), wakes the streams watching that
job and tells the process's ``JobCache`` to forget it. Every stream also re-reads its job on a
timer, which covers SQLite workers running in other processes and any notification lost while
a connection was down.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import orjson
from starlette.concurrency import run_in_threadpool

from ..jobs import Job, JobNotFound, Queue
from .jobcache import JobCache
from .schemas import JobOut

KEEPALIVE_SECONDS = 15.0


class JobEventHub:
    def __init__(self, queue: Queue, cache: JobCache, recheck_seconds: float) -> None:
        self._queue = queue
        self._cache = cache
        self._recheck = recheck_seconds
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()
        self._watcher = queue.backend.watch_changes(self._changed)

    def close(self) -> None:
        self._watcher.close()

    def _changed(self, job_id: str) -> None:
        self._cache.forget(job_id)
        with self._lock:
            if job_id:
                waiters = list(self._waiters.get(job_id, ()))
            else:  # announcements may have been lost: every stream re-reads
                waiters = [w for ws in self._waiters.values() for w in ws]
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def stream(self, job: Job, last_revision: int | None) -> AsyncIterator[bytes]:
        """SSE frames for ``job`` from after ``last_revision`` until its final event."""
        key = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(job.id, set()).add(key)
        try:
            yield b"retry: 2000\n\n"
            quiet = 0.0
            while True:
                if job.revision != last_revision or job.is_final:
                    yield frame(job)
                    last_revision = job.revision
                    quiet = 0.0
                if job.is_final:
                    return
                try:
                    await asyncio.wait_for(key[1].wait(), timeout=self._recheck)
                except TimeoutError:
                    quiet += self._recheck
                    if quiet >= KEEPALIVE_SECONDS:
                        yield b": keep-alive\n\n"
                        quiet = 0.0
                key[1].clear()
                try:
                    job = await run_in_threadpool(self._queue.get, job.id)
                except JobNotFound:
                    return
        finally:
            with self._lock:
                waiters = self._waiters.get(job.id, set())
                waiters.discard(key)
                if not waiters:
                    self._waiters.pop(job.id, None)


def frame(job: Job) -> bytes:
    event = job.status.value if job.is_final else "progress"
    data = orjson.dumps(JobOut.of(job).model_dump(mode="json")).decode()
    return f"id: {job.revision}\nevent: {event}\ndata: {data}\n\n".encode()
