"""Tasks the contract suite runs, importable by subprocess workers (``--import jobtasks``)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from ledgerflow.jobs import JobContext, JobFailed, task

_lock = threading.Lock()
running_by_company: dict[str, int] = {}
max_running_by_company: dict[str, int] = {}
calls: dict[str, int] = {}


@task(name="t.noop", max_attempts=1)
def noop(ctx: JobContext) -> None:
    return None


@task(name="t.echo")
def echo(ctx: JobContext, value: Any) -> Any:
    return {"echo": value}


@task(name="t.count", max_attempts=3)
def count(ctx: JobContext, n: int, pause: float = 0.0) -> dict[str, int]:
    for i in range(n):
        ctx.progress(100 * i // n, f"Processing {i}/{n}...")
        if pause:
            time.sleep(pause)
    return {"counted": n}


@task(name="t.flaky", max_attempts=3, retry_backoff=0.01, retry_backoff_max=0.05)
def flaky(ctx: JobContext, failures: int) -> dict[str, int]:
    if ctx.attempt <= failures:
        raise RuntimeError(f"failure on attempt {ctx.attempt}")
    return {"attempt": ctx.attempt}


@task(name="t.refuse", max_attempts=3)
def refuse(ctx: JobContext) -> None:
    raise JobFailed("The file has no amount column.")


@task(name="t.sleep", max_attempts=1)
def sleep(ctx: JobContext, seconds: float, step: float = 0.05) -> dict[str, float]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ctx.check_cancelled()
        time.sleep(step)
    return {"slept": seconds}


@task(name="t.hang", max_attempts=1)
def hang(ctx: JobContext, seconds: float) -> None:
    time.sleep(seconds)  # ignores cancellation on purpose: only a timeout stops it


@task(name="t.tenant", max_attempts=1)
def tenant(ctx: JobContext, seconds: float) -> str:
    company = ctx.meta["company_id"]
    with _lock:
        running_by_company[company] = running_by_company.get(company, 0) + 1
        max_running_by_company[company] = max(
            max_running_by_company.get(company, 0), running_by_company[company]
        )
    try:
        time.sleep(seconds)
    finally:
        with _lock:
            running_by_company[company] -= 1
    return str(time.time())


@task(name="t.record", max_attempts=3)
def record(ctx: JobContext, out_dir: str, seconds: float = 0.0, first_only: bool = False) -> None:
    """Append this execution to a per-process file, so a harness can count executions."""
    if seconds and not (first_only and ctx.attempt > 1):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ctx.progress(1, "working")
            time.sleep(0.02)
    line = f"{ctx.id} {ctx.attempt}\n"
    with _lock, open(Path(out_dir) / f"{os.getpid()}.log", "a") as f:
        f.write(line)
