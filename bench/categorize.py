"""Categorization: accuracy on the held-out split, and import/categorize throughput.

Accuracy, precision at the high-confidence threshold and coverage come from
``bench/categorize_accuracy.py`` (run first). Throughput: a Chase-layout CSV of N rows built from
held-out statement lines is imported and categorized on SQLite and PostgreSQL; each stage is
timed from the pipeline's own progress reports (parse 0–20 %, validate 20–30, insert 30–50,
rules 50–70, model 70–90, journal entries 90–100), then the whole upload-and-categorize job runs
through a real worker for the end-to-end figure. "parser" is the parser alone, timed apart;
"parse" is the pipeline's parse stage (parser plus spooling the rows). Peak RSS is this
process's.

Usage: python bench/categorize.py [--rows 10000 100000] [--engines sqlite postgresql]
       [--no-accuracy]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

import ledgerflow.tasks  # noqa: F401  (registers the job handlers)
from ledgerflow import job_types
from ledgerflow.books.importers import parse_statement
from ledgerflow.books.pipeline import categorize, import_statement
from ledgerflow.jobs import JobSettings, Queue
from ledgerflow.server import migrate, session_for
from ledgerflow.tasks import sessions_for
from ledgerflow.tenancy import new_company

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "training" / "transactions.csv"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
STAGES = (
    (20, "parse"),
    (30, "validate"),
    (50, "insert"),
    (70, "rules"),
    (90, "model"),
    (100, "journal"),
)


def write_statement(path: Path, rows: int, seed: int = 11, salt: str = "") -> None:
    """A Chase checking export of ``rows`` held-out statement lines."""
    with DATA.open() as f:
        lines = [
            (r["description"], int(r["amount_cents"]))
            for r in csv.DictReader(f)
            if r["split"] == "test"
        ]
    rng = random.Random(seed)
    start = dt.date(2026, 1, 1)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            [
                "Details",
                "Posting Date",
                "Description",
                "Amount",
                "Type",
                "Balance",
                "Check or Slip #",
            ]
        )
        for i in range(rows):
            description, cents = rng.choice(lines)
            date = start + dt.timedelta(days=i * 300 // rows)
            kind = "CREDIT" if cents > 0 else "DEBIT"
            out.writerow(
                [
                    kind,
                    date.strftime("%m/%d/%Y"),
                    f"{description} {salt}{i}",
                    f"{cents / 100:.2f}",
                    "ACH",
                    "0.00",
                    "",
                ]
            )


@contextmanager
def database(engine: str, tmp: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}"
        return
    name = f"lf_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_company(url: str) -> None:
    migrate(url)
    with session_for(url) as session:
        new_company(session, "bench", "Bench Inc")


def staged(url: str, path: Path, rows: int) -> dict[str, float]:
    """Seconds per stage, from the pipeline's progress reports."""
    marks: dict[str, float] = {}
    began = time.perf_counter()

    def progress(percent: float, _message: str) -> None:
        for bound, stage in STAGES:
            if percent >= bound and stage not in marks:
                marks[stage] = time.perf_counter() - began

    sessions = sessions_for(url)
    t0 = time.perf_counter()
    parsed = sum(1 for _ in parse_statement(path).rows())
    parse_only = time.perf_counter() - t0
    assert parsed == rows
    began = time.perf_counter()
    import_statement(sessions, "bench", path, path.name, None, "job_bench", progress)
    categorize(sessions, "bench", progress, import_job_id="job_bench")
    total = time.perf_counter() - began
    previous, seconds = 0.0, {"parse_only": parse_only}
    for _, stage in STAGES:
        at = marks.get(stage, previous)
        seconds[stage] = at - previous
        previous = at
    seconds["pipeline"] = total
    return seconds


def end_to_end(url: str, path: Path) -> float:
    settings = JobSettings(poll_interval=0.05)
    with Queue(url, settings=settings) as queue, queue.worker(concurrency=1):
        began = time.perf_counter()
        job = queue.enqueue(
            job_types.UPLOAD_AND_CATEGORIZE,
            company_id="bench",
            file_path=str(path),
            file_name=path.name,
            meta={"company_id": "bench"},
        )
        while not (current := queue.get(job.id)).is_final:
            time.sleep(0.01)
        assert current.status.value == "complete", current.error
        return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--no-accuracy", action="store_true")
    args = parser.parse_args()
    if not args.no_accuracy:
        subprocess.run([sys.executable, str(ROOT / "bench" / "categorize_accuracy.py")], check=True)
    print("\n## Import and categorize throughput (rows/s)\n")
    print(
        "| engine | rows | parser | parse | insert | rules | model | journal | pipeline "
        "| end-to-end job |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        for rows in args.rows:
            path = tmp / f"statement-{rows}.csv"
            write_statement(path, rows)
            for engine in args.engines:
                with database(engine, tmp) as url:
                    fresh_company(url)
                    s = staged(url, path, rows)
                with database(engine, tmp) as url:
                    fresh_company(url)
                    e2e = end_to_end(url, path)

                def rate(seconds: float, n: int = rows) -> str:
                    return f"{n / seconds:,.0f}" if seconds > 0 else "–"

                print(
                    f"| {engine} | {rows:,} | {rate(s['parse_only'])} | {rate(s['parse'])} "
                    f"| {rate(s['insert'])} "
                    f"| {rate(s['rules'])} | {rate(s['model'])} | {rate(s['journal'])} "
                    f"| {rate(s['pipeline'])} | {rate(e2e)} |",
                    flush=True,
                )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
