"""Jobs this API process read recently, kept until it hears they changed.

Every open page polls its job once a second, and many pages may watch one job. On PostgreSQL
every change to a job is announced (NOTIFY, and in-process before the writer's call returns),
so a job read once can answer the polls that follow until its announcement arrives, without a
round trip that would hold up the event loop whenever the database is slow.

Correctness rests on three rules:

* a read may be kept only if no announcement for that job came while it was in flight (it
  could be older than the change announced), so each read holds a ticket that an
  announcement cancels;
* an empty announcement (the listener reconnected: announcements may have been lost)
  forgets everything;
* nothing is kept longer than ``max_age`` seconds, which bounds how stale a copy can be
  after a change nobody announces (the TTL sweep deleting old jobs).

On engines whose announcements do not cross processes (SQLite), nothing is kept.
"""

from __future__ import annotations

import threading
import time

from ..jobs import Job, Queue

MAX_ENTRIES = 20_000


class JobCache:
    def __init__(self, queue: Queue, max_age: float) -> None:
        self._queue = queue
        self._max_age = max_age
        self.enabled = queue.backend.shared_changes
        self._kept: dict[str, tuple[float, Job]] = {}
        self._tickets: dict[str, object] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job:
        """The job, from memory if nothing changed it since it was read; else read and kept.

        Raises ``JobNotFound`` as ``Queue.get`` does.
        """
        if not self.enabled:
            return self._queue.get(job_id)
        now = time.monotonic()
        ticket = object()
        with self._lock:
            kept = self._kept.get(job_id)
            if kept is not None and kept[0] > now:
                return kept[1]
            self._tickets[job_id] = ticket
        try:
            job = self._queue.get(job_id)
        except BaseException:
            self._settle(job_id, ticket, None, now)
            raise
        self._settle(job_id, ticket, job, now)
        return job

    def _settle(self, job_id: str, ticket: object, job: Job | None, read_at: float) -> None:
        """End a read: keep what it found, unless an announcement cancelled its ticket."""
        with self._lock:
            if self._tickets.get(job_id) is not ticket:
                return
            del self._tickets[job_id]
            if job is None:
                return
            self._kept.pop(job_id, None)  # re-inserted last, so eviction takes the oldest
            if len(self._kept) >= MAX_ENTRIES:
                del self._kept[next(iter(self._kept))]
            self._kept[job_id] = (read_at + self._max_age, job)

    def forget(self, job_id: str) -> None:
        """The job changed (or, for ``""``, anything may have): stop answering from memory."""
        with self._lock:
            if job_id:
                self._kept.pop(job_id, None)
                self._tickets.pop(job_id, None)
            else:
                self._kept.clear()
                self._tickets.clear()
