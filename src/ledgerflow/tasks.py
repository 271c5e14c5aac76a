"""The job handlers: where the job runtime meets the books.

Each handler reports real progress through ``ctx.progress`` and turns a problem the user can
fix (a malformed file, a wrong bank account) into ``JobFailed`` with a clear message: those are
never retried. Anything else (a database hiccup) is retried with backoff.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from . import job_types
from .books.approve import approve
from .books.db import make_engine, make_sessionmaker, writer
from .books.importers import StatementError
from .books.llm import LLMSettings
from .books.pipeline import ImportRefused, categorize, import_statement
from .books.qbo import QboNotConnected, QboOAuthError, QboRejected, export_journal_entries
from .books.receipts import ReceiptError, process_receipt
from .jobs import JobContext, JobFailed, task
from .settings import AppSettings

_lock = threading.Lock()
_sessions: dict[str, sessionmaker[Session]] = {}


def sessions_for(url: str) -> sessionmaker[Session]:
    """One engine per database for the life of the worker process."""
    with _lock:
        if url not in _sessions:
            _sessions[url] = make_sessionmaker(writer(make_engine(url)))
        return _sessions[url]


def _settings() -> AppSettings:
    """Read per job: workers and the API take the same environment (``UPLOAD_DIR``, ...)."""
    return AppSettings()


@task(name=job_types.UPLOAD_AND_CATEGORIZE, timeout=3600, max_attempts=3)
def upload_and_categorize(
    ctx: JobContext,
    company_id: str,
    file_path: str,
    file_name: str,
    bank_account_id: str | None = None,
) -> dict[str, Any]:
    """Import a bank file, categorize its new transactions, write their journal entries."""
    sessions = sessions_for(ctx.database_url)
    path = Path(file_path)
    if not path.is_file():
        raise JobFailed(f"The uploaded file {file_name!r} is no longer on the server.")
    try:
        imported = import_statement(
            sessions, company_id, path, file_name, bank_account_id, ctx.id, ctx.progress
        )
    except (StatementError, ImportRefused) as exc:
        raise JobFailed(str(exc)) from exc
    counts = categorize(
        sessions,
        company_id,
        ctx.progress,
        import_job_id=ctx.id,
        threshold=_settings().category_threshold,
        llm=LLMSettings.from_env(),
    )
    ctx.progress(100, _summary(counts.je_created, counts.high_confidence, counts.needs_review))
    return {
        "parsed": imported.parsed,
        "inserted": imported.inserted,
        "duplicates": imported.duplicates,
        "bank_account_id": imported.bank_account_id,
        **counts.as_dict(),
    }


@task(name=job_types.CATEGORIZE, timeout=3600, max_attempts=3)
def categorize_transactions(
    ctx: JobContext, company_id: str, limit: int | None = None
) -> dict[str, Any]:
    """Categorize the company's transactions that are still ``new`` (up to ``limit``)."""
    counts = categorize(
        sessions_for(ctx.database_url),
        company_id,
        ctx.progress,
        limit=limit,
        threshold=_settings().category_threshold,
        llm=LLMSettings.from_env(),
    )
    ctx.progress(100, _summary(counts.je_created, counts.high_confidence, counts.needs_review))
    return counts.as_dict()


@task(name=job_types.RECEIPT_OCR, timeout=600, max_attempts=2)
def process_receipt_ocr(ctx: JobContext, company_id: str, receipt_id: str) -> dict[str, Any]:
    """Read a receipt, extract its fields and match it to a transaction."""
    try:
        return process_receipt(sessions_for(ctx.database_url), company_id, receipt_id, ctx.progress)
    except ReceiptError as exc:
        raise JobFailed(str(exc)) from exc


@task(name=job_types.BULK_APPROVE, timeout=3600, max_attempts=3)
def bulk_approve_transactions(
    ctx: JobContext,
    company_id: str,
    user_id: str | None = None,
    transaction_ids: list[str] | None = None,
    min_confidence: float | None = None,
) -> dict[str, int]:
    """Approve categorized transactions in batches of 500, posting their journal entries."""
    try:
        counts = approve(
            sessions_for(ctx.database_url),
            company_id,
            user_id,
            ctx.progress,
            transaction_ids=transaction_ids,
            min_confidence=min_confidence,
        )
    except ValueError as exc:
        raise JobFailed(str(exc)) from exc
    return counts.as_dict()


@task(name=job_types.EXPORT_QBO, timeout=3600, max_attempts=5)
def export_to_quickbooks(
    ctx: JobContext, company_id: str, since: str | None = None, format: str = "api"
) -> dict[str, Any]:
    """Export posted journal entries not yet exported: to QuickBooks Online, or as IIF/CSV.

    A retry re-sends an unanswered batch under its original request id, so QuickBooks never
    creates an entry twice.
    """
    try:
        result = export_journal_entries(
            sessions_for(ctx.database_url),
            company_id,
            since=dt.date.fromisoformat(since) if since else None,
            mode=format,  # type: ignore[arg-type]
            progress=ctx.progress,
            out_dir=_settings().export_dir(company_id, ctx.id),
        )
    except (QboNotConnected, QboRejected, QboOAuthError) as exc:
        raise JobFailed(str(exc)) from exc
    path = result.pop("file_path", None)
    if path is not None:
        result["file_name"] = Path(path).name
        result["file_url"] = f"/api/jobs/{ctx.id}/file"
    return result


def _summary(entries: int, sure: int, review: int) -> str:
    return (
        f"{entries:,} journal entries created · {sure:,} high confidence · {review:,} need review"
    )
