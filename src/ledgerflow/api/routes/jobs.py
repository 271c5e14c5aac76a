"""Job endpoints: start, read (with ETag), list, cancel, retry, and live events over SSE."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    File,
    Form,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ... import job_types
from ...jobs import Job, JobNotFound, JobStatus
from ...tenancy import Principal
from ..deps import PrincipalDep, Runtime, RuntimeDep, not_found, require_member, require_writer
from ..polls import job_answer
from ..ratelimit import retry_after
from ..schemas import BulkApproveIn, CategorizeIn, ExportIn, JobAccepted, JobList, JobOut
from ..uploads import SNIFF_BYTES, sniff_statement, store

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a request with the same key to get the same job back (200).",
    ),
]
ACCEPTED: dict[int | str, dict[str, Any]] = {
    200: {"model": JobAccepted, "description": "Same Idempotency-Key: the existing job."},
    403: {"description": "Viewers may not start jobs."},
    404: {"description": "No such company (or not yours)."},
    429: {"description": "Too many jobs started; see Retry-After."},
}


def start_job(
    runtime: Runtime,
    principal: Principal,
    response: Response,
    company_id: str,
    task: str,
    args: dict[str, Any],
    idempotency_key: str | None,
    connection: object | None = None,
    **meta: Any,
) -> JobAccepted:
    """Enqueue ``task`` for a company the caller may write to; 202, or 200 for a repeat.

    With ``connection`` the job is written in the caller's transaction, beside its data.
    """
    require_writer(principal, company_id)
    wait = runtime.limiter.take(principal.user_id)
    if wait:
        raise HTTPException(
            429, "Too many jobs started; slow down.", {"Retry-After": retry_after(wait)}
        )
    request_id = uuid.uuid4().hex
    job = runtime.queue.enqueue(
        task,
        meta={
            "company_id": company_id,
            "user_id": principal.user_id,
            "request_id": request_id,
            **meta,
        },
        idempotency_key=idempotency_key,
        concurrency_key=company_id,
        connection=connection,
        **args,
    )
    response.status_code = 202 if job.meta.get("request_id") == request_id else 200
    return JobAccepted(job_id=job.id, status=job.status.value)


def visible_job(runtime: Runtime, principal: Principal, job_id: str) -> Job:
    """The job if the caller belongs to its company; 404 exactly as for a missing job."""
    try:
        job = runtime.jobs.get(job_id)
    except JobNotFound:
        raise not_found("Job not found.") from None
    require_member(principal, job.company_id, "Job")
    return job


@router.post("/categorize", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def categorize(
    body: CategorizeIn,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobAccepted:
    """Categorize the company's uncategorized transactions (up to ``limit``)."""
    args = {"company_id": body.company_id, "limit": body.limit}
    return start_job(
        runtime, principal, response, body.company_id, job_types.CATEGORIZE, args, idempotency_key
    )


