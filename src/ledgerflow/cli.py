"""``ledgerflow``: the command line (worker, demo; serve and the rest arrive with the API)."""

from __future__ import annotations

import logging
import os
import socket
import sys

import click

from .jobs import JobSettings, Queue

DEFAULT_TASK_MODULES = ("ledgerflow.tasks",)


def _import_tasks(modules: tuple[str, ...]) -> None:
    import importlib

    for module in modules:
        importlib.import_module(module)


@click.group()
@click.option("--log-level", default="INFO", show_default=True, help="Python logging level.")
def main(log_level: str) -> None:
    """ledgerflow: an AI bookkeeper whose heavy work runs as durable background jobs."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
@click.option("--database-url", envvar="DATABASE_URL", help="sqlite:///file.db or postgresql://…")
@click.option("--queues", default="default", show_default=True, help="Comma-separated queue names.")
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
    settings = JobSettings()
    queue = Queue(database_url or settings.database_url, settings=settings)
    runner = queue.worker(
        queues=[q.strip() for q in queues.split(",") if q.strip()], concurrency=concurrency
    )
    click.echo(
        f"ledgerflow worker {runner.id} on {socket.gethostname()} pid {os.getpid()}: "
        f"{runner.concurrency} threads, queues {','.join(runner.queues)}, "
        f"database {_redact(queue.url)}",
        err=True,
    )
    runner.run_forever()
    queue.close()


@main.command()
@click.option("--database-url", envvar="DATABASE_URL", help="Default: a temporary SQLite file.")
@click.option("--jobs", "count", default=4, show_default=True, help="How many demo jobs to run.")
def demo(database_url: str | None, count: int) -> None:
    """Enqueue a few demo jobs and show their live progress in the terminal."""
    from .demo import run_demo

    sys.exit(run_demo(database_url, count))


def _redact(url: str) -> str:
    """Hide a password in a URL before printing it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


if __name__ == "__main__":
    main()
