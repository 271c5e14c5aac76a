"""Where the client commands' jobs come from: a ledgerflow server, or the local database.

``open_jobs`` picks one from the connection options: ``RemoteJobs`` talks to ``--server``
through ``ledgerflow.client``; ``LocalJobs`` works on the database through
``ledgerflow.jobs.Queue``, doing what the API's endpoints would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from . import job_types
from .client import Client as HttpClient
from .client import Job, JobPage, Unauthorized, WaitTimeout
from .jobs import ConfigurationError, JobNotFound, Queue
from .jobs import Job as StoredJob
from .settings import AppSettings

F = TypeVar("F", bound=Callable[..., Any])
LOCAL_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class PageRequest:
    """One page of a company's jobs, newest first."""

    company_id: str
    status: str | None
    job_type: str | None
    limit: int
    cursor: str | None


class Jobs(Protocol):
    """What the commands need, from a server or from the local database."""

    def start_import(self, file: Path, company_id: str, bank_account_id: str | None) -> str: ...

    def get(self, job_id: str) -> Job: ...

    def list(self, page: PageRequest) -> JobPage: ...

    def cancel(self, job_id: str) -> Job: ...

    def retry(self, job_id: str) -> str: ...

    def follow(self, job_id: str, timeout: float | None) -> Iterator[Job]:
        """The job at each change, the final state last."""
        ...


class RemoteJobs:
    """Jobs on a ledgerflow server, through the HTTP client."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def start_import(self, file: Path, company_id: str, bank_account_id: str | None) -> str:
        return self.client.upload_and_categorize(
            company_id, file, bank_account_id=bank_account_id
        ).job_id

    def get(self, job_id: str) -> Job:
        return self.client.get_job(job_id)

    def list(self, page: PageRequest) -> JobPage:
        return self.client.list_jobs(
            page.company_id,
            status=page.status,
            type=page.job_type,
            limit=page.limit,
            cursor=page.cursor,
        )

    def cancel(self, job_id: str) -> Job:
        return self.client.cancel(job_id)

    def retry(self, job_id: str) -> str:
        return self.client.retry(job_id).job_id

    def follow(self, job_id: str, timeout: float | None) -> Iterator[Job]:
        for event in self.client.events(job_id, timeout=timeout):
            yield event.job


def as_client_job(job: StoredJob) -> Job:
    """A stored job exactly as the API would show it."""
    from .api.schemas import JobOut

    return Job.from_json(JobOut.of(job).model_dump(mode="json"))


class LocalJobs:
    """Jobs in the local database, through ``ledgerflow.jobs.Queue``: no server, no sign-in."""

    def __init__(self, queue: Queue, settings: AppSettings) -> None:
        self.queue = queue
        self.settings = settings

    def start_import(self, file: Path, company_id: str, bank_account_id: str | None) -> str:
        """What ``POST /api/jobs/upload-and-categorize`` does: keep a copy, enqueue the job."""
        from fastapi import HTTPException

        from .api.uploads import SNIFF_BYTES, sniff_statement, store

        _require_company(self.queue.url, company_id)
        with file.open("rb") as source:
            try:
                sniff_statement(source.read(SNIFF_BYTES))
            except HTTPException as exc:
                raise click.ClickException(str(exc.detail)) from None
            path = store(source, self.settings.upload_dir, company_id, file.name)
        job = self.queue.enqueue(
            job_types.UPLOAD_AND_CATEGORIZE,
            meta={"company_id": company_id, "file_name": file.name},
            concurrency_key=company_id,
            company_id=company_id,
            file_path=str(path),
            file_name=file.name,
            bank_account_id=bank_account_id,
        )
        return job.id

    def get(self, job_id: str) -> Job:
        return as_client_job(self._stored(job_id))

    def list(self, page: PageRequest) -> JobPage:
        found = self.queue.list(
            page.company_id, page.status, page.job_type, page.limit, page.cursor
        )
        return JobPage([as_client_job(j) for j in found.jobs], found.next_cursor)

    def cancel(self, job_id: str) -> Job:
        self._stored(job_id)
        return as_client_job(self.queue.cancel(job_id))

    def retry(self, job_id: str) -> str:
        self._stored(job_id)
        try:
            return self.queue.retry(job_id).id
        except ConfigurationError as exc:
            raise click.ClickException(f"Cannot retry {job_id}: {exc}.") from None

    def follow(self, job_id: str, timeout: float | None) -> Iterator[Job]:
        deadline = None if timeout is None else time.monotonic() + timeout
        revision: int | None = None
        last: Job | None = None
        while True:
            stored = self._stored(job_id)
            if stored.revision != revision:
                revision, last = stored.revision, as_client_job(stored)
                yield last
            if stored.is_final:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(job_id, timeout or 0.0, last)
            time.sleep(LOCAL_POLL_SECONDS)

    def _stored(self, job_id: str) -> StoredJob:
        try:
            return self.queue.get(job_id)
        except JobNotFound:
            raise click.ClickException(f"Job {job_id} not found.") from None


def _require_company(url: str, company_id: str) -> None:
    from .books.models import Company
    from .server import session_for

    with session_for(url) as session:
        if session.get(Company, company_id) is None:
            raise click.ClickException(
                f"No company {company_id!r} in this database "
                "(create it with `ledgerflow companies create`)."
            )


# --- connection options -----------------------------------------------------------------------
@dataclass(frozen=True)
class Connection:
    server: str | None
    token: str | None
    email: str | None
    password: str | None
    database_url: str | None


def connection_options(command: F) -> F:
    """``--server``, ``--token``, ``--email``, ``--password`` and ``--database-url``."""
    options = [
        click.option(
            "--server",
            envvar="LEDGERFLOW_SERVER",
            metavar="URL",
            help="A ledgerflow server, e.g. http://127.0.0.1:8000 (default: the local database).",
        ),
        click.option("--token", envvar="LEDGERFLOW_TOKEN", help="Bearer token for --server."),
        click.option("--email", envvar="LEDGERFLOW_EMAIL", help="Sign in to --server as EMAIL."),
        click.option(
            "--password",
            envvar="LEDGERFLOW_PASSWORD",
            help="Password for --email (asked for if missing).",
        ),
        click.option(
            "--database-url",
            envvar="DATABASE_URL",
            help="Local database when there is no --server: sqlite:///file.db or postgresql://…",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def connection(params: dict[str, Any]) -> Connection:
    return Connection(
        server=params.pop("server"),
        token=params.pop("token"),
        email=params.pop("email"),
        password=params.pop("password"),
        database_url=params.pop("database_url"),
    )


@contextmanager
def open_jobs(conn: Connection) -> Iterator[Jobs]:
    """Jobs on ``--server`` if given, else in the local database."""
    if conn.server:
        with _signed_in(conn) as client:
            yield RemoteJobs(client)
        return
    settings = AppSettings()
    if conn.database_url:
        settings = settings.model_copy(update={"database_url": conn.database_url})
    with Queue(settings.database_url, settings=settings) as queue:
        yield LocalJobs(queue, settings)


def _signed_in(conn: Connection) -> HttpClient:
    assert conn.server is not None
    if conn.email:
        password = conn.password or click.prompt("Password", hide_input=True)
        try:
            return HttpClient.login(conn.server, conn.email, password)
        except Unauthorized:
            raise click.ClickException("Wrong email or password.") from None
    if not conn.token:
        raise click.UsageError(
            "--server needs --token (or LEDGERFLOW_TOKEN), or --email and --password."
        )
    return HttpClient(conn.server, conn.token)
