"""``create_app``: the FastAPI application, its runtime, and (optionally) in-process workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from ..books.db import make_engine, make_sessionmaker, writer
from ..books.db import upgrade as upgrade_books
from ..jobs import Queue, Worker
from ..settings import AppSettings
from .deps import Runtime
from .events import JobEventHub
from .jobcache import JobCache
from .polls import JobPolls
from .ratelimit import RateLimiter
from .routes import admin, books, jobs, quickbooks, receipts, system
from .uploads import BodyLimit, UploadTooLarge

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# How long a job read on PostgreSQL may answer polls when no announcement of a change comes:
# only changes nobody announces (the TTL sweep's deletes) can make a copy that old.
CACHED_JOB_SECONDS = 5.0
DESCRIPTION = """
ledgerflow's HTTP API. Sign in with `POST /api/auth/token` (email and password as an OAuth2
password form), then send `Authorization: Bearer <token>` with every `/api` request.

Heavy work runs as background jobs: the `POST /api/jobs/...` endpoints answer `202` with a
`job_id` at once; follow the job with `GET /api/jobs/{job_id}` (send `If-None-Match` with the
last `ETag` to get a cheap `304`) or live with `GET /api/jobs/{job_id}/events` (Server-Sent
Events). Another company's jobs and data answer `404`, exactly like ones that do not exist.
"""


def create_app(settings: AppSettings | None = None, *, worker_threads: int = 0) -> FastAPI:
    """The app on ``settings.database_url``; ``worker_threads`` > 0 also runs workers here."""
    settings = settings or AppSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        queue = Queue(settings.database_url, settings=settings)
        upgrade_books(settings.database_url)
        engine = make_engine(settings.database_url)
        on_sqlite = settings.database_url.startswith("sqlite")
        jobs_cache = JobCache(queue, max_age=CACHED_JOB_SECONDS)
        hub = JobEventHub(queue, jobs_cache, recheck_seconds=0.25 if on_sqlite else 2.0)
        app.state.runtime = Runtime(
            settings=settings,
            secret=settings.secret_key(),
            queue=queue,
            sessions=make_sessionmaker(engine),
            writers=make_sessionmaker(writer(engine)),
            jobs=jobs_cache,
            hub=hub,
            limiter=RateLimiter(settings.job_rate_limit),
        )
        worker: Worker | None = None
        if worker_threads > 0:
            import ledgerflow.tasks  # noqa: F401  (registers the task functions)

            worker = queue.worker(concurrency=worker_threads).start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            hub.close()
            engine.dispose()
            queue.close()

    app = FastAPI(
        title="ledgerflow",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        license_info={"name": "Apache-2.0"},
    )
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)
    app.add_middleware(JobPolls)
    app.add_exception_handler(UploadTooLarge, _too_large)
    app.include_router(system.router)
    app.include_router(jobs.router)
    app.include_router(books.router)
    app.include_router(quickbooks.router)
    app.include_router(receipts.router)
    app.include_router(admin.router)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


async def _too_large(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=413)
