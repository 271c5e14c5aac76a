"""``ledgerflow``: serve, worker, users, companies, db."""

from __future__ import annotations

import logging
import os
import socket

import click

from .client_cli import register as register_client_commands
from .heap import settle_heap
from .jobs import Queue
from .settings import AppSettings, redact

DEFAULT_TASK_MODULES = ("ledgerflow.tasks",)


def _import_tasks(modules: tuple[str, ...]) -> None:
    import importlib

    for module in modules:
        importlib.import_module(module)


def _settings(database_url: str | None) -> AppSettings:
    settings = AppSettings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


database_option = click.option(
    "--database-url", envvar="DATABASE_URL", help="sqlite:///file.db or postgresql://…"
)


@click.group()
@click.option("--log-level", default="INFO", show_default=True, help="Python logging level.")
def main(log_level: str) -> None:
    """ledgerflow: an AI bookkeeper whose heavy work runs as durable background jobs."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
@database_option
@click.option("--queues", default="default", show_default=True, help="Comma-separated queues.")
@click.option("--concurrency", type=int, help="Worker threads (default: WORKER_THREADS or 4).")
@click.option(
    "--import",
    "modules",
    multiple=True,
    help="Module that registers tasks (repeatable; default: ledgerflow.tasks).",
)
def worker(
    database_url: str | None, queues: str, concurrency: int | None, modules: tuple[str, ...]
) -> None:
    """Run jobs from the database until SIGTERM (graceful: running jobs finish or are released)."""
    _import_tasks(modules or DEFAULT_TASK_MODULES)
    settings = _settings(database_url)
    queue = Queue(settings.database_url, settings=settings)
    runner = queue.worker(
        queues=[q.strip() for q in queues.split(",") if q.strip()], concurrency=concurrency
    )
    settle_heap()
    runner.run_forever(
        started=lambda w: click.echo(
            f"ledgerflow worker {w.id} on {socket.gethostname()} pid {os.getpid()}: "
            f"{w.concurrency} threads, queues {','.join(w.queues)}, "
            f"database {redact(queue.url)}",
            err=True,
        )
    )
    queue.close()


@main.command()
@database_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", type=int, help="Worker threads (default WORKER_THREADS); 0: API only.")
@click.option(
    "--worker-mode",
    type=click.Choice(["process", "thread"]),
    help="Run workers in a child process (default: the API stays fast under CPU-heavy jobs) "
    "or as threads inside this process.",
)
@click.option("--demo", is_flag=True, help="Seed a demo company and user, and print them.")
def serve(
    database_url: str | None,
    host: str,
    port: int,
    workers: int | None,
    worker_mode: str | None,
    demo: bool,
) -> None:
    """Serve the API, the web page at / and the workers."""
    from .server import run_server

    settings = _settings(database_url)
    run_server(
        settings,
        host=host,
        port=port,
        worker_threads=settings.worker_threads if workers is None else workers,
        worker_mode=worker_mode or settings.worker_mode,
        demo=demo,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@database_option
def db_upgrade(database_url: str | None) -> None:
    """Apply every pending migration (jobs and books); safe while workers run."""
    from .server import migrate

    settings = _settings(database_url)
    migrate(settings.database_url)
    click.echo(f"database {redact(settings.database_url)} is up to date")


@main.group()
def users() -> None:
    """Users."""


@users.command("create")
@database_option
@click.argument("email")
@click.option("--password", envvar="LEDGERFLOW_PASSWORD", help="Asked for when not given.")
@click.option(
    "--admin", is_flag=True, help="An instance admin (sees /admin); promotes an existing user."
)
def users_create(database_url: str | None, email: str, password: str | None, admin: bool) -> None:
    """Create a user who signs in with EMAIL and the password.

    With --admin, an EMAIL that already exists is made an instance admin instead (its password
    stays as it is).
    """
    from sqlalchemy import select

    from .books.models import User
    from .server import session_for
    from .tenancy import create_user

    with session_for(_settings(database_url).database_url) as session:
        existing = session.scalars(select(User).where(User.email == email.strip().lower())).first()
        if existing is not None and admin:
            was_admin, existing.is_admin = existing.is_admin, True
            state = "was already" if was_admin else "is now"
            click.echo(
                f"{existing.email} ({existing.id}) {state} an instance admin; "
                "the password was not changed"
            )
            return
        if password is None and existing is None:
            password = click.prompt("Password", hide_input=True)
        try:
            user = create_user(session, email, password or "", is_admin=admin)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        role = "instance admin" if admin else "user"
        click.echo(f"created {role} {user.id} <{user.email}>")


@main.group()
def companies() -> None:
    """Companies and their members."""


@companies.command("create")
@database_option
@click.argument("company_id")
@click.argument("name")
@click.option("--owner", help="Email of an existing user to make owner.")
def companies_create(
    database_url: str | None, company_id: str, name: str, owner: str | None
) -> None:
    """Create COMPANY_ID (a-z, 0-9, -, _) named NAME, with the default chart of accounts."""
    from .server import session_for
    from .tenancy import new_company

    with session_for(_settings(database_url).database_url) as session:
        try:
            company = new_company(session, company_id, name, owner)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"created company {company.id} ({company.name})")


@companies.command("add-member")
@database_option
@click.argument("company_id")
@click.argument("email")
@click.option("--role", type=click.Choice(["owner", "bookkeeper", "viewer"]), default="bookkeeper")
def companies_add_member(database_url: str | None, company_id: str, email: str, role: str) -> None:
    """Give the user EMAIL a role in COMPANY_ID (or change it)."""
    from .server import session_for
    from .tenancy import add_member

    with session_for(_settings(database_url).database_url) as session:
        try:
            add_member(session, company_id, email, role)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{email} is now {role} of {company_id}")


register_client_commands(main)  # `ledgerflow import` and `ledgerflow jobs ...`

if __name__ == "__main__":
    main()
