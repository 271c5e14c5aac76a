"""Run one claimed job in the current thread and describe how it ended."""

from __future__ import annotations

import json
import random
import time
import traceback

from .context import AbortReason, JobContext
from .errors import Cancelled, JobFailed
from .models import Outcome, OutcomeKind
from .registry import find_task


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, then scaled by 0.5–1.0."""
    delay: float = min(cap, base * 2 ** max(0, attempt - 1))
    return delay * random.uniform(0.5, 1.0)


def run_job(ctx: JobContext, worker_id: str) -> Outcome | None:
    """Run the job's task; None when the worker already settled the job (timeout, shutdown)."""
    job = ctx.job

    def outcome(kind: OutcomeKind, **fields: object) -> Outcome:
        return Outcome(job.id, worker_id, job.attempts, kind, time.time(), **fields)  # type: ignore[arg-type]

    if ctx.abort_reason is not None:  # settled before it started: cancelled or released
        return outcome(OutcomeKind.CANCELLED) if ctx.abort_reason is AbortReason.CANCELLED else None
    task = find_task(job.task)
    if task is None:
        return outcome(
            OutcomeKind.FAILED, error=f"No task named {job.task!r} is registered on this worker."
        )
    try:
        result = task.fn(ctx, **job.args)
    except Cancelled:
        if ctx.abort_reason is AbortReason.CANCELLED:
            return outcome(OutcomeKind.CANCELLED)
        return None
    except JobFailed as exc:
        return outcome(OutcomeKind.FAILED, error=str(exc), traceback=traceback.format_exc())
    except Exception as exc:
        if ctx.abort_reason is not None and ctx.abort_reason is not AbortReason.CANCELLED:
            return None
        error = f"{type(exc).__name__}: {exc}"
        trace = traceback.format_exc()
        if job.attempts < job.max_attempts:
            options = task.options
            delay = backoff_delay(job.attempts, options.retry_backoff, options.retry_backoff_max)
            return outcome(
                OutcomeKind.RETRY, error=error, traceback=trace, retry_at=time.time() + delay
            )
        return outcome(OutcomeKind.FAILED, error=error, traceback=trace)
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return outcome(
            OutcomeKind.FAILED, error=f"The task returned a result that is not JSON: {exc}"
        )
    return outcome(OutcomeKind.COMPLETE, result=result, message=ctx.last_message)
