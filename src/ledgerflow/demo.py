"""A terminal demo of the job runtime: jobs with live progress bars (until the web UI lands)."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from .jobs import Cancelled, JobContext, JobStatus, Queue, task

STAGES = ("Parsing", "Validating", "Inserting", "Applying rules", "Running the model", "Writing")


@task(name="demo.process_file", max_attempts=1)
def process_file(ctx: JobContext, rows: int, fail_at: int | None = None) -> dict[str, int]:
    """Pretend to import a file: walk the stages with a realistic pace."""
    for i in range(rows):
        stage = STAGES[i * len(STAGES) // rows]
        ctx.progress(100 * i // rows, f"{stage}: row {i + 1}/{rows}...")
        if fail_at is not None and i == fail_at:
            raise ValueError(f"row {i + 1} has no amount")
        time.sleep(random.uniform(0.005, 0.02))
    return {"rows": rows}


def run_demo(database_url: str | None, count: int) -> int:
    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        url = database_url or f"sqlite:///{Path(scratch) / 'demo.db'}"
        queue = Queue(url)
        console.print(f"[bold]ledgerflow job runtime demo[/] on {url}")
        jobs = [
            queue.enqueue(
                process_file,
                rows=random.randint(150, 400),
                fail_at=120 if i == count - 1 and count > 1 else None,
                meta={"company_id": "demo", "file_name": f"statement-{i + 1}.csv"},
            )
            for i in range(count)
        ]
        worker = queue.worker(concurrency=2).start()
        try:
            _watch(queue, [j.id for j in jobs], console)
        except Cancelled:
            pass
        finally:
            worker.stop(grace=1)
            queue.close()
        return 0


def _watch(queue: Queue, job_ids: list[str], console: Console) -> None:
    columns = (
        TextColumn("{task.fields[name]:<18}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[status]:<9}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bars = {
            job_id: progress.add_task("waiting", total=100, name=job_id[-10:], status="pending")
            for job_id in job_ids
        }
        while True:
            final = 0
            for job_id, bar in bars.items():
                job = queue.get(job_id)
                text = job.error or job.message or ""
                progress.update(
                    bar, completed=job.progress, description=text, status=job.status.value
                )
                final += job.is_final
            if final == len(bars):
                break
            time.sleep(0.1)
    for job_id in job_ids:
        job = queue.get(job_id)
        colour = "green" if job.status is JobStatus.COMPLETE else "red"
        summary = job.result if job.result is not None else job.error
        console.print(f"[{colour}]{job.id} {job.status.value}[/]: {summary}")
