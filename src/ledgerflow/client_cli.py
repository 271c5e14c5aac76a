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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

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

from .client import ClientError, Job, NotFound, Unauthorized
from .client_jobs import Jobs, LocalJobs, PageRequest, connection, connection_options, open_jobs

STATUSES = ("pending", "running", "complete", "failed", "cancelled")


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
        page = jobs.list(PageRequest(company_id, status, job_type, limit, cursor))
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
