"""Maintenance: rescue jobs whose worker stopped beating, delete expired jobs.

Every worker process runs this loop, but only the one holding the maintenance role (a
PostgreSQL advisory lock, a lease row on SQLite) does the work, so it runs on one node at a
time. Both passes page through rows and update them in bulk.

Scheduled jobs need no promoting: a job waiting for its ``run_at`` is a pending row that the
claim skips until it is due, and idle workers poll at ``poll_interval``.
"""

from __future__ import annotations

import logging
import threading
import time

from .backend import Backend
from .errors import BackendError

log = logging.getLogger("ledgerflow.jobs.maintenance")
PAGE_SIZE = 1000
SWEEP_EVERY = 60.0


class Maintenance:
    def __init__(self, backend: Backend, holder: str, interval: float, ttl: float) -> None:
        self._backend = backend
        self._holder = holder
        self._interval = interval
        self._ttl = ttl
        self._next_sweep = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lf-maintenance", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # a worker stopped while starting never started it
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.run_once()
            except BackendError as exc:
                log.warning("maintenance pass failed: %s", exc)

    def run_once(self) -> bool:
        """One pass if this process holds the role; returns whether it did."""
        now = time.time()
        if not self._backend.try_lead(self._holder, now, ttl=3 * self._interval):
            return False
        report = self._backend.rescue(now, PAGE_SIZE)
        if report.total:
            log.warning(
                "rescued %d jobs from lost workers (%d retried, %d failed, %d cancelled)",
                report.total, report.retried, report.failed, report.cancelled,
            )  # fmt: skip
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            deleted = self._backend.sweep(now - self._ttl, PAGE_SIZE)
            if deleted:
                log.info("deleted %d finished jobs older than %.0f s", deleted, self._ttl)
        return True
