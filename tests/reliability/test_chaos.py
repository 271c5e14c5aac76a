"""Chaos, short: kill -9 workers while 600 jobs run; nothing lost, stuck or run twice.

PostgreSQL: ``ledgerflow worker`` processes. SQLite: ``ledgerflow serve --worker-mode thread``
processes (API and workers in one process). The long version, with a PostgreSQL restart, is
``bench/chaos.py``; the server is shared with other tests, so it is never restarted here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chaoskit import HEADER, ChaosConfig, run_chaos, table_row

pytestmark = pytest.mark.slow

SHAPE = {
    # engine: (processes, job seconds, kills, seconds between kills)
    "postgresql": (2, 0.05, 3, 1.5),
    "sqlite": (2, 0.05, 2, 2.5),
}


def test_kill_9_loses_nothing_and_runs_nothing_twice(db_url: str, tmp_path: Path) -> None:
    engine = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    processes, job_seconds, kills, kill_every = SHAPE[engine]
    report = run_chaos(
        ChaosConfig(
            engine=engine,
            url=db_url,
            workdir=tmp_path / "chaos",
            jobs=600,
            processes=processes,
            threads=4,
            job_seconds=job_seconds,
            kill_every=kill_every,
            max_kills=kills,
            companies=10,
            drain_timeout=90,
        )
    )
    summary = f"{HEADER}\n{table_row(report)}\n" + "\n".join(report.problems[:20])
    print(summary)
    assert report.kills >= 1, summary
    assert report.lost == 0, summary
    assert report.stuck == 0, summary
    assert report.duplicated == 0, summary
    assert report.at_once == 0, summary
    assert report.failed_without_reason == 0, summary
    assert report.died == 0 and report.unclean_exits == 0, summary
    assert report.complete + report.failed == report.jobs == 600
    assert report.executions >= report.jobs
