"""``ledgerflow import FILE`` and ``ledgerflow jobs list|show|cancel|retry|wait``.

With ``--server URL`` (or ``LEDGERFLOW_SERVER``) they talk to a ledgerflow server through
``ledgerflow.client``, signed in with ``--token`` (``LEDGERFLOW_TOKEN``) or ``--email`` and
``--password``. Without it they work on the local database (``--database-url``, else
``DATABASE_URL``) directly; ``import`` then also runs the job in this process unless told
``--no-worker`` (when a ``ledgerflow worker`` or ``serve`` on that database runs it).

Register them on the main group with ``register(main)``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table

from . import job_types
from .client import Client as HttpClient
from .client import ClientError, Job, JobPage, NotFound, Unauthorized, WaitTimeout
from .jobs import ConfigurationError, JobNotFound, Queue
from .jobs import Job as StoredJob
from .settings import AppSettings

F = TypeVar("F", bound=Callable[..., Any])
LOCAL_POLL_SECONDS = 0.1
STATUSES = ("pending", "running", "complete", "failed", "cancelled")


class Jobs(Protocol):
    """What the commands need, from a server or from the local database."""

    def start_import(self, file: Path, company_id: str, bank_account_id: str | None) -> str: ...

    def get(self, job_id: str) -> Job: ...

    def list(
        self,
        company_id: str,
        status: str | None,
        job_type: str | None,
        limit: int,
        cursor: str | None,
    ) -> JobPage: ...

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

    def list(
        self,
        company_id: str,
        status: str | None,
        job_type: str | None,
        limit: int,
        cursor: str | None,
    ) -> JobPage:
        return self.client.list_jobs(
            company_id, status=status, type=job_type, limit=limit, cursor=cursor
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

    def list(
        self,
        company_id: str,
        status: str | None,
        job_type: str | None,
        limit: int,
        cursor: str | None,
    ) -> JobPage:
        page = self.queue.list(company_id, status, job_type, limit, cursor)
        return JobPage([as_client_job(j) for j in page.jobs], page.next_cursor)

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


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Client errors as one-line messages instead of tracebacks."""
    try:
        yield
    except NotFound as exc:
        raise click.ClickException(f"Not found: {exc.detail}") from None
    except Unauthorized as exc:
        raise click.ClickException(
            f"Not signed in: {exc.detail} Check --token, or use --email and --password."
        ) from None
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None


# --- output -----------------------------------------------------------------------------------
def _console() -> Console:
    return Console(highlight=False)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def result_table(result: Any) -> Table | None:
    """A job's result as a two-column table (None when there is none)."""
    if result is None:
        return None
    table = Table(title="Result", show_header=True)
    table.add_column("", style="bold")
    table.add_column("value", overflow="fold")
    items = result.items() if isinstance(result, dict) else [("result", result)]
    for key, value in items:
        table.add_row(str(key).replace("_", " "), _cell(value))
    return table


def job_table(job: Job) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows: list[tuple[str, Any]] = [
        ("id", job.id),
        ("type", job.type),
        ("status", job.status),
        ("progress", f"{job.progress}%"),
        ("message", job.message),
        ("error", job.error),
        ("company", job.company_id),
        ("created", job.created_at.isoformat(timespec="seconds")),
        ("started", job.started_at.isoformat(timespec="seconds") if job.started_at else None),
        ("finished", job.finished_at.isoformat(timespec="seconds") if job.finished_at else None),
        ("attempts", job.attempts),
    ]
    for key, value in rows:
        table.add_row(key, _cell(value))
    return table


