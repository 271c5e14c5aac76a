"""Instance admin endpoints: queue depth, time series, workers, failed/stuck jobs, search.

Admins only. Anyone else, signed in or not, gets the same ``404 {"detail": "Not Found"}`` as a
path that does not exist, for every method on every path under ``/api/admin``.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ...jobs import ConfigurationError, Job, JobNotFound, JobStatus
from ...jobs.admin import JobsAdmin, Search
from ...jobs.models import to_datetime
from ...jobs.series import TaskRuns, percentiles
from ...tenancy import Principal
from ..deps import RuntimeDep, principal_of
from ..security import SESSION_COOKIE, read_token

NOT_FOUND = "Not Found"  # FastAPI's own answer for a path that does not exist


def require_admin(request: Request, runtime: RuntimeDep) -> Principal:
    """The signed-in instance admin; 404 for everyone else."""
    try:
        principal = principal_of(request, runtime)
    except HTTPException as exc:
        cookie = request.cookies.get(SESSION_COOKIE)
        user_id = read_token(runtime.secret, cookie) if cookie else None
        admin = runtime.principal(user_id) if user_id else None
        if exc.status_code == 403 and admin is not None and admin.is_admin:
            raise  # an admin's write without its CSRF header
        raise HTTPException(404, NOT_FOUND) from None
    if not principal.is_admin:
        raise HTTPException(404, NOT_FOUND)
    return principal


router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])
ADMIN_ONLY: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not an instance admin (or not signed in): as for a missing path."}
}
JOB_ID_EXAMPLE = "job_01JD4Q8V6T3W7X9Y2Z5A1B3C4D"


class AdminJob(BaseModel):
    """A job as operators see it: every column, across companies."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": JOB_ID_EXAMPLE, "type": "upload_and_categorize", "queue": "default",
                    "status": "failed", "company_id": "acme", "progress": 40,
                    "message": "Categorizing...", "error": "ValueError: no header row",
                    "traceback": "Traceback (most recent call last): ...", "attempts": 3,
                    "max_attempts": 3, "args": {"file_name": "statement.csv"},
                    "meta": {"company_id": "acme", "file_name": "statement.csv"},
                    "created_at": "2026-11-26T10:00:00Z", "run_at": "2026-11-26T10:00:00Z",
                    "started_at": "2026-11-26T10:00:01Z", "finished_at": "2026-11-26T10:00:09Z",
                    "lease_expires_at": None, "worker_id": None, "cancel_requested": False,
                    "rescue_pending": False,
                }
            ]
        }
    )  # fmt: skip

    id: str
    type: str
    queue: str
    status: Literal["pending", "running", "complete", "failed", "cancelled"]
    company_id: str
    progress: int
    message: str | None
    error: str | None
    traceback: str | None
    attempts: int
    max_attempts: int
    args: dict[str, Any]
    meta: dict[str, Any]
    created_at: dt.datetime
    run_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    lease_expires_at: dt.datetime | None
    worker_id: str | None
    cancel_requested: bool
    rescue_pending: bool = Field(
        description="Running, but its lease expired or its worker's heartbeat is late: the "
        "maintenance pass will put it back in the queue (or fail it)."
    )

    @classmethod
    def of(cls, job: Job, now: float, late: frozenset[str] = frozenset()) -> AdminJob:
        running = job.status is JobStatus.RUNNING
        expired = job.lease_expires_at is not None and job.lease_expires_at < now
        return cls(
            id=job.id, type=job.task, queue=job.queue, status=job.status.value,
            company_id=job.company_id, progress=job.progress, message=job.message,
            error=job.error, traceback=job.traceback, attempts=job.attempts,
            max_attempts=job.max_attempts, args=job.args, meta=job.meta,
            created_at=to_datetime(job.created_at), run_at=to_datetime(job.run_at),  # type: ignore[arg-type]
            started_at=to_datetime(job.started_at), finished_at=to_datetime(job.finished_at),
            lease_expires_at=to_datetime(job.lease_expires_at), worker_id=job.worker_id,
            cancel_requested=job.cancel_requested,
            rescue_pending=running and (expired or job.worker_id in late),
        )  # fmt: skip


class AdminJobPage(BaseModel):
    jobs: list[AdminJob]
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page.")


class DepthRow(BaseModel):
    queue: str = Field(examples=["default"])
    type: str = Field(examples=["upload_and_categorize"])
    status: Literal["pending", "running"]
    count: int = Field(examples=[42])
    ready: int = Field(description="Pending jobs already due (the rest wait for run_at).")
    oldest_run_at: dt.datetime | None = Field(description="The longest-waiting job's run_at.")


class Depth(BaseModel):
    now: dt.datetime
    pending: int
    running: int
    rows: list[DepthRow]


