"""Operator queries over the job store: depth, time series, workers, failed/stuck jobs, search.

Every query is one indexed statement written once for both engines (``:name`` placeholders).
The time series and their run-time histograms are ``series.py``'s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .backends.sql import SqlBackend
from .backends.statements import SELECT, newest_first, row_to_job
from .errors import ConfigurationError
from .ids import _encode
from .models import Job, JobStatus, WorkerInfo
from .queue import JobPage
from .schema import CLAIMABLE, CLAIMABLE_KEYED, HAS_FILE_NAME, IS_RUNNING, UNSUCCESSFUL
from .series import RunSeries, Series

if TYPE_CHECKING:
    from .queue import Queue

ID_SLACK_MS = 60_000  # ids embed their creation time; allow this much drift from created_at
MAX_LIMIT = 500
META_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# Live jobs are read through the indexes the workers keep anyway: pending ones through the two
# claim indexes, running ones through ``lf_jobs_running`` (a few hundred at most). Each part
# states its index's own predicate (schema.py): SQLite uses a partial index only when the
# query states its condition, and PostgreSQL cannot prove it from a bound parameter. An index
# of its own (``lf_jobs_live``, 0002–0005) made every enqueue, claim and completion write one
# more index entry for the sake of this page.
PENDING = (CLAIMABLE, CLAIMABLE_KEYED)
LIVE_PARTS = (*PENDING, IS_RUNNING)
DEPTH = (
    "SELECT queue, task, status, sum(n), sum(ready), min(oldest) FROM ("
    + " UNION ALL ".join(
        "SELECT queue, task, status, count(*) AS n,"
        " sum(CASE WHEN run_at <= :now THEN 1 ELSE 0 END) AS ready, min(run_at) AS oldest"
        f" FROM lf_jobs WHERE {where} GROUP BY queue, task, status"
        for where in LIVE_PARTS
    )
    + ") AS parts GROUP BY queue, task, status"
)
RUNNING = f"SELECT {SELECT} FROM lf_jobs WHERE status = 'running' ORDER BY started_at LIMIT 500"
EXPIRED = (
    f"SELECT {SELECT} FROM lf_jobs WHERE status = 'running' AND lease_expires_at < :now"
    " ORDER BY lease_expires_at LIMIT :limit"
)
OVERDUE = (
    "SELECT * FROM ("
    + " UNION ALL ".join(
        f"SELECT * FROM (SELECT {SELECT} FROM lf_jobs WHERE {where} AND run_at < :before"
        f" ORDER BY run_at LIMIT :limit) AS p{i}"
        for i, where in enumerate(PENDING)
    )
    + ") AS overdue ORDER BY run_at LIMIT :limit"
)
COUNT_EXPIRED = "SELECT count(*) FROM lf_jobs WHERE status = 'running' AND lease_expires_at < :now"
COUNT_OVERDUE = "SELECT " + " + ".join(
    f"(SELECT count(*) FROM lf_jobs WHERE {where} AND run_at < :before)" for where in PENDING
)
# A running job whose lease ran out belongs to nobody: the admin may end it at once. A late
# finisher's write is fenced on status = 'running' and so cannot undo this.
FORCE_CANCEL = (
    "UPDATE lf_jobs SET status = 'cancelled', finished_at = :now, lease_expires_at = NULL,"
    " cancel_requested = TRUE, error = COALESCE(error, :error), revision = revision + 1"
    " WHERE id = :id AND status = 'running' AND lease_expires_at < :now"
)


@dataclass(frozen=True, slots=True)
class DepthRow:
    queue: str
    task: str
    status: str
    count: int
    ready: int  # pending and due (run_at has passed); for running jobs, all of them
    oldest_run_at: float | None


@dataclass(frozen=True, slots=True)
class WorkerState:
    info: WorkerInfo
    state: Literal["ok", "late", "stopped"]
    jobs: list[Job]


@dataclass(frozen=True, slots=True)
class Stuck:
    expired: list[Job]  # running, lease expired: the worker is gone, rescue has not run yet
    expired_total: int
    overdue: list[Job]  # pending, due long ago and still not claimed
    overdue_total: int


@dataclass(frozen=True, slots=True)
class Search:
    """Filters for ``JobsAdmin.search``; every one given must match."""

    job_id: str | None = None
    company_id: str | None = None
    task: str | None = None
    status: JobStatus | None = None
    created_from: float | None = None
    created_to: float | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    limit: int = 50
    cursor: str | None = None


def id_bound(epoch: float, high: bool) -> str:
    """The smallest (or largest) job id created at ``epoch`` ± ``ID_SLACK_MS``."""
    ms = max(0, int(epoch * 1000) + (ID_SLACK_MS if high else -ID_SLACK_MS))
    return "job_" + _encode(min(ms, 2**50 - 1), 5) + ("Z" if high else "0") * 16


class JobsAdmin:
    """Read-mostly queries for the people who run the instance; take a ``Queue``."""

    def __init__(self, queue: Queue) -> None:
        backend = queue.backend
        if not isinstance(backend, SqlBackend):
            raise ConfigurationError("the admin queries need an SQL backend")
        self.queue = queue
        self.backend: SqlBackend[Any] = backend
        self.sqlite = backend.url.startswith("sqlite")
        self._series = RunSeries(backend.url, self._rows)

    # --- plumbing ------------------------------------------------------------------------
    def _rows(self, statement: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        def read(conn: Any) -> list[Any]:
            rows: list[Any] = self.backend.execute(conn, statement, dict(params or {})).fetchall()
            return rows

        return self.backend.run(read, write=False)

    # --- queue depth ---------------------------------------------------------------------
    def depth(self, now: float | None = None) -> list[DepthRow]:
        """Pending and running jobs by queue, type and status."""
        now = time.time() if now is None else now
        rows = self._rows(DEPTH, {"now": now})
        return sorted(
            (DepthRow(q, t, s, n, int(ready or 0), oldest) for q, t, s, n, ready, oldest in rows),
            key=lambda r: (r.queue, r.task, r.status),
        )

    # --- time series ---------------------------------------------------------------------
    def series(
        self, window: str = "hour", now: float | None = None, task: str | None = None
    ) -> Series:
        """Throughput, failure rate and run-time percentiles per minute (hour) or hour (day)."""
        return self._series.series(window, now, task)

    # --- workers -------------------------------------------------------------------------
    @property
    def late_after(self) -> float:
        """Seconds without a heartbeat after which a worker counts as late: three beats missed."""
        settings = self.queue.settings
        return min(3 * settings.heartbeat_interval, settings.worker_timeout)

    def workers(
        self, now: float | None = None, late_after: float | None = None
    ) -> list[WorkerState]:
        """Every known worker with the jobs it holds; ``late`` once its heartbeat is overdue."""
        now = time.time() if now is None else now
        late_after = late_after or self.late_after
        held: dict[str, list[Job]] = {}
        for row in self._rows(RUNNING):
            job = row_to_job(row)
            held.setdefault(job.worker_id or "", []).append(job)
        states: list[WorkerState] = []
        for info in self.backend.workers():
            state: Literal["ok", "late", "stopped"] = "ok"
            if info.stopped_at is not None:
                state = "stopped"
            elif now - info.heartbeat_at > late_after:
                state = "late"
            states.append(WorkerState(info, state, held.get(info.id, [])))
        return states

    # --- failed and stuck jobs -----------------------------------------------------------
    def failed(self, limit: int = 50, cursor: str | None = None) -> JobPage:
        """Failed jobs, newest first."""
        return self.search(Search(status=JobStatus.FAILED, limit=limit, cursor=cursor))

    def stuck(
        self, now: float | None = None, overdue_after: float = 600.0, limit: int = 50
    ) -> Stuck:
        """Running jobs whose lease expired, and pending jobs due over ``overdue_after`` ago."""
        now = time.time() if now is None else now
        _check_limit(limit)
        before = now - overdue_after
        expired = self._rows(EXPIRED, {"now": now, "limit": limit})
        overdue = self._rows(OVERDUE, {"before": before, "limit": limit})
        return Stuck(
            [row_to_job(r) for r in expired],
            self._rows(COUNT_EXPIRED, {"now": now})[0][0],
            [row_to_job(r) for r in overdue],
            self._rows(COUNT_OVERDUE, {"before": before})[0][0],
        )

    # --- search --------------------------------------------------------------------------
    def search(self, flt: Search) -> JobPage:
        """Jobs matching every filter, newest first; pass ``next_cursor`` back for more."""
        _check_limit(flt.limit)
        statement, params = self.search_query(flt)
        jobs = [row_to_job(r) for r in self._rows(statement, params)]
        more = len(jobs) > flt.limit
        jobs = jobs[: flt.limit]
        return JobPage(jobs, jobs[-1].id if more else None)

    def search_query(self, flt: Search) -> tuple[str, dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": flt.limit + 1}
        for column, value in (
            ("id", flt.job_id),
            ("company_id", flt.company_id),
            ("task", flt.task),
        ):
            if value is not None:
                clauses.append(f"{column} = :{column}")
                params[column] = value
        if flt.status is not None:  # a literal from the enum, so partial indexes apply
            status = JobStatus(flt.status).value
            unsuccessful = status in ("failed", "cancelled")
            clauses.append(f"{UNSUCCESSFUL} AND " * unsuccessful + f"status = '{status}'")
        if flt.created_from is not None:
            clauses.append("created_at >= :created_from AND id >= :id_from")
            params.update(created_from=flt.created_from, id_from=id_bound(flt.created_from, False))
        if flt.created_to is not None:
            clauses.append("created_at < :created_to AND id <= :id_to")
            params.update(created_to=flt.created_to, id_to=id_bound(flt.created_to, True))
        for key in flt.meta:
            if not META_KEY.fullmatch(key):
                raise ConfigurationError(f"meta keys are letters, digits and _, not {key!r}")
        for i, (key, value) in enumerate(sorted(flt.meta.items())):
            # The key is a literal: an expression index applies (``file_name`` has one).
            path = (
                f"json_extract(meta, '$.{key}')"
                if self.sqlite
                else f"CAST(meta AS jsonb) ->> '{key}'"
            )
            clauses.append(f"{HAS_FILE_NAME} AND " * (key == "file_name") + f"{path} = :meta{i}")
            params[f"meta{i}"] = value
        if flt.cursor is not None:
            clauses.append("id < :cursor")
            params["cursor"] = flt.cursor
        return newest_first(clauses), params

    # --- actions -------------------------------------------------------------------------
    def retry(self, job_id: str) -> Job:
        """A fresh copy of a failed or cancelled job (``meta.retry_of`` names the original)."""
        return self.queue.retry(job_id)

    def cancel(self, job_id: str, now: float | None = None) -> Job:
        """Cancel a pending job, flag a running one; one whose lease expired ends at once."""
        now = time.time() if now is None else now
        params = {"id": job_id, "now": now, "error": "Cancelled by an administrator."}
        after: list[Callable[[], None]] = []

        def force(conn: Any) -> int:
            changed: int = self.backend.execute(conn, FORCE_CANCEL, params).rowcount
            if changed:
                after.append(self.backend.changed(conn, [job_id]))
            return changed

        if not self.backend.run(force):
            return self.queue.cancel(job_id)
        for publish in after:
            publish()
        return self.queue.get(job_id)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigurationError(f"limit must be between 1 and {MAX_LIMIT}")
