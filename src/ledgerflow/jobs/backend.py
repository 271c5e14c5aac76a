"""The one seam between the runtime and a database engine.

Everything above this Protocol (``Queue``, ``Worker``, maintenance) is engine-agnostic; everything
below it (``backends/sqlite.py``, ``backends/postgres.py``) speaks one engine's SQL and driver.
No driver type crosses it: driver errors become ``BackendError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .models import (
    HeldJob,
    Job,
    ListFilter,
    NewJob,
    Outcome,
    ProgressUpdate,
    QueueStats,
    WorkerInfo,
)


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    worker_id: str
    queues: tuple[str, ...]
    limit: int
    now: float
    lease_until: float
    # A poll on a timer, with no news of work: the backend may first look, without a write
    # lock, whether the claim would find anything.
    poll: bool = False


@dataclass(frozen=True, slots=True)
class RescueReport:
    retried: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.retried + self.failed + self.cancelled


class Watcher(Protocol):
    """A background watch for new work; ``close`` ends it."""

    def close(self) -> None: ...


class Backend(Protocol):
    url: str
    shared_changes: bool
    """Whether ``watch_changes`` hears every process's changes (PostgreSQL's NOTIFY), so that a
    reader may keep a job it read until it hears that the job changed."""

    def migrate(self) -> None: ...

    def close(self) -> None: ...

    def insert(self, jobs: Sequence[NewJob], connection: object | None = None) -> list[Job]:
        """Insert jobs; a job whose (company, idempotency key) exists yields the existing job."""

    def insert_bulk(
        self, template: NewJob, ids: Sequence[str], args: Iterable[dict[str, Any]]
    ) -> None:
        """Insert one job per id and its args, all else as in ``template``, by the fastest path,
        in a transaction of its own: ``args`` is read as the rows are written, and an error it
        raises leaves nothing inserted."""

    def get(self, job_id: str) -> Job | None: ...

    def list_jobs(self, flt: ListFilter) -> list[Job]: ...

    def cancel(self, job_id: str, now: float) -> Job | None:
        """Cancel a pending job at once; flag a running one. None if no such job."""

    def exchange(
        self,
        outcomes: Sequence[Outcome],
        progress: Sequence[ProgressUpdate],
        claim: ClaimRequest | None,
    ) -> list[Job]:
        """In one transaction: record finished attempts and progress, then claim new jobs."""

    def held(self, worker_id: str) -> dict[str, HeldJob]:
        """The jobs this worker holds in the database: cancel requested, attempt."""

    def heartbeat(self, worker: WorkerInfo, lease_until: float) -> dict[str, HeldJob]:
        """Beat, extend the leases of the worker's jobs and return ``held`` in one transaction."""

    def stop_worker(self, worker_id: str, now: float) -> None: ...

    def workers(self) -> list[WorkerInfo]: ...

    def stats(self, since: float) -> QueueStats: ...

    def rescue(self, now: float, page_size: int) -> RescueReport:
        """Jobs whose lease expired go back to pending, or fail once attempts are spent."""

    def sweep(self, finished_before: float, page_size: int) -> int:
        """Delete final jobs (and stopped workers) older than the cut-off; returns jobs deleted."""

    def try_lead(self, holder: str, now: float, ttl: float) -> bool:
        """Take or keep the maintenance role; True while this holder has it."""

    def watch(self, on_signal: Callable[[], None]) -> Watcher:
        """Call ``on_signal`` whenever work may have arrived: enqueued here or elsewhere."""

    def watch_changes(self, on_change: Callable[[str], None]) -> Watcher:
        """Call ``on_change(job_id)`` when a job changes: here, or (PostgreSQL) in any process.

        This process's changes are announced as soon as they commit, before the call that made
        them returns. ``on_change("")`` says announcements may have been lost (the listener
        reconnected): whatever a watcher kept may be stale. On SQLite only this process's
        changes are announced; watchers of jobs run by other processes must also re-read on a
        timer.
        """

    def wake_local(self) -> None:
        """Signal the waiters of this process at once (after a commit made here)."""
