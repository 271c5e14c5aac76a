"""``ledgerflow import`` and ``ledgerflow jobs``: against the live server, and on a local
SQLite database without any server."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from clientkit import CHASE_CSV, EMAILS, PASSWORD, Live

from ledgerflow.client_cli import register
from ledgerflow.jobs import Queue


@pytest.fixture(scope="module")
def cli() -> click.Group:
    group = click.Group("ledgerflow")
    register(group)
    return group


def run(cli: click.Group, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def remote(live: Live, who: str = "alice") -> list[str]:
    return ["--server", live.url, "--token", live.tokens[who]]


# --- against a server -------------------------------------------------------------------------
def test_import_shows_progress_and_the_result(cli: click.Group, live: Live) -> None:
    result = run(cli, "import", str(CHASE_CSV), "--company", "acme", *remote(live))
    assert result.exit_code == 0, result.output
    assert "Started job_" in result.output
    assert "100%" in result.output
    assert "complete" in result.output
    assert "inserted" in result.output and "parsed" in result.output
    assert "journal entries created" in result.output  # the job's last message on the bar


def test_import_signs_in_with_email_and_password_from_the_environment(
    cli: click.Group, live: Live
) -> None:
    env = {
        "LEDGERFLOW_SERVER": live.url,
        "LEDGERFLOW_EMAIL": EMAILS["alice"],
        "LEDGERFLOW_PASSWORD": PASSWORD,
    }
    result = run(cli, "import", str(CHASE_CSV), "--company", "acme", "--no-wait", env=env)
    assert result.exit_code == 0, result.output
    job_id = result.output.strip().splitlines()[-1]
    assert job_id.startswith("job_")
    wrong = run(cli, "jobs", "show", job_id, env={**env, "LEDGERFLOW_PASSWORD": "nope"})
    assert wrong.exit_code == 1 and "Wrong email or password" in wrong.output


def test_jobs_commands(cli: click.Group, live: Live) -> None:
    done = live.enqueue("t.count", n=5, pause=0.01)
    waited = run(cli, "jobs", "wait", done, *remote(live))
    assert waited.exit_code == 0, waited.output
    assert "complete" in waited.output and "counted" in waited.output

    shown = run(cli, "jobs", "show", done, "--json", *remote(live))
    assert json.loads(shown.output)["result"] == {"counted": 5}
    assert done in run(cli, "jobs", "show", done, *remote(live)).output

    listed = run(
        cli, "jobs", "list", "--company", "acme", "--type", "t.count", "--json", *remote(live)
    )
    assert done in [j["id"] for j in json.loads(listed.output)["jobs"]]
    table = run(cli, "jobs", "list", "--company", "acme", "--limit", "1", *remote(live))
    assert table.exit_code == 0 and "More: --cursor job_" in table.output

    slow = live.enqueue("t.sleep", seconds=30)
    try:
        cancelled = run(cli, "jobs", "cancel", slow, *remote(live))
        assert cancelled.exit_code == 0 and slow in cancelled.output
        ended = run(cli, "jobs", "wait", slow, "--timeout", "10", *remote(live))
        assert ended.exit_code == 1 and "cancelled" in ended.output
        retried = run(cli, "jobs", "retry", slow, *remote(live))
        assert retried.exit_code == 0
        again = retried.output.strip()
        assert again.startswith("job_") and again != slow
        run(cli, "jobs", "cancel", again, *remote(live))
    finally:
        live.queue.cancel(slow)


def test_remote_errors(cli: click.Group, live: Live) -> None:
    job_id = live.enqueue("t.noop")
    hidden = run(cli, "jobs", "show", job_id, *remote(live, "carol"))
    assert hidden.exit_code == 1 and "Not found: Job not found." in hidden.output
    anonymous = run(cli, "jobs", "show", job_id, "--server", live.url)
    assert anonymous.exit_code == 2 and "--token" in anonymous.output
    expired = run(cli, "jobs", "show", job_id, "--server", live.url, "--token", "x")
    assert expired.exit_code == 1 and "Not signed in" in expired.output
    viewer = run(cli, "import", str(CHASE_CSV), "--company", "acme", *remote(live, "bob"))
    assert viewer.exit_code == 1 and "Viewers can read" in viewer.output


# --- on a local database ----------------------------------------------------------------------
def test_local_import_runs_the_job_here(cli: click.Group, local_db: str, tmp_path: Path) -> None:
    result = run(cli, "import", str(CHASE_CSV), "--company", "acme", "--database-url", local_db)
    assert result.exit_code == 0, result.output
    assert "complete" in result.output and "inserted" in result.output
    stored = list((tmp_path / "uploads" / "acme").iterdir())
    assert len(stored) == 1 and stored[0].name.endswith("chase_checking.csv")

    listed = run(cli, "jobs", "list", "--company", "acme", "--json", "--database-url", local_db)
    (job,) = json.loads(listed.output)["jobs"]
    assert job["type"] == "upload_and_categorize" and job["status"] == "complete"
    assert job["result"]["inserted"] == 15

    again = run(cli, "import", str(CHASE_CSV), "--company", "acme", "--database-url", local_db)
    assert again.exit_code == 0, again.output
    assert "duplicates" in again.output


def test_local_jobs_commands(cli: click.Group, local_db: str) -> None:
    queued = run(
        cli, "import", str(CHASE_CSV), "--company", "acme", "--no-wait", "--database-url", local_db
    )
    job_id = queued.output.strip().splitlines()[-1]
    shown = json.loads(
        run(cli, "jobs", "show", job_id, "--json", "--database-url", local_db).output
    )
    assert shown["status"] == "pending" and shown["company_id"] == "acme"

    cancelled = run(cli, "jobs", "cancel", job_id, "--database-url", local_db)
    assert cancelled.output.strip() == f"{job_id} cancelled"
    waited = run(cli, "jobs", "wait", job_id, "--database-url", local_db)
    assert waited.exit_code == 1 and "cancelled" in waited.output

    retried = run(cli, "jobs", "retry", job_id, "--database-url", local_db).output.strip()
    assert retried.startswith("job_") and retried != job_id
    with Queue(local_db) as queue:
        assert queue.get(retried).args == queue.get(job_id).args
    refused = run(cli, "jobs", "retry", retried, "--database-url", local_db)
    assert refused.exit_code == 1 and "Cannot retry" in refused.output

    timed_out = run(cli, "jobs", "wait", retried, "--timeout", "0.2", "--database-url", local_db)
    assert timed_out.exit_code == 1 and "did not finish within 0.2 s" in timed_out.output


def test_local_errors(cli: click.Group, local_db: str, tmp_path: Path) -> None:
    missing = run(cli, "jobs", "show", "job_01JD4Q8V6T3W7X9Y2Z5A1B3C4D", "--database-url", local_db)
    assert missing.exit_code == 1 and "not found" in missing.output
    nobody = run(cli, "import", str(CHASE_CSV), "--company", "initech", "--database-url", local_db)
    assert nobody.exit_code == 1 and "No company 'initech'" in nobody.output
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    refused = run(cli, "import", str(binary), "--company", "acme", "--database-url", local_db)
    assert refused.exit_code == 1 and "not a CSV or OFX" in refused.output
