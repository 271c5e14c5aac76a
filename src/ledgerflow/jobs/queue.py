"""``Queue``: enqueue, read, list, cancel and retry jobs. The object applications hold."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .backends import open_backend
from .errors import ConfigurationError, JobNotFound
from .ids import new_ids, new_job_id
from .models import Job, JobStatus, ListFilter, NewJob
from .registry import RESERVED_ARGUMENTS, Task, TaskOptions, find_task
from .settings import JobSettings

if TYPE_CHECKING:
    from .backend import Backend
    from .worker import Worker

MAX_LIST_LIMIT = 500


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[Job]
    next_cursor: str | None


class Queue:
    """A handle on the job store at ``url`` (``sqlite:///file.db`` or ``postgresql://…``).

    Creating a Queue brings the database schema up to date (``migrate=False`` to skip).
    One Queue is safe to share between threads.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        settings: JobSettings | None = None,
        migrate: bool = True,
    ) -> None:
        self.settings = settings or JobSettings()
        self.url = url or self.settings.database_url
        self.backend: Backend = open_backend(self.url, self.settings)
        if migrate:
            self.backend.migrate()

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------------
    def enqueue(
        self,
        task: Task[Any, Any] | str,
        /,
        *,
        meta: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        priority: int | None = None,
        run_at: float | None = None,
        delay: float | None = None,
        connection: object | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        queue: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        **args: Any,
    ) -> Job:
        """Enqueue one job; returns it (or, for a repeated ``idempotency_key``, the existing one).

        With ``connection`` (a DB-API or SQLAlchemy connection to the same database), the job is
        written in the caller's transaction: it exists if and only if that transaction commits.
        """
        new = self._new_job(
            _options(task),
            args,
            meta=meta,
            idempotency_key=idempotency_key,
            priority=priority,
            run_at=run_at,
            delay=delay,
            concurrency_key=concurrency_key,
            concurrency_limit=concurrency_limit,
            queue=queue,
            max_attempts=max_attempts,
            timeout=timeout,
        )
        return self.backend.insert([new], connection=connection)[0]

    def enqueue_many(
        self,
        task: Task[Any, Any] | str,
        args: Iterable[Mapping[str, Any]],
        *,
        meta: Mapping[str, Any] | None = None,
        priority: int | None = None,
        run_at: float | None = None,
        delay: float | None = None,
        queue: str | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        connection: object | None = None,
    ) -> list[str]:
        """Enqueue one job per argument mapping in one transaction; returns their ids in order."""
        template = self._new_job(
            _options(task),
            {},
            meta=meta,
            priority=priority,
            run_at=run_at,
            delay=delay,
            concurrency_key=concurrency_key,
            concurrency_limit=concurrency_limit,
            queue=queue,
        )
        arg_list = list(args)
        ids = new_ids("job_", len(arg_list))
        if connection is not None:  # the caller's transaction: check everything before writing
            pairs = zip(ids, arg_list, strict=True)
            jobs = [replace(template, id=i, args=_checked(a)) for i, a in pairs]
            self.backend.insert(jobs, connection=connection)
        elif ids:
            # Checked while the rows stream: PostgreSQL stores the first rows while later ones
            # are checked (a tenth of a 100,000-job batch's time), and a bad one rolls back.
            self.backend.insert_bulk(template, ids, map(_checked, arg_list))
        return ids

    def cancel(self, job_id: str) -> Job:
        """Cancel a pending job at once; a running one stops at its next ``ctx.progress``."""
        job = self.backend.cancel(job_id, time.time())
        if job is None:
            raise JobNotFound(job_id)
        return job

    def retry(self, job_id: str) -> Job:
        """Enqueue a fresh copy of a failed or cancelled job; returns the new job."""
        old = self.get(job_id)
        if old.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise ConfigurationError(
                f"only failed or cancelled jobs can be retried, not {old.status}"
            )
        meta = {**old.meta, "retry_of": old.id}
        return self.enqueue(
            old.task, meta=meta, priority=old.priority, queue=old.queue,
            concurrency_key=old.concurrency_key, concurrency_limit=old.concurrency_limit,
            max_attempts=old.max_attempts, timeout=old.timeout, **old.args,
        )  # fmt: skip

    # --- reading -----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        job = self.backend.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def list(
        self,
        company_id: str | None = None,
        status: JobStatus | str | None = None,
        task: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        """Jobs newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ConfigurationError(f"limit must be between 1 and {MAX_LIST_LIMIT}")
        flt = ListFilter(
            company_id=company_id,
            status=JobStatus(status) if status is not None else None,
            task=task,
            limit=limit + 1,
            cursor=cursor,
        )
        jobs = self.backend.list_jobs(flt)
        more = len(jobs) > limit
        jobs = jobs[:limit]
        return JobPage(jobs, jobs[-1].id if more else None)

    def worker(self, **options: Any) -> Worker:
        """A worker on this queue's database; see ``Worker`` for the options."""
        from .worker import Worker

        return Worker(self, **options)

    # --- helpers -----------------------------------------------------------------------------
    def _new_job(
        self,
        options: TaskOptions,
        args: dict[str, Any],
        *,
        meta: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        priority: int | None = None,
        run_at: float | None = None,
        delay: float | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        queue: str | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
    ) -> NewJob:
        args = _checked(args)
        meta = dict(meta or {})
        now = time.time()
        if run_at is None:
            run_at = now + (delay or 0.0)
        if concurrency_key is not None and concurrency_limit is None:
            concurrency_limit = options.concurrency_limit or self.settings.concurrency_limit
        attempts = max_attempts if max_attempts is not None else options.max_attempts
        if attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        return NewJob(
            id=new_job_id(),
            task=options.name,
            queue=queue or options.queue,
            args=args,
            meta=meta,
            company_id=str(meta.get("company_id") or ""),
            max_attempts=attempts,
            priority=priority if priority is not None else options.priority,
            timeout=timeout or options.timeout or self.settings.job_timeout,
            run_at=run_at,
            created_at=now,
            idempotency_key=idempotency_key,
            concurrency_key=concurrency_key,
            concurrency_limit=concurrency_limit,
        )


def _options(task: Task[Any, Any] | str) -> TaskOptions:
    if isinstance(task, Task):
        return task.options
    registered = find_task(task)
    return registered.options if registered is not None else TaskOptions(name=task)


def _checked(args: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` as a dict, once its names are checked."""
    arguments = args if type(args) is dict else dict(args)
    if not RESERVED_ARGUMENTS.isdisjoint(arguments):
        clashing = sorted(RESERVED_ARGUMENTS.intersection(arguments))
        raise ConfigurationError(f"reserved names cannot be task arguments: {clashing}")
    return arguments
