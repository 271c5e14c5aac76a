"""Chaos: kill -9 workers every 2 s and restart PostgreSQL while 5,000 jobs run; check the books.

PostgreSQL: 4 ``ledgerflow worker`` processes (4 threads each) run the jobs; every
``--kill-every`` seconds the driver SIGKILLs a random one and starts a replacement, and once, when
``--restart-at`` of the jobs are done, it restarts the PostgreSQL server
(``pg_ctlcluster --skip-systemctl-redirect 15 main restart``). SQLite: the same with
``ledgerflow serve --worker-mode thread`` processes (API and workers in one process), killed
and restarted the same way.

Every job records its executions and applies its side effect idempotently (``INSERT … ON
CONFLICT DO NOTHING`` on the job id) in tables beside the jobs; see
``tests/reliability/chaoskit.py``. At the end the harness checks that no job is lost, stuck,
executed after it finished or executed twice at once, and that every failure has a reason.

The PostgreSQL restart disturbs every other client of that server: run this on a server nobody
else is using (``--no-restart`` to skip it).

Usage: python bench/chaos.py [--jobs 5000] [--engines postgresql sqlite] [--job-seconds 0.1]
       [--kill-every 2] [--restart-at 0.4] [--no-restart] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))
from chaoskit import HEADER, PG_ADMIN, ChaosConfig, ChaosReport, run_chaos, table_row


@contextmanager
def database(engine: str, tmp: Path) -> Iterator[str]:
    """A fresh database for one run: a SQLite file, or a PostgreSQL database dropped after."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp / 'chaos.db'}"
        return
    name = f"lf_chaos_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        for _ in range(30):  # the server may still be coming back from the restart
            try:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except psycopg.OperationalError:
                time.sleep(1)


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--engines", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--processes", type=int, default=4, help="worker processes (PostgreSQL)")
    parser.add_argument("--serve-processes", type=int, default=2, help="serve processes (SQLite)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads per process")
    parser.add_argument("--job-seconds", type=float, default=0.1, help="mean work per job")
    parser.add_argument("--kill-every", type=float, default=2.0, help="seconds (PostgreSQL)")
    parser.add_argument(
        "--sqlite-kill-every", type=float, default=5.0, help="seconds (serve starts slower)"
    )
    parser.add_argument("--restart-at", type=float, default=0.4, help="fraction of jobs done")
    parser.add_argument("--no-restart", action="store_true", help="do not restart PostgreSQL")
    parser.add_argument("--timeout", type=float, default=900, help="bound on the drain, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument("--json", type=Path, help="also write the reports here")
    args = parser.parse_args()

    reports: list[ChaosReport] = []
    scratch = Path(tempfile.mkdtemp(prefix="lf-chaos-"))
    for engine in args.engines:
        workdir = scratch / engine
        workdir.mkdir()
        log(f"{engine}: work folder {workdir}")
        with database(engine, workdir) as url:
            config = ChaosConfig(
                engine=engine,
                url=url,
                workdir=workdir,
                jobs=args.jobs,
                processes=args.processes if engine == "postgresql" else args.serve_processes,
                threads=args.threads,
                job_seconds=args.job_seconds,
                kill_every=args.kill_every if engine == "postgresql" else args.sqlite_kill_every,
                restart_database_at=(
                    None if args.no_restart or engine != "postgresql" else args.restart_at
                ),
                drain_timeout=args.timeout,
                log=log,
            )
            report = run_chaos(config)
        reports.append(report)
        log(f"{engine}: {'OK' if report.ok else 'PROBLEMS'}")
        for reason, count in report.failure_reasons.items():
            log(f"  failed x{count}: {reason}")
        for problem in report.problems[:20]:
            log(f"  {problem}")
    print()
    print(HEADER)
    for report in reports:
        print(table_row(report))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in reports], indent=2, default=str))
    if not args.keep:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    else:
        log(f"logs kept in {scratch}")
    sys.exit(0 if all(r.ok for r in reports) else 1)


if __name__ == "__main__":
    main()
