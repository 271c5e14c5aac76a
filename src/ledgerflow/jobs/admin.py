"""Operator queries over the job store: depth, time series, workers, failed/stuck jobs, search.

Every query is one indexed statement written once for both engines (``:name`` placeholders).
Time series are counted per bucket (minute or hour) from ``finished_at``; run times go into a
log-spaced histogram (bins 15% wide) so that percentiles can be read off any sum of buckets.
Buckets that ended ``SETTLE_SECONDS`` ago no longer change, so each process keeps them in
memory: a request reads only the last few minutes from the database.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from .backends.sql import SqlBackend
from .backends.statements import SELECT, newest_first, row_to_job
from .errors import ConfigurationError
from .ids import _encode
from .models import Job, JobStatus, WorkerInfo
from .queue import JobPage
from .schema import CLAIMABLE, CLAIMABLE_KEYED, HAS_FILE_NAME, IS_RUNNING, UNSUCCESSFUL

if TYPE_CHECKING:
    from .queue import Queue

Histogram = npt.NDArray[np.int64]
MINUTE, HOUR = 60, 3600
WINDOWS: dict[str, tuple[int, int]] = {"hour": (MINUTE, 60), "day": (HOUR, 24)}
SETTLE_SECONDS = 120.0  # a bucket this long past its end is final (late writes, clock skew)
RATIO = 1.15  # run-time histogram: each bin is 15% wider than the one before
_K = 1 / math.log(RATIO)
BINS = 1 + int(math.log(86_400_000) * _K)  # 1 ms .. 1 day; longer runs count in the last bin
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
SERIES = (
    "SELECT task, status, floor((finished_at - :start) / :width),"
    " CASE WHEN status = 'cancelled' OR started_at IS NULL THEN NULL"
    " WHEN finished_at - started_at < 0.001 THEN 0"
    " ELSE floor(ln((finished_at - started_at) * 1000) * :k) END, count(*)"
    " FROM lf_jobs WHERE finished_at >= :start AND finished_at < :end GROUP BY 1, 2, 3, 4"
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


@dataclass(slots=True)
class TaskRuns:
    """One task's jobs finished in one bucket: counts, and a histogram of run times."""

    complete: int = 0
    failed: int = 0
    cancelled: int = 0
    bins: Histogram = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))


def merge(parts: Iterable[TaskRuns]) -> TaskRuns:
    """The sum of several buckets' (or tasks') runs."""
    runs = list(parts)
    if not runs:
        return TaskRuns()
    return TaskRuns(
        sum(r.complete for r in runs),
        sum(r.failed for r in runs),
        sum(r.cancelled for r in runs),
        np.sum([r.bins for r in runs], axis=0, dtype=np.int64),
    )


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    start: float
    complete: int
    failed: int
    cancelled: int
    failure_rate: float | None  # failed / (complete + failed)
    p50: float | None  # run-time percentiles (seconds) of jobs that completed or failed
    p95: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class Series:
    window: str
    bucket_seconds: int
    points: list[SeriesPoint]
    by_task: dict[str, TaskRuns]


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


