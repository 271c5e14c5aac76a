"""The SQL every engine shares, written once with ``:name`` placeholders, and row mapping.

An engine converts placeholders to its driver's paramstyle (``to_pyformat`` for psycopg).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import orjson

from ..models import Job, JobStatus, ListFilter, NewJob, Outcome, OutcomeKind, ProgressUpdate

Row = Sequence[Any]

COLUMNS = (
    "id",
    "task",
    "queue",
    "status",
    "args",
    "meta",
    "company_id",
    "progress",
    "message",
    "result",
    "error",
    "traceback",
    "attempts",
    "max_attempts",
    "priority",
    "timeout",
    "run_at",
    "created_at",
    "started_at",
    "finished_at",
    "lease_expires_at",
    "worker_id",
    "idempotency_key",
    "concurrency_key",
    "concurrency_limit",
    "cancel_requested",
    "revision",
)
SELECT = ", ".join(COLUMNS)
INSERT_COLUMNS = (
    "id",
    "task",
    "queue",
    "args",
    "meta",
    "company_id",
    "max_attempts",
    "priority",
    "timeout",
    "run_at",
    "created_at",
    "idempotency_key",
    "concurrency_key",
    "concurrency_limit",
)
_INSERT = (
    f"INSERT INTO lf_jobs ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in INSERT_COLUMNS)})"
)
INSERT_JOB = _INSERT
INSERT_JOB_IDEMPOTENT = (
    _INSERT + " ON CONFLICT (company_id, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL DO NOTHING"
)
SELECT_BY_KEY = (
    f"SELECT {SELECT} FROM lf_jobs WHERE company_id = :company_id AND idempotency_key = :key"
)
SELECT_BY_ID = f"SELECT {SELECT} FROM lf_jobs WHERE id = :id"

# A worker writes each batch with one statement per kind of write, whatever its size: the
# rows travel as one JSON array bound to ``:rows``, which each engine turns into a table ``v``
# (``SqlBackend.rows_table``). On PostgreSQL one statement completed 59 jobs in 2.7 ms where
# 59 pipelined single-row updates took 7.5 ms. These name the rows' columns and their types.
_FENCE_COLUMNS = {"id": "text", "worker": "text", "attempt": "integer"}
OUTCOME_COLUMNS = {
    **_FENCE_COLUMNS,
    "at": "real",
    "result": "text",
    "error": "text",
    "traceback": "text",
    "retry_at": "real",
    "message": "text",
}
PROGRESS_COLUMNS = {**_FENCE_COLUMNS, "progress": "integer", "message": "text"}
# Every write from a worker is fenced: it applies only while the job is still held by that
# worker at that attempt, so a rescued job's late finisher cannot overwrite the new attempt.
_FENCE = (
    "FROM {rows} WHERE lf_jobs.id = v.id AND lf_jobs.worker_id = v.worker"
    " AND lf_jobs.attempts = v.attempt AND lf_jobs.status = 'running'"
)
_CANCEL_INSTEAD = "CASE WHEN lf_jobs.cancel_requested THEN 'cancelled' ELSE 'pending' END"
_FINISHED_IF_CANCELLED = "CASE WHEN lf_jobs.cancel_requested THEN v.at END"
_ENDED = "lease_expires_at = NULL, revision = lf_jobs.revision + 1"
FINISH = {
    OutcomeKind.COMPLETE: "UPDATE lf_jobs SET status = 'complete', progress = 100,"
    " result = v.result, message = COALESCE(v.message, lf_jobs.message), finished_at = v.at,"
    f" {_ENDED} {_FENCE}",
    OutcomeKind.FAILED: "UPDATE lf_jobs SET status = 'failed', error = v.error,"
    f" traceback = v.traceback, finished_at = v.at, {_ENDED} {_FENCE}",
    OutcomeKind.CANCELLED: f"UPDATE lf_jobs SET status = 'cancelled', finished_at = v.at,"
    f" {_ENDED} {_FENCE}",
    OutcomeKind.RETRY: f"UPDATE lf_jobs SET status = {_CANCEL_INSTEAD},"
    f" finished_at = {_FINISHED_IF_CANCELLED}, run_at = v.retry_at, error = v.error,"
    f" traceback = v.traceback, worker_id = NULL, {_ENDED} {_FENCE}",
    OutcomeKind.RELEASE: f"UPDATE lf_jobs SET status = {_CANCEL_INSTEAD},"
    f" finished_at = {_FINISHED_IF_CANCELLED}, attempts = lf_jobs.attempts - 1,"
    f" worker_id = NULL, {_ENDED} {_FENCE}",
}
PROGRESS = (
    "UPDATE lf_jobs SET progress = {greatest}(lf_jobs.progress, v.progress),"
    f" message = COALESCE(v.message, lf_jobs.message), revision = lf_jobs.revision + 1 {_FENCE}"
)
CANCEL_PENDING = (
    "UPDATE lf_jobs SET status = 'cancelled', finished_at = :now, revision = revision + 1"
    " WHERE id = :id AND status = 'pending'"
)
CANCEL_RUNNING = (
    "UPDATE lf_jobs SET cancel_requested = TRUE, revision = revision + 1"
    " WHERE id = :id AND status = 'running' AND NOT cancel_requested"
)
HELD = (
    "SELECT id, cancel_requested, attempts FROM lf_jobs"
    " WHERE worker_id = :id AND status = 'running'"
)
BEAT = (
    "INSERT INTO lf_workers (id, host, pid, queues, concurrency, started_at, heartbeat_at)"
    " VALUES (:id, :host, :pid, :queues, :concurrency, :started_at, :now)"
    " ON CONFLICT (id) DO UPDATE SET heartbeat_at = :now, stopped_at = NULL"
)
EXTEND_LEASES = (
    "UPDATE lf_jobs SET lease_expires_at = :lease WHERE worker_id = :id AND status = 'running'"
)
STOP_WORKER = "UPDATE lf_workers SET stopped_at = :now WHERE id = :id"
WORKERS = (
    "SELECT w.id, w.host, w.pid, w.queues, w.concurrency, w.started_at, w.heartbeat_at,"
    " w.stopped_at, (SELECT count(*) FROM lf_jobs j WHERE j.worker_id = w.id"
    " AND j.status = 'running') FROM lf_workers w ORDER BY w.started_at DESC"
)
RESCUE = (
    "UPDATE lf_jobs SET"
    " status = CASE WHEN cancel_requested THEN 'cancelled'"
    " WHEN attempts < max_attempts THEN 'pending' ELSE 'failed' END,"
    " finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts THEN :now END,"
    " error = CASE WHEN cancel_requested THEN error ELSE :error END,"
    " worker_id = CASE WHEN cancel_requested OR attempts >= max_attempts THEN worker_id END,"
    " lease_expires_at = NULL, revision = revision + 1"
    " WHERE id IN (SELECT id FROM lf_jobs WHERE status = 'running' AND lease_expires_at < :now"
    " ORDER BY id LIMIT :page) RETURNING id, status"
)
SWEEP_JOBS = (
    "DELETE FROM lf_jobs WHERE id IN (SELECT id FROM lf_jobs WHERE finished_at < :before"
    " ORDER BY finished_at LIMIT :page)"
)
SWEEP_WORKERS = "DELETE FROM lf_workers WHERE heartbeat_at < :before"
COUNTS = "SELECT task, status, count(*) FROM lf_jobs GROUP BY task, status"
RUN_SECONDS_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0)
RUN_SECONDS = (
    "SELECT task, count(*), sum(finished_at - started_at), "
    + ", ".join(
        f"sum(CASE WHEN finished_at - started_at <= {b} THEN 1 ELSE 0 END)"
        for b in RUN_SECONDS_BUCKETS
    )
    + " FROM lf_jobs WHERE status = 'complete' AND finished_at >= :since GROUP BY task"
)
# The maintenance role is a lease row that its holder renews: a holder that dies or is cut off
# silently (which a session lock would survive until TCP keepalive notices, hours later) loses
# it when the lease runs out.
LEAD = (
    "INSERT INTO lf_leases (name, holder, expires_at) VALUES ('maintenance', :holder, :expires)"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
    " WHERE lf_leases.holder = excluded.holder OR lf_leases.expires_at < :now"
)


def dumps(value: Any) -> str:
    """Compact JSON; a value JSON cannot hold is the caller's error, not the database's."""
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:
        from ..errors import ConfigurationError

        raise ConfigurationError(f"job data must be JSON-serializable: {exc}") from exc


# Each column's slot on ``Job``, in ``COLUMNS`` order. A frozen dataclass's ``__init__`` sets
# its 27 fields through ``object.__setattr__``: 5 µs a row, a quarter of the time a SQLite
# worker spends claiming and completing a no-op job. The slots' own descriptors take 2.4 µs.
_SET_SLOTS = tuple(getattr(Job, column).__set__ for column in COLUMNS)
_STATUSES = {status.value: status for status in JobStatus}
_STATUS, _ARGS, _META, _RESULT, _CANCEL = (
    COLUMNS.index(c) for c in ("status", "args", "meta", "result", "cancel_requested")
)


def row_to_job(row: Row) -> Job:
    values = list(row)
    values[_STATUS] = _STATUSES[row[_STATUS]]
    values[_ARGS] = orjson.loads(row[_ARGS])
    values[_META] = orjson.loads(row[_META])
    if row[_RESULT] is not None:
        values[_RESULT] = orjson.loads(row[_RESULT])
    values[_CANCEL] = bool(row[_CANCEL])
    job = object.__new__(Job)
    for set_slot, value in zip(_SET_SLOTS, values, strict=True):
        set_slot(job, value)
    return job


def pending_job(new: NewJob) -> Job:
    """The row a fresh insert produced, built locally instead of read back."""
    return Job(
        id=new.id,
        task=new.task,
        queue=new.queue,
        status=JobStatus.PENDING,
        args=new.args,
        meta=new.meta,
        company_id=new.company_id,
        progress=0,
        message=None,
        result=None,
        error=None,
        traceback=None,
        attempts=0,
        max_attempts=new.max_attempts,
        priority=new.priority,
        timeout=new.timeout,
        run_at=new.run_at,
        created_at=new.created_at,
        started_at=None,
        finished_at=None,
        lease_expires_at=None,
        worker_id=None,
        idempotency_key=new.idempotency_key,
        concurrency_key=new.concurrency_key,
        concurrency_limit=new.concurrency_limit,
        cancel_requested=False,
        revision=0,
    )


def insert_params(new: NewJob) -> dict[str, Any]:
    return {
        "id": new.id,
        "task": new.task,
        "queue": new.queue,
        "args": dumps(new.args),
        "meta": dumps(new.meta),
        "company_id": new.company_id,
        "max_attempts": new.max_attempts,
        "priority": new.priority,
        "timeout": new.timeout,
        "run_at": new.run_at,
        "created_at": new.created_at,
        "idempotency_key": new.idempotency_key,
        "concurrency_key": new.concurrency_key,
        "concurrency_limit": new.concurrency_limit,
    }


def insert_rows(
    template: NewJob, ids: Iterable[str], args: Iterable[dict[str, Any]]
) -> Iterator[tuple[Any, ...]]:
    """Rows in ``INSERT_COLUMNS`` order for the bulk paths, one job per id and args, streamed."""
    t = template
    meta = dumps(t.meta)
    for job_id, arguments in zip(ids, args, strict=True):
        yield (
            job_id,
            t.task,
            t.queue,
            dumps(arguments),
            meta,
            t.company_id,
            t.max_attempts,
            t.priority,
            t.timeout,
            t.run_at,
            t.created_at,
            None,
            t.concurrency_key,
            t.concurrency_limit,
        )


def outcome_row(o: Outcome) -> dict[str, Any]:
    result = None if o.result is None else dumps(o.result)
    return _fenced(o, at=o.at, result=result, error=o.error, traceback=o.traceback,
                   retry_at=o.retry_at, message=o.message)  # fmt: skip


def progress_row(p: ProgressUpdate) -> dict[str, Any]:
    return _fenced(p, progress=p.progress, message=p.message)


def _fenced(write: Outcome | ProgressUpdate, **fields: Any) -> dict[str, Any]:
    """A row of ``OUTCOME_COLUMNS`` or ``PROGRESS_COLUMNS``: the fence's three, then ``fields``."""
    return {"id": write.job_id, "worker": write.worker_id, "attempt": write.attempt, **fields}


def list_query(flt: ListFilter) -> tuple[str, dict[str, object]]:
    clauses: list[str] = []
    params: dict[str, object] = {"limit": flt.limit}
    for column, value in (
        ("company_id", flt.company_id),
        ("status", flt.status),
        ("task", flt.task),
    ):
        if value is not None:
            clauses.append(f"{column} = :{column}")
            params[column] = str(value)
    if flt.cursor is not None:
        clauses.append("id < :cursor")
        params["cursor"] = flt.cursor
    return newest_first(clauses), params


def newest_first(clauses: Sequence[str]) -> str:
    """Jobs matching every clause, newest first, at most ``:limit``."""
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    return f"SELECT {SELECT} FROM lf_jobs {where}ORDER BY id DESC LIMIT :limit"


@cache
def to_pyformat(sql: str) -> str:
    """``:name`` → ``%(name)s`` for drivers with the pyformat paramstyle."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql.replace("%", "%%"))
