"""A Python client for ledgerflow's HTTP API: start jobs, follow them, read their results.

    from ledgerflow.client import Client

    with Client.login("http://127.0.0.1:8000", "me@example.com", "secret") as client:
        started = client.upload_and_categorize("acme", "statement.csv")
        job = client.wait(started.job_id, on_progress=lambda j: print(j.progress, j.message))
        print(job.status, job.result)

``AsyncClient`` has the same methods for asyncio. Both are thin transports over
``ledgerflow.client.protocol``, which builds every request, reads every answer and follows jobs
(SSE, falling back to polling on the ``Backoff`` schedule) without doing any I/O itself.
"""

from .aio import AsyncClient
from .errors import (
    ApiError,
    ClientError,
    Conflict,
    Forbidden,
    NotFound,
    ProtocolError,
    RateLimited,
    TransportError,
    Unauthorized,
    WaitTimeout,
)
from .models import FINAL_STATUSES, Download, Job, JobAccepted, JobEvent, JobPage, JobStatus
from .schedule import Backoff
from .sync import Client

__all__ = [
    "FINAL_STATUSES",
    "ApiError",
    "AsyncClient",
    "Backoff",
    "Client",
    "ClientError",
    "Conflict",
    "Download",
    "Forbidden",
    "Job",
    "JobAccepted",
    "JobEvent",
    "JobPage",
    "JobStatus",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "TransportError",
    "Unauthorized",
    "WaitTimeout",
]