class Runs(BaseModel):
    complete: int = Field(examples=[118])
    failed: int = Field(examples=[2])
    cancelled: int = Field(examples=[0])
    failure_rate: float | None = Field(description="failed / (complete + failed)", examples=[0.02])
    p50: float | None = Field(description="Run-time percentiles in seconds", examples=[1.9])
    p95: float | None = Field(examples=[6.2])
    p99: float | None = Field(examples=[11.0])

    @classmethod
    def of(cls, runs: TaskRuns) -> Runs:
        ended = runs.complete + runs.failed
        q = percentiles(runs.bins, (0.5, 0.95, 0.99))
        rate = runs.failed / ended if ended else None
        return cls(
            complete=runs.complete, failed=runs.failed, cancelled=runs.cancelled,
            failure_rate=rate, p50=q[0], p95=q[1], p99=q[2],
        )  # fmt: skip


class Point(Runs):
    start: dt.datetime


class SeriesOut(BaseModel):
    window: Literal["hour", "day"]
    bucket_seconds: int = Field(examples=[60])
    points: list[Point] = Field(description="Oldest first; the last bucket is still filling.")
    by_type: dict[str, Runs] = Field(description="Totals over the whole window, per job type.")


class WorkerOut(BaseModel):
    id: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    stopped_at: dt.datetime | None
    state: Literal["ok", "late", "stopped"] = Field(description="late: heartbeat overdue.")
    jobs_in_hand: int
    jobs: list[AdminJob]


class Workers(BaseModel):
    late_after_seconds: float
    workers: list[WorkerOut]


class StuckOut(BaseModel):
    overdue_after_seconds: float
    expired: list[AdminJob] = Field(description="Running with an expired lease, oldest first.")
    expired_total: int
    overdue: list[AdminJob] = Field(description="Pending, due long ago, oldest first.")
    overdue_total: int


def _admin(runtime: RuntimeDep) -> JobsAdmin:
    return JobsAdmin(runtime.queue)


Admin = Annotated[JobsAdmin, Depends(_admin)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(pattern=r"^job_[0-9A-Za-z]{1,40}$", examples=[None])]