@router.post("/bulk-approve", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def bulk_approve(
    body: BulkApproveIn,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobAccepted:
    """Approve categorized transactions (by ids, or all with confidence ≥ ``min_confidence``).

    Runs in batches of 500 with progress per batch; approving posts the journal entries and
    every batch is recorded in the audit log with who approved it.
    """
    args = {
        "company_id": body.company_id,
        "user_id": principal.user_id,
        "transaction_ids": body.transaction_ids,
        "min_confidence": body.min_confidence,
    }
    return start_job(
        runtime, principal, response, body.company_id, job_types.BULK_APPROVE, args, idempotency_key
    )


@router.post("/export-qbo", status_code=202, response_model=JobAccepted, responses=ACCEPTED)
def export_qbo(
    body: ExportIn,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> JobAccepted:
    """Export posted journal entries to QuickBooks Online (``api``) or as an IIF/CSV file.

    A file export's result has a ``file_url`` (``GET /api/jobs/{job_id}/file``).
    """
    args = {
        "company_id": body.company_id,
        "since": body.since.isoformat() if body.since else None,
        "format": body.format,
    }
    return start_job(
        runtime, principal, response, body.company_id, job_types.EXPORT_QBO, args, idempotency_key
    )


@router.get(
    "/{job_id}/file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {}},
)
def job_file(job_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> FileResponse:
    """The file an export job wrote (IIF or CSV), for members of its company only."""
    job = visible_job(runtime, principal, job_id)
    name = job.result.get("file_name") if isinstance(job.result, dict) else None
    if not isinstance(name, str):
        raise not_found("This job has no file.")
    path = runtime.settings.export_dir(job.company_id, job.id) / Path(name).name
    if not path.is_file():
        raise not_found("The file is no longer available.")
    return FileResponse(path, filename=path.name, media_type="application/octet-stream")


@router.post(
    "/upload-and-categorize",
    status_code=202,
    response_model=JobAccepted,
    responses={
        **ACCEPTED,
        413: {"description": "File too large."},
        415: {"description": "Not CSV/OFX."},
    },
)
def upload_and_categorize(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    response: Response,
    file: Annotated[UploadFile, File(description="A bank export: CSV, OFX or QFX.")],
    company_id: Annotated[str, Form(min_length=1, max_length=64)],
    bank_account_id: Annotated[str | None, Form(max_length=64)] = None,
    idempotency_key: IdempotencyKey = None,
) -> JobAccepted:
    """Import a bank file, categorize every new transaction and write journal entries."""
    require_writer(principal, company_id)
    file.file.seek(0)
    kind = sniff_statement(file.file.read(SNIFF_BYTES))
    file_name = file.filename or f"statement.{kind}"
    path = store(file.file, runtime.settings.upload_dir, company_id, file_name)
    args = {
        "company_id": company_id,
        "file_path": str(path),
        "file_name": file_name,
        "bank_account_id": bank_account_id,
    }
    return start_job(
        runtime,
        principal,
        response,
        company_id,
        job_types.UPLOAD_AND_CATEGORIZE,
        args,
        idempotency_key,
        file_name=file_name,
    )


@router.get(
    "/{job_id}",
    response_model=JobOut,
    responses={304: {"description": "Unchanged since the ETag you sent."}, 404: {}},
)
async def get_job(
    job_id: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """A job's status, progress, message and result. Send ``If-None-Match`` to poll cheaply."""
    # Members' polls are answered before routing (polls.py); the rest come here. The read runs
    # on the event loop: one lookup by primary key costs less than a thread hop.
    job = visible_job(runtime, principal, job_id)
    answer = job_answer(job, if_none_match)
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


@router.get("/company/{company_id}", response_model=JobList)
def list_jobs(
    company_id: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    status: JobStatus | None = None,
    type: Annotated[str | None, Query(max_length=100, examples=["upload_and_categorize"])] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^job_[0-9A-Z]{26}$")] = None,
) -> JobList:
    """The company's job history, newest first; pass ``next_cursor`` back for the next page."""
    require_member(principal, company_id)
    page = runtime.queue.list(company_id, status, type, limit, cursor)
    return JobList(jobs=[JobOut.of(j) for j in page.jobs], next_cursor=page.next_cursor)


@router.post(
    "/{job_id}/cancel", status_code=202, response_model=JobOut, responses={403: {}, 404: {}}
)
def cancel_job(job_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> JobOut:
    """Cancel: a pending job at once, a running one at its next progress report."""
    job = visible_job(runtime, principal, job_id)
    require_writer(principal, job.company_id, "Job")
    return JobOut.of(runtime.queue.cancel(job.id))


@router.post(
    "/{job_id}/retry",
    status_code=202,
    response_model=JobAccepted,
    responses={403: {}, 404: {}, 409: {}},
)
def retry_job(job_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> JobAccepted:
    """Start a failed or cancelled job again, as a new job."""
    job = visible_job(runtime, principal, job_id)
    require_writer(principal, job.company_id, "Job")
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise HTTPException(
            409, f"Only failed or cancelled jobs can be retried; this one is {job.status}."
        )
    new = runtime.queue.retry(job.id)
    return JobAccepted(job_id=new.id, status=new.status.value)


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "progress, then a final event"}
    },
)
async def job_events(
    job_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-Sent Events: ``progress`` per change, then ``complete``/``failed``/``cancelled``."""
    job = await run_in_threadpool(visible_job, runtime, principal, job_id)
    last = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
    return StreamingResponse(
        runtime.hub.stream(job, last),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
