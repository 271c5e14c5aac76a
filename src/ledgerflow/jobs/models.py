"""Plain data: the job record, its status, and the parameter objects the backends take."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = Any


class JobStatus(enum.StrEnum):
    """``pending → running → complete | failed | cancelled``; a retry goes back to pending."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED})


def to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True, slots=True)
class Job:
    """A snapshot of one job row. Timestamps are seconds since the epoch (UTC)."""

    id: str
    task: str
    queue: str
    status: JobStatus
    args: dict[str, JSON]
    meta: dict[str, JSON]
    company_id: str
    progress: int
    message: str | None
    result: JSON
    error: str | None
    traceback: str | None
    attempts: int
    max_attempts: int
    priority: int
    timeout: float
    run_at: float
    created_at: float
    started_at: float | None
    finished_at: float | None
    lease_expires_at: float | None
    worker_id: str | None
    idempotency_key: str | None
    concurrency_key: str | None
    concurrency_limit: int | None
    cancel_requested: bool
    revision: int

    @property
    def is_final(self) -> bool:
        return self.status.is_final


@dataclass(frozen=True, slots=True)
class NewJob:
    """Everything needed to insert one job; built by ``Queue.enqueue``."""

    id: str
    task: str
    queue: str
    args: dict[str, JSON]
    meta: dict[str, JSON]
    company_id: str
    max_attempts: int
    priority: int
    timeout: float
    run_at: float
    created_at: float
    idempotency_key: str | None = None
    concurrency_key: str | None = None
    concurrency_limit: int | None = None


class OutcomeKind(enum.StrEnum):
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRY = "retry"
    RELEASE = "release"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended; applied only while `worker_id` still holds the job at `attempt`."""

    job_id: str
    worker_id: str
    attempt: int
    kind: OutcomeKind
    at: float
    result: JSON = None
    error: str | None = None
    traceback: str | None = None
    retry_at: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    job_id: str
    worker_id: str
    attempt: int
    progress: int
    message: str | None


@dataclass(frozen=True, slots=True)
class HeldJob:
    """A running job as its worker's row says: cancel requested? which attempt?"""

    cancel_requested: bool
    attempt: int


@dataclass(frozen=True, slots=True)
class ListFilter:
    company_id: str | None = None
    status: JobStatus | None = None
    task: str | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class RunTimes:
    """Run times of one task's completed jobs: count, total seconds, cumulative bucket counts."""

    count: int
    total_seconds: float
    buckets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Jobs by (task, status), and run times of jobs completed since a moment."""

    counts: dict[tuple[str, str], int]
    run_times: dict[str, RunTimes]
    bucket_bounds: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    started_at: float
    heartbeat_at: float
    stopped_at: float | None = None
    running_jobs: int = field(default=0)
