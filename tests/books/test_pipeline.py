"""The upload-and-categorize and categorize jobs, end to end through a real worker."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

import ledgerflow.tasks  # noqa: F401  (registers the handlers)
from ledgerflow import job_types
from ledgerflow.books.chart import account_by_name
from ledgerflow.books.importers import StatementError
from ledgerflow.books.models import JournalEntry, Transaction
from ledgerflow.books.queries import create_rule
from ledgerflow.jobs import Job, JobSettings, JobStatus, Queue
from ledgerflow.server import migrate, session_for

BANKS = Path(__file__).parent.parent / "data" / "banks"
FAST = JobSettings(poll_interval=0.05, heartbeat_interval=0.2, worker_timeout=5)


@pytest.fixture
def queue(db_url: str) -> Iterator[Queue]:
    migrate(db_url)
    with session_for(db_url) as session:
        from ledgerflow.tenancy import new_company

        new_company(session, "acme", "Acme Inc")
    with Queue(db_url, settings=FAST) as q, q.worker(concurrency=2):
        yield q


def run(queue: Queue, task: str, **args: object) -> Job:
    job = queue.enqueue(task, meta={"company_id": "acme"}, **args)
    seen: list[int] = []
    import time

    deadline = time.monotonic() + 60
    while not (current := queue.get(job.id)).is_final:
        seen.append(current.progress)
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.02)
    assert seen == sorted(seen), "progress never goes back"
    return current


def upload(queue: Queue, tmp_path: Path, name: str) -> Job:
    path = tmp_path / name
    shutil.copy(BANKS / name, path)
    return run(
        queue,
        job_types.UPLOAD_AND_CATEGORIZE,
        company_id="acme",
        file_path=str(path),
        file_name=name,
    )


def count(db_url: str, model: type, **where: object) -> int:
    with session_for(db_url) as session:
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return int(session.scalar(stmt) or 0)


def test_upload_imports_categorizes_and_writes_entries(
    queue: Queue, db_url: str, tmp_path: Path
) -> None:
    job = upload(queue, tmp_path, "chase_checking.csv")
    assert job.status is JobStatus.COMPLETE, job.traceback
    result = job.result
    assert result["parsed"] == 15 and result["inserted"] == 15 and result["duplicates"] == 0
    assert result["categorized"] == 15 and result["je_created"] == 15
    assert result["high_confidence"] + result["needs_review"] == 15
    assert sum(result["by_method"].values()) == 15
    assert job.progress == 100 and "journal entries created" in (job.message or "")
    assert count(db_url, Transaction, company_id="acme") == 15
    assert count(db_url, JournalEntry, company_id="acme") == 15

    again = upload(queue, tmp_path, "chase_checking.csv")
    assert again.result["inserted"] == 0 and again.result["duplicates"] == 15
    assert count(db_url, Transaction, company_id="acme") == 15


def test_rules_come_first(queue: Queue, db_url: str, tmp_path: Path) -> None:
    with session_for(db_url) as session:
        meals = account_by_name(session, "acme", "Meals")
        assert meals is not None
        create_rule(
            session,
            "acme",
            "Starbucks",
            [{"field": "description", "op": "contains", "value": "starbucks"}],
            meals.id,
        )
    job = upload(queue, tmp_path, "chase_checking.csv")
    assert job.result["by_method"]["rule"] >= 1
    with session_for(db_url) as session:
        coffee = session.scalars(
            select(Transaction).where(Transaction.description.like("%STARBUCKS%"))
        ).all()
    assert coffee and all(t.method == "rule" and t.confidence == 1.0 for t in coffee)


def test_malformed_file_fails_clearly_and_inserts_nothing(
    queue: Queue, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    lines = (BANKS / "chase_checking.csv").read_text().splitlines()
    lines[5] = lines[5].replace("/2024", "/20X4")
    path.write_text("\n".join(lines) + "\n")
    job = run(
        queue,
        job_types.UPLOAD_AND_CATEGORIZE,
        company_id="acme",
        file_path=str(path),
        file_name="broken.csv",
    )
    assert job.status is JobStatus.FAILED and job.attempts == 1
    assert "line 6" in (job.error or ""), job.error
    assert count(db_url, Transaction, company_id="acme") == 0


def test_categorize_job_takes_new_rows_up_to_limit(
    queue: Queue, db_url: str, tmp_path: Path
) -> None:
    upload(queue, tmp_path, "amex.csv")
    with session_for(db_url) as session:
        session.execute(
            Transaction.__table__.update().values(
                status="new", account_id=None, method=None, confidence=None
            )
        )
        session.execute(JournalEntry.__table__.delete())
    job = run(queue, job_types.CATEGORIZE, company_id="acme", limit=5)
    assert job.status is JobStatus.COMPLETE and job.result["categorized"] == 5
    assert count(db_url, Transaction, company_id="acme", status="new") > 0


def test_bulk_approve_posts_entries_in_batches_and_is_harmless_twice(
    queue: Queue, db_url: str, tmp_path: Path
) -> None:
    upload(queue, tmp_path, "amex.csv")
    with session_for(db_url) as session:
        categorized = session.scalars(
            select(Transaction.id).where(Transaction.status == "categorized")
        ).all()
    chosen = sorted(categorized)[:7]
    job = run(
        queue,
        job_types.BULK_APPROVE,
        company_id="acme",
        user_id="usr_x",
        transaction_ids=[*chosen, "txn_not_there"],
    )
    assert job.status is JobStatus.COMPLETE, job.traceback
    assert job.result == {"approved": 7, "entries_posted": 7, "skipped": 1, "batches": 1}
    with session_for(db_url) as session:
        approved = session.scalars(select(Transaction).where(Transaction.id.in_(chosen))).all()
        assert {t.status for t in approved} == {"approved"}
        posted = session.scalars(
            select(JournalEntry.status).where(JournalEntry.transaction_id.in_(chosen))
        ).all()
        assert posted == ["posted"] * 7
        from ledgerflow.books.models import AuditLog

        log = session.scalars(
            select(AuditLog).where(AuditLog.action == "transaction.approve")
        ).one()
        assert log.user_id == "usr_x" and sorted(log.details["transaction_ids"]) == chosen
    again = run(queue, job_types.BULK_APPROVE, company_id="acme", transaction_ids=chosen)
    assert again.result["approved"] == 0 and again.result["skipped"] == 7

    everything = run(queue, job_types.BULK_APPROVE, company_id="acme", min_confidence=0.0)
    assert everything.result["approved"] == len(categorized) - 7


def test_every_stage_reports_its_share_of_the_bar(
    queue: Queue, db_url: str, tmp_path: Path
) -> None:
    """parse 0–20, validate 20–30, insert 30–50, rules 50–70, model 70–90, entries 90–100;
    a bad row stops the import at the parse stage, before anything is written."""
    from ledgerflow.books.pipeline import categorize, import_statement
    from ledgerflow.tasks import sessions_for

    header = "Details,Posting Date,Description,Amount,Type,Balance,Check or Slip #\n"
    rows = "".join(
        f"DEBIT,11/{1 + i % 28:02d}/2026,SHOP NUMBER {i},-{1 + i % 90}.25,DEBIT_CARD,1.00,\n"
        for i in range(25_000)
    )
    path = tmp_path / "chase.csv"
    path.write_text(header + rows)
    reports: list[tuple[float, str]] = []

    def report(percent: float, message: str) -> None:
        reports.append((percent, message))

    sessions = sessions_for(db_url)
    import_statement(sessions, "acme", path, path.name, None, "job_p", report)
    categorize(sessions, "acme", report, import_job_id="job_p")
    percents = [p for p, _ in reports]
    assert percents == sorted(percents) and percents[-1] == 100
    stages = [
        (0, 20, "Parsing row"),
        (20, 30, "validating"),
        (30, 50, "Inserting transaction"),
        (50, 70, "rules"),
        (70, 90, "Categorizing"),
        (90, 100, "journal entr"),
    ]
    for low, high, words in stages:
        inside = [m for p, m in reports if low <= p <= high and words in m]
        assert inside, (low, high, words, reports)
    assert len({p for p, _ in reports if 0 < p < 20}) >= 2, "the parse stage moves"
    assert len({p for p, _ in reports if 30 < p < 50}) >= 2, "the insert stage moves"

    broken = tmp_path / "broken.csv"
    fresh = rows.replace("SHOP NUMBER", "OTHER SHOP")  # new rows, not duplicates
    broken.write_text(header + fresh.replace("11/05/2026", "11/05/20X6", 1))
    reports.clear()
    with pytest.raises(StatementError):
        import_statement(
            sessions,
            "acme",
            broken,
            broken.name,
            None,
            "job_b",
            lambda p, m: reports.append((p, m)),
        )
    assert max(p for p, _ in reports) <= 20, "refused before the validate and insert stages"
    assert count(db_url, Transaction, company_id="acme") == 25_000, "the broken file added none"
