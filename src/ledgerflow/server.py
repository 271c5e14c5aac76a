"""Running the whole thing: migrations, the demo seed, uvicorn, and the worker child process."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
import uvicorn
from sqlalchemy.orm import Session

from .books.db import make_engine, make_sessionmaker, session_scope, writer
from .books.db import upgrade as upgrade_books
from .heap import settle_heap
from .jobs import Queue
from .settings import AppSettings, redact

_PR_SET_PDEATHSIG = 1


def migrate(url: str) -> None:
    Queue(url).close()
    upgrade_books(url)


@contextmanager
def session_for(url: str) -> Iterator[Session]:
    migrate(url)
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(writer(engine))) as session:
            yield session
    finally:
        engine.dispose()


def run_server(
    settings: AppSettings,
    *,
    host: str,
    port: int,
    worker_threads: int,
    worker_mode: str,
    demo: bool,
) -> None:
    from .api.app import create_app

    migrate(settings.database_url)
    if demo:
        from .demo import seed_demo

        with session_for(settings.database_url) as session:
            notes = seed_demo(session, settings)
        for line in notes:
            click.echo(line)
    child: subprocess.Popen[bytes] | None = None
    in_process = worker_threads if worker_mode == "thread" else 0
    if worker_mode == "process" and worker_threads > 0:
        child = start_worker_process(
            settings.database_url, worker_threads, settings.worker_niceness
        )
    app = create_app(settings, worker_threads=in_process)
    where = "in this process" if in_process else ("in a child process" if child else "nowhere")
    click.echo(
        f"ledgerflow serving http://{host}:{port}/ on {redact(settings.database_url)} "
        f"with {worker_threads} worker threads {where}",
        err=True,
    )
    settle_heap()
    try:
        # uvicorn shuts down on SIGTERM and then raises the signal again; with the default
        # handler that would end this process before the worker child is stopped.
        signal.signal(signal.SIGTERM, _leave)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if child is not None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=settings.shutdown_grace + 5)
            except subprocess.TimeoutExpired:
                child.kill()


def _leave(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _prepare_child(niceness: int) -> None:
    """In the child: a lower CPU priority, and SIGTERM when the parent dies (even by kill -9)."""
    os.nice(niceness)
    # Elsewhere than Linux this is skipped: the parent's own shutdown path still stops the child.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_worker_process(url: str, threads: int, niceness: int = 0) -> subprocess.Popen[bytes]:
    """A ``ledgerflow worker`` child: CPU-heavy jobs get their own interpreter (and GIL)."""
    env = {**os.environ, "DATABASE_URL": url}
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledgerflow.cli",
            "--log-level",
            level,
            "worker",
            "--concurrency",
            str(threads),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        preexec_fn=functools.partial(_prepare_child, niceness),
    )
