"""``JobContext``: what a running task sees of its job, and its cheap, throttled progress."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Any

from .errors import Cancelled
from .models import Job, ProgressUpdate

# At most ~4 writes a second per job; a final 100 % is written at once.
PROGRESS_INTERVAL = 0.25


class AbortReason(enum.Enum):
    CANCELLED = "cancelled"
    TIMED_OUT = "timed out"
    SHUTDOWN = "worker shutting down"
    LOST = "worker lost its hold on the job"


class JobContext:
    """Passed as the first argument of every task.

    ``progress`` only records the value in memory; the worker writes it at most every 250 ms
    (100 % at once), so calling it in a tight loop is cheap. It raises ``Cancelled`` once the job is
    cancelled (or timed out, or the worker is stopping), which is how a running task stops.
    """

    __slots__ = (
        "_abort",
        "_database_url",
        "_due_at",
        "_message",
        "_next",
        "_on_urgent",
        "_progress",
        "_worker_id",
        "dirty",
        "job",
    )

    def __init__(
        self,
        job: Job,
        worker_id: str,
        on_urgent: Callable[[], None],
        database_url: str = "",
    ) -> None:
        self.job = job
        self._database_url = database_url
        self._worker_id = worker_id
        self._on_urgent = on_urgent
        self._progress = 0
        self._next = 1  # the least percent that raises the progress
        self._message: str | None = None
        self._abort: AbortReason | None = None
        self._due_at = time.monotonic() + PROGRESS_INTERVAL
        self.dirty = False

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def attempt(self) -> int:
        return self.job.attempts

    @property
    def meta(self) -> dict[str, Any]:
        return self.job.meta

    @property
    def database_url(self) -> str:
        """The database this job is stored in, for tasks that keep their data beside it."""
        return self._database_url

    @property
    def is_cancelled(self) -> bool:
        return self._abort is not None

    def progress(self, percent: float, message: str | None = None) -> None:
        """Report ``percent`` (0–100, never going back) and an optional message."""
        # The hot path of a tight loop: a call between two whole percents with a new message
        # is a few attribute reads and writes, no builtin call and no clock read. Once the
        # job is marked for a write, the worker times it; the clock is read only when it is
        # marked, in case the write is overdue already and the worker waits for something else.
        if self._abort is not None:
            raise Cancelled(f"job {self.job.id} {self._abort.value}")
        if percent >= self._next:  # risen by a whole percent at least (NaN never rises)
            value = int(min(percent, 100))
            self._progress, self._next = value, value + 1
            if value == 100:  # written at once, not at the next interval
                if message is not None:
                    self._message = message
                self.dirty = True
                self._on_urgent()
                return
        elif message is None or message == self._message:
            return
        if message is not None:
            self._message = message
        if not self.dirty:
            self.dirty = True
            if time.monotonic() >= self._due_at:
                self._on_urgent()

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` if the job was cancelled; call it in long loops without progress."""
        if self._abort is not None:
            raise Cancelled(f"job {self.job.id} {self._abort.value}")

    # --- used by the worker -----------------------------------------------------------------
    def abort(self, reason: AbortReason) -> None:
        if self._abort is None:
            self._abort = reason

    @property
    def abort_reason(self) -> AbortReason | None:
        return self._abort

    @property
    def last_message(self) -> str | None:
        return self._message

    def take_update(self, now: float, force: bool = False) -> ProgressUpdate | None:
        """The pending write, if one is due (every 250 ms, or at once at 100 %)."""
        if not self.dirty:
            return None
        if not force and self._progress < 100 and now < self._due_at:
            return None
        self.dirty = False
        self._due_at = now + PROGRESS_INTERVAL
        return ProgressUpdate(
            self.job.id, self._worker_id, self.job.attempts, self._progress, self._message
        )

    def due_in(self, now: float) -> float | None:
        if not self.dirty:
            return None
        return max(0.0, self._due_at - now)
