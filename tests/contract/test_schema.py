"""The migrated schema equals the declared one; invariants hold in the database itself."""

from __future__ import annotations

import dataclasses
import time

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import ledgerflow.jobs
from ledgerflow.jobs import Queue
from ledgerflow.jobs.migrate import alembic_config, sqlalchemy_url
from ledgerflow.jobs.schema import jobs, metadata


def test_migrated_schema_equals_declared(queue: Queue, db_url: str) -> None:
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_object": lambda o, name, type_, *_: (
                        type_ != "table" or name in metadata.tables
                    ),
                },
            )
            assert compare_metadata(context, metadata) == []
            tables = set(sa.inspect(conn).get_table_names())
        assert {"lf_jobs", "lf_workers", "lf_leases", "lf_jobs_alembic_version"} <= tables
    finally:
        engine.dispose()


def test_migrating_twice_is_harmless(db_url: str) -> None:
    Queue(db_url).close()
    Queue(db_url).close()


def _sqlite_table(conn: sa.Connection) -> str:
    return str(conn.scalar(sa.text("SELECT sql FROM sqlite_master WHERE name = 'lf_jobs'")))


def _status_check(conn: sa.Connection) -> str:
    if conn.dialect.name == "sqlite":
        return next(line for line in _sqlite_table(conn).splitlines() if "lf_jobs_status" in line)
    return str(
        conn.scalar(
            sa.text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conname = 'lf_jobs_status'"
            )
        )
    )


def test_checks_are_rewritten_both_ways_and_keep_meaning(queue: Queue, db_url: str) -> None:
    from alembic import command

    config = alembic_config(db_url)
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with engine.connect() as conn:
            assert " IN " not in _status_check(conn) and "ANY" not in _status_check(conn)
            if conn.dialect.name == "sqlite":
                table = str(
                    conn.scalar(sa.text("SELECT sql FROM sqlite_master WHERE name = 'lf_jobs'"))
                )
                for check in jobs.constraints:
                    if isinstance(check, sa.CheckConstraint):
                        assert f"CHECK ({check.sqltext})" in table
        command.downgrade(config, "0003")  # type: ignore[arg-type]
        with engine.connect() as conn:
            assert " IN " in _status_check(conn) or "ANY" in _status_check(conn)
        command.upgrade(config, "head")  # type: ignore[arg-type]
        with engine.connect() as conn:
            assert " IN " not in _status_check(conn) and "ANY" not in _status_check(conn)
            with pytest.raises(sa.exc.IntegrityError):
                conn.execute(sa.text(INSERT), {**_ROW, "status": "paused"})
    finally:
        engine.dispose()


INSERT = (
    "INSERT INTO lf_jobs (id, task, status, run_at, created_at, finished_at, worker_id,"
    " started_at, lease_expires_at, progress, max_attempts) VALUES"
    " (:id, 't', :status, 0, 0, :finished_at, :worker_id, :started, :lease, :progress, 1)"
)


_ROW = {
    "id": "job_impossible",
    "finished_at": None,
    "worker_id": "w",
    "started": 1.0,
    "lease": 1.0,
    "progress": 0,
}


@pytest.mark.parametrize(
    "row",
    [
        {"status": "complete", "finished_at": None},  # final without finished_at
        {"status": "pending", "finished_at": 1.0},  # finished_at on a live job
        {"status": "running", "worker_id": None},  # running but held by nobody
        {"status": "paused"},  # unknown status
        {"status": "pending", "progress": 101},
    ],
)
def test_schema_rejects_impossible_rows(queue: Queue, db_url: str, row: dict[str, object]) -> None:
    params = {**_ROW, "id": f"job_{time.time_ns()}", **row}
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text(INSERT), params)
    finally:
        engine.dispose()


def test_public_surface_is_small_and_documented() -> None:
    assert sorted(ledgerflow.jobs.__all__) == [
        "BackendError",
        "Cancelled",
        "ConfigurationError",
        "Job",
        "JobContext",
        "JobFailed",
        "JobNotFound",
        "JobPage",
        "JobSettings",
        "JobStatus",
        "JobsError",
        "Queue",
        "Task",
        "Worker",
        "task",
    ]
    for name in ledgerflow.jobs.__all__:
        assert getattr(ledgerflow.jobs, name).__doc__, f"{name} needs a docstring"


def test_runtime_has_no_bookkeeping_words() -> None:
    from pathlib import Path

    words = ("journal entr", "journal_entr", "invoice", "receipt", "bookkeep", "categor", "bank")
    for path in Path(ledgerflow.jobs.__file__).parent.rglob("*.py"):
        text = path.read_text().lower()
        assert not [w for w in words if w in text], path


def test_a_row_fills_every_field_of_its_job() -> None:
    """``row_to_job`` sets ``Job``'s slots directly; it must set each one, from its column."""
    from ledgerflow.jobs import Job, JobStatus
    from ledgerflow.jobs.backends.statements import COLUMNS, row_to_job

    assert [f.name for f in dataclasses.fields(Job)] == list(COLUMNS)
    stored: dict[str, object] = {c: f"{c}!" for c in COLUMNS}
    stored.update(status="failed", args='{"n": 1}', meta='{"company_id": "acme"}',
                  result='[1, {"a": null}]', cancel_requested=1)  # fmt: skip
    job = row_to_job([stored[c] for c in COLUMNS])
    expected = Job(**{**stored, "status": JobStatus.FAILED, "args": {"n": 1},  # type: ignore[arg-type]
                      "meta": {"company_id": "acme"}, "result": [1, {"a": None}],
                      "cancel_requested": True})  # fmt: skip
    assert job == expected and repr(job) == repr(expected)
    assert row_to_job([{**stored, "result": None}[c] for c in COLUMNS]).result is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.status = JobStatus.COMPLETE  # type: ignore[misc]
