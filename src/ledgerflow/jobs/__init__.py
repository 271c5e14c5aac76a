"""A durable background-job runtime on SQLite or PostgreSQL.

from ledgerflow.jobs import Queue, task, JobContext

queue = Queue("sqlite:///app.db")

@task(name="example.count", timeout=600, max_attempts=3)
def count(ctx: JobContext, n: int) -> dict:
    for i in range(n):
        ctx.progress(100 * i // n, f"Processing {i}/{n}...")
    return {"counted": n}

job = queue.enqueue(count, n=100, meta={"company_id": "acme"})
queue.worker(concurrency=4).run_forever()
"""

from .context import JobContext
from .errors import (
    BackendError,
    Cancelled,
    ConfigurationError,
    JobFailed,
    JobNotFound,
    JobsError,
)
from .models import Job, JobStatus
from .queue import JobPage, Queue
from .registry import Task, task
from .settings import JobSettings
from .worker import Worker

__all__ = [
    "BackendError",
    "Cancelled",
    "ConfigurationError",
    "Job",
    "JobContext",
    "JobFailed",
    "JobNotFound",
    "JobPage",
    "JobSettings",
    "JobStatus",
    "JobsError",
    "Queue",
    "Task",
    "Worker",
    "task",
]