@dataclass
class _Buckets:
    """Final buckets of one database, by (width, start); shared by the process's requests."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: dict[tuple[int, float], dict[str, TaskRuns]] = field(default_factory=dict)


_BUCKETS: dict[str, _Buckets] = {}
_BUCKETS_LOCK = threading.Lock()


def percentiles(bins: Histogram, qs: Sequence[float]) -> list[float | None]:
    """Quantiles (seconds) of a run-time histogram, each interpolated inside its bin."""
    total = int(bins.sum())
    if not total:
        return [None] * len(qs)
    cumulative = np.cumsum(bins)
    found: list[float | None] = []
    for q in qs:
        target = max(q * total, 1e-9)
        b = int(np.searchsorted(cumulative, target))  # the first bin reaching the target
        seen = int(cumulative[b] - bins[b])
        found.append(math.exp((b + (target - seen) / int(bins[b])) / _K) / 1000)
    return found


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
        with _BUCKETS_LOCK:
            self._buckets = _BUCKETS.setdefault(backend.url, _Buckets())

    # --- plumbing ------------------------------------------------------------------------
    def _rows(self, statement: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        def read(conn: Any) -> list[Any]:
            if isinstance(conn, sqlite3.Connection):
                _math_functions(conn)
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
        if window not in WINDOWS:
            raise ConfigurationError(f"window must be one of {sorted(WINDOWS)}")
        width, count = WINDOWS[window]
        now = time.time() if now is None else now
        first = (now // width - count + 1) * width
        starts = [first + i * width for i in range(count)]
        buckets = self._bucket_runs(width, starts, now)
        self._prune(now)
        points: list[SeriesPoint] = []
        for start in starts:
            total = merge(r for name, r in buckets[start].items() if task in (None, name))
            ended = total.complete + total.failed
            p50, p95, p99 = percentiles(total.bins, (0.5, 0.95, 0.99))
            points.append(
                SeriesPoint(
                    start, total.complete, total.failed, total.cancelled,
                    total.failed / ended if ended else None, p50, p95, p99,
                )
            )  # fmt: skip
        names = {name for bucket in buckets.values() for name in bucket}
        by_task = {n: merge(b[n] for b in buckets.values() if n in b) for n in sorted(names)}
        return Series(window, width, points, by_task)

    def _bucket_runs(
        self, width: int, starts: list[float], now: float
    ) -> dict[float, dict[str, TaskRuns]]:
        cache = self._buckets
        final = [s for s in starts if s + width <= now - SETTLE_SECONDS]
        with cache.lock:
            missing = [s for s in final if (width, s) not in cache.done]
        if missing:
            fetched = self._fetch(width, missing[0], missing[-1] + width)
            with cache.lock:
                for s in missing:
                    cache.done[(width, s)] = fetched.get(s, {})
        with cache.lock:
            result = {s: cache.done[(width, s)] for s in final}
        live = [s for s in starts if s not in result]
        if live and width == MINUTE:
            result.update(self._fetch(width, live[0], live[-1] + width))
        elif live:  # an hour still filling up: the sum of its minutes
            for s in live:
                minutes = [float(m) for m in range(int(s), int(s + width), MINUTE) if m <= now]
                parts = self._bucket_runs(MINUTE, minutes, now).values()
                names = {name for part in parts for name in part}
                result[s] = {n: merge(p[n] for p in parts if n in p) for n in names}
        for s in starts:
            result.setdefault(s, {})
        return result

    def _fetch(self, width: int, start: float, end: float) -> dict[float, dict[str, TaskRuns]]:
        params = {"start": start, "end": end, "width": float(width), "k": _K}
        found: dict[float, dict[str, TaskRuns]] = {}
        for name, status, index, run_bin, n in self._rows(SERIES, params):
            runs = found.setdefault(start + int(index) * width, {}).setdefault(name, TaskRuns())
            if status == "complete":
                runs.complete += n
            elif status == "failed":
                runs.failed += n
            else:
                runs.cancelled += n
            if run_bin is not None:
                runs.bins[min(int(run_bin), BINS - 1)] += n
        return found

    def _prune(self, now: float) -> None:
        with self._buckets.lock:
            for key in [k for k in self._buckets.done if k[1] < now - 2 * WINDOWS["day"][1] * HOUR]:
                del self._buckets.done[key]

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


def _math_functions(conn: sqlite3.Connection) -> None:
    """``ln`` and ``floor`` exist only in SQLite builds with math functions; add them if not."""
    try:
        conn.execute("SELECT ln(1), floor(1.5)")
    except sqlite3.OperationalError:
        conn.create_function("ln", 1, math.log, deterministic=True)
        conn.create_function("floor", 1, math.floor, deterministic=True)