def job_lines(jobs: list[Job], width: int) -> list[str]:
    """A plain, aligned listing; the message column gets what is left of ``width``."""
    rows = [("ID", "TYPE", "STATUS", "CREATED", "MESSAGE")]
    for job in jobs:
        state = job.status if job.is_final else f"{job.status} {job.progress}%"
        created = job.created_at.astimezone().strftime("%m-%d %H:%M")
        rows.append((job.id, job.type, state, created, job.error or job.message or ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  "
        room = width - len(line)
        message = row[4] if len(row[4]) <= room else row[4][: max(0, room - 1)] + "…"
        lines.append((line + message).rstrip() if room > 1 else line.rstrip())
    return lines


def job_json(job: Job) -> dict[str, Any]:
    times = {
        name: (value.isoformat() if value else None)
        for name, value in (
            ("created_at", job.created_at),
            ("started_at", job.started_at),
            ("finished_at", job.finished_at),
        )
    }
    return {
        "id": job.id,
        "type": job.type,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "result": job.result,
        "error": job.error,
        "company_id": job.company_id,
        **times,
        "attempts": job.attempts,
    }


def follow_with_progress(jobs: Jobs, job_id: str, timeout: float | None, console: Console) -> Job:
    """Show a progress bar fed by the job's progress and message until it ends."""
    columns = (
        SpinnerColumn(finished_text="•"),
        TextColumn(
            "{task.description}",
            table_column=Column(no_wrap=True, overflow="ellipsis", max_width=48),
        ),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    last: Job | None = None
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("Waiting to start…", total=100)
        for job in jobs.follow(job_id, timeout):
            last = job
            text = job.message or job.status.capitalize()
            progress.update(bar, completed=job.progress, description=text)
    assert last is not None
    return last


def report(job: Job, console: Console) -> None:
    """Print how the job ended; exit 1 unless it completed."""
    if job.status == "complete":
        console.print(f"[green]✓[/] {job.id} complete")
        table = result_table(job.result)
        if table is not None:
            console.print(table)
        return
    console.print(f"[red]✗[/] {job.id} {job.status}: {job.error or '(no details)'}")
    raise SystemExit(1)


def wait_and_report(jobs: Jobs, job_id: str, timeout: float | None, console: Console) -> None:
    try:
        job = follow_with_progress(jobs, job_id, timeout, console)
    except KeyboardInterrupt:
        console.print(
            f"Stopped waiting. The job goes on; follow it with `ledgerflow jobs wait {job_id}`."
        )
        raise SystemExit(130) from None
    report(job, console)


# --- commands ---------------------------------------------------------------------------------
@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--company", "company_id", required=True, help="Company id.")
@click.option("--bank-account", "bank_account_id", help="Bank account id (default: detected).")
@click.option("--timeout", type=float, help="Give up waiting after this many seconds.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the job.")
@click.option(
    "--worker/--no-worker",
    default=True,
    show_default=True,
    help="Without --server: run jobs in this process while waiting.",
)
@connection_options
def import_command(
    file: Path,
    company_id: str,
    bank_account_id: str | None,
    timeout: float | None,
    wait: bool,
    worker: bool,
    **params: Any,
) -> None:
    """Import a bank statement FILE (CSV, OFX, QFX) and categorize its transactions."""
    conn = connection(params)
    console = _console()
    with friendly_errors(), open_jobs(conn) as jobs, ExitStack() as stack:
        job_id = jobs.start_import(file, company_id, bank_account_id)
        console.print(f"Started {job_id}: importing {file.name} into {company_id}")
        if not wait:
            click.echo(job_id)
            return
        if isinstance(jobs, LocalJobs) and worker:
            import ledgerflow.tasks  # noqa: F401  (registers the task functions)

            runner = jobs.queue.worker(concurrency=1).start()
            stack.callback(runner.stop, grace=0)
        wait_and_report(jobs, job_id, timeout, console)


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs: list, show, cancel, retry, wait."""


@jobs_group.command("list")
@click.option("--company", "company_id", required=True, help="Company id.")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--type", "job_type", help="e.g. upload_and_categorize")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--cursor", help="next_cursor of the previous page.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@connection_options
def jobs_list(
    company_id: str,
    status: str | None,
    job_type: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
    **params: Any,
) -> None:
    """A company's jobs, newest first."""
    console = _console()
    with friendly_errors(), open_jobs(connection(params)) as jobs:
        page = jobs.list(company_id, status, job_type, limit, cursor)
    if as_json:
        body = {"jobs": [job_json(j) for j in page.jobs], "next_cursor": page.next_cursor}
        click.echo(json.dumps(body, indent=2))
        return
    for line in job_lines(page.jobs, console.width):
        click.echo(line)
    if page.next_cursor:
        console.print(f"More: --cursor {page.next_cursor}")


@jobs_group.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@connection_options
def jobs_show(job_id: str, as_json: bool, **params: Any) -> None:
    """A job's status, progress, message and result."""
    console = _console()
    with friendly_errors(), open_jobs(connection(params)) as jobs:
        job = jobs.get(job_id)
    if as_json:
        click.echo(json.dumps(job_json(job), indent=2))
        return
    console.print(job_table(job))
    table = result_table(job.result)
    if table is not None:
        console.print(table)


@jobs_group.command("cancel")
@click.argument("job_id")
@connection_options
def jobs_cancel(job_id: str, **params: Any) -> None:
    """Cancel: a pending job at once, a running one at its next progress report."""
    with friendly_errors(), open_jobs(connection(params)) as jobs:
        job = jobs.cancel(job_id)
    click.echo(f"{job.id} {job.status}")


@jobs_group.command("retry")
@click.argument("job_id")
@connection_options
def jobs_retry(job_id: str, **params: Any) -> None:
    """Run a failed or cancelled job again, as a new job; prints the new job's id."""
    with friendly_errors(), open_jobs(connection(params)) as jobs:
        click.echo(jobs.retry(job_id))


@jobs_group.command("wait")
@click.argument("job_id")
@click.option("--timeout", type=float, help="Give up after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="No progress bar; print the job as JSON.")
@connection_options
def jobs_wait(job_id: str, timeout: float | None, as_json: bool, **params: Any) -> None:
    """Follow a job with a progress bar until it ends; exit 1 unless it completed."""
    console = _console()
    with friendly_errors(), open_jobs(connection(params)) as jobs:
        if not as_json:
            wait_and_report(jobs, job_id, timeout, console)
            return
        last: Job | None = None
        for last in jobs.follow(job_id, timeout):  # noqa: B007
            pass
        assert last is not None
        click.echo(json.dumps(job_json(last), indent=2))
        if last.status != "complete":
            raise SystemExit(1)


def register(main: click.Group) -> None:
    """Add ``import`` and ``jobs`` to the ``ledgerflow`` command group."""
    main.add_command(import_command)
    main.add_command(jobs_group)