def _epoch(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


@router.get("/depth", response_model=Depth, responses=ADMIN_ONLY)
def depth(admin: Admin) -> Depth:
    """Queue depth: pending (due or scheduled) and running jobs by queue, type and status."""
    now = time.time()
    rows = admin.depth(now)
    return Depth(
        now=to_datetime(now),  # type: ignore[arg-type]
        pending=sum(r.count for r in rows if r.status == "pending"),
        running=sum(r.count for r in rows if r.status == "running"),
        rows=[
            DepthRow(
                queue=r.queue, type=r.task, status=r.status,  # type: ignore[arg-type]
                count=r.count, ready=r.ready, oldest_run_at=to_datetime(r.oldest_run_at),
            )
            for r in rows
        ],
    )  # fmt: skip


@router.get("/series", response_model=SeriesOut, responses=ADMIN_ONLY)
def series(
    admin: Admin,
    window: Annotated[Literal["hour", "day"], Query(description="60 × 1 min or 24 × 1 h")] = "hour",
    type: Annotated[str | None, Query(max_length=200, examples=["process_receipt_ocr"])] = None,
) -> SeriesOut:
    """Throughput, failure rate and run-time percentiles per bucket, for small charts.

    Counts jobs by the time they finished. Percentiles come from a histogram with bins 15%
    wide, so they are within about 7% of the exact value.
    """
    found = admin.series(window, task=type)
    return SeriesOut(
        window=window,
        bucket_seconds=found.bucket_seconds,
        points=[
            Point(
                start=to_datetime(p.start), complete=p.complete, failed=p.failed,  # type: ignore[arg-type]
                cancelled=p.cancelled, failure_rate=p.failure_rate, p50=p.p50, p95=p.p95,
                p99=p.p99,
            )
            for p in found.points
        ],
        by_type={name: Runs.of(runs) for name, runs in sorted(found.by_task.items())},
    )  # fmt: skip


@router.get("/workers", response_model=Workers, responses=ADMIN_ONLY)
def workers(
    admin: Admin,
    late_after: Annotated[float | None, Query(gt=0, le=86_400, description="seconds")] = None,
) -> Workers:
    """Workers with their jobs in hand. A late worker's jobs are marked ``rescue_pending``.

    Late means no heartbeat for ``late_after`` seconds (default: three heartbeat intervals,
    at most ``WORKER_TIMEOUT``); stopped workers stay listed until the daily sweep.
    """
    now = time.time()
    late_after = late_after or admin.late_after
    states = admin.workers(now, late_after)
    late = frozenset(s.info.id for s in states if s.state == "late")
    return Workers(
        late_after_seconds=late_after,
        workers=[
            WorkerOut(
                id=s.info.id, host=s.info.host, pid=s.info.pid, queues=list(s.info.queues),
                concurrency=s.info.concurrency, started_at=to_datetime(s.info.started_at),  # type: ignore[arg-type]
                heartbeat_at=to_datetime(s.info.heartbeat_at),  # type: ignore[arg-type]
                stopped_at=to_datetime(s.info.stopped_at), state=s.state,
                jobs_in_hand=len(s.jobs), jobs=[AdminJob.of(j, now, late) for j in s.jobs],
            )
            for s in states
        ],
    )  # fmt: skip


@router.get("/jobs/failed", response_model=AdminJobPage, responses=ADMIN_ONLY)
def failed_jobs(admin: Admin, limit: Limit = 50, cursor: Cursor = None) -> AdminJobPage:
    """Failed jobs of every company, newest first, with error, traceback, attempts and meta."""
    page = admin.failed(limit, cursor)
    now = time.time()
    return AdminJobPage(jobs=[AdminJob.of(j, now) for j in page.jobs], next_cursor=page.next_cursor)


@router.get("/jobs/stuck", response_model=StuckOut, responses=ADMIN_ONLY)
def stuck_jobs(
    admin: Admin,
    overdue_after: Annotated[float, Query(gt=0, le=30 * 86_400, description="seconds")] = 600,
    limit: Limit = 50,
) -> StuckOut:
    """Running jobs whose lease expired (their worker is gone) and pending jobs overdue."""
    now = time.time()
    found = admin.stuck(now, overdue_after, limit)
    return StuckOut(
        overdue_after_seconds=overdue_after,
        expired=[AdminJob.of(j, now) for j in found.expired],
        expired_total=found.expired_total,
        overdue=[AdminJob.of(j, now) for j in found.overdue],
        overdue_total=found.overdue_total,
    )


@router.get("/jobs", response_model=AdminJobPage, responses={**ADMIN_ONLY, 422: {}})
def search_jobs(
    request: Request,
    admin: Admin,
    id: Annotated[str | None, Query(max_length=64, examples=[JOB_ID_EXAMPLE])] = None,
    company: Annotated[str | None, Query(max_length=200, examples=["acme"])] = None,
    type: Annotated[str | None, Query(max_length=200, examples=["upload_and_categorize"])] = None,
    status: JobStatus | None = None,
    created_from: Annotated[dt.datetime | None, Query(examples=["2026-11-26T00:00:00Z"])] = None,
    created_to: Annotated[dt.datetime | None, Query(examples=["2026-11-27T00:00:00Z"])] = None,
    meta: Annotated[
        list[str] | None,
        Query(description="`key=value`, repeatable", examples=[["file_name=statement.csv"]]),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AdminJobPage:
    """Search every company's jobs, newest first; every filter given must match.

    ``created_from``/``created_to`` bound ``created_at`` (from inclusive, to exclusive). Meta
    filters match a key's string value exactly; write them as ``meta=file_name=statement.csv``
    or as ``meta.file_name=statement.csv``. ``file_name`` is indexed; other keys are checked on
    the jobs the other filters select, so pair them with a company, type or time range.
    """
    wanted: dict[str, str] = {}
    pairs = [item.split("=", 1) for item in meta or []]
    pairs += [[k[5:], v] for k, v in request.query_params.multi_items() if k.startswith("meta.")]
    for pair in pairs:
        if len(pair) != 2 or not pair[0]:
            raise HTTPException(422, "meta filters look like key=value")
        wanted[pair[0]] = pair[1]
    texts = [id, company, type, *wanted, *wanted.values()]
    if any("\x00" in t for t in texts if t):
        raise HTTPException(422, "Search terms cannot contain NUL characters.")
    flt = Search(
        job_id=id, company_id=company, task=type, status=status,
        created_from=_epoch(created_from), created_to=_epoch(created_to),
        meta=wanted, limit=limit, cursor=cursor,
    )  # fmt: skip
    try:
        page = admin.search(flt)
    except ConfigurationError as exc:
        raise HTTPException(422, str(exc)) from None
    now = time.time()
    return AdminJobPage(jobs=[AdminJob.of(j, now) for j in page.jobs], next_cursor=page.next_cursor)


def _job(admin: JobsAdmin, job_id: str) -> Job:
    try:
        return admin.queue.get(job_id)
    except JobNotFound:
        raise HTTPException(404, "Job not found.") from None


@router.get("/jobs/{job_id}", response_model=AdminJob, responses=ADMIN_ONLY)
def get_job(job_id: str, admin: Admin) -> AdminJob:
    """One job of any company, with everything."""
    return AdminJob.of(_job(admin, job_id), time.time())


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    response_model=AdminJob,
    responses={**ADMIN_ONLY, 409: {}},
)
def retry_job(job_id: str, admin: Admin) -> AdminJob:
    """Start a failed or cancelled job again, as a new job (its ``meta.retry_of`` is this one)."""
    job = _job(admin, job_id)
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise HTTPException(
            409, f"Only failed or cancelled jobs can be retried; this one is {job.status}."
        )
    return AdminJob.of(admin.retry(job.id), time.time())


@router.post(
    "/jobs/{job_id}/cancel", status_code=202, response_model=AdminJob, responses=ADMIN_ONLY
)
def cancel_job(job_id: str, admin: Admin) -> AdminJob:
    """Cancel: a pending job at once, a running one at its next progress report, and a running
    job whose lease expired (its worker is gone) at once. Final jobs are returned unchanged."""
    job = _job(admin, job_id)
    return AdminJob.of(admin.cancel(job.id), time.time())


@router.api_route(
    "/{rest:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
def nothing_here(rest: str) -> None:
    """Unknown paths and methods answer 404 too (not 405), for admins and everyone else."""
    raise HTTPException(404, NOT_FOUND)
