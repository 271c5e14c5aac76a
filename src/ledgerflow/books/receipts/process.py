"""Read one stored receipt end to end and record what it says.

Stages and their share of the progress bar: load 0–15 %, preprocess 15–30, OCR 30–70 (per
page), extract 70–85, match and store 85–100. The receipt row ends ``matched`` (attached to a
transaction), ``processed`` (fields read; candidates, if any, listed) or ``failed``.

A problem the user can fix raises ``ReceiptError``; the row is then marked ``failed`` with the
message in ``error`` (``raw_text`` only ever holds what OCR read) before the error propagates,
and the job handler fails the job with the same message. Any other exception leaves the row
``pending`` so a retry of the job starts over cleanly.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ..db import session_scope
from ..models import Company, Receipt
from .errors import NoTextError, ReceiptError
from .extract import ReceiptFields, extract_fields
from .images import NO_TEXT, Prepared, load_pages, preprocess
from .match import match_receipt
from .ocr import OcrEngine, get_engine

Progress = Callable[[float, str], None]


def process_receipt(
    session_factory: sessionmaker[Session],
    company_id: str,
    receipt_id: str,
    progress: Progress,
    *,
    engine: str | OcrEngine | None = None,
) -> dict[str, Any]:
    """OCR, extract, match and store one receipt; returns a summary for the job's result."""
    with session_scope(session_factory) as session:
        receipt = session.get(Receipt, receipt_id)
        if receipt is None or receipt.company_id != company_id:
            raise ReceiptError(f"Receipt {receipt_id} was not found in company {company_id}.")
        company = session.get(Company, company_id)
        currency = company.base_currency if company is not None else "USD"
        path, content_type = Path(receipt.file_path), receipt.content_type
    try:
        fields = read_receipt(path, content_type, progress, engine=engine, currency=currency)
    except ReceiptError as exc:
        _fail(session_factory, receipt_id, str(exc))
        raise

    progress(85, "Matching to bank transactions")
    with session_scope(session_factory) as session:
        receipt = session.get(Receipt, receipt_id)
        if receipt is None:
            raise ReceiptError(f"Receipt {receipt_id} was deleted while it was being read.")
        match = match_receipt(session, company_id, fields, exclude_receipt_id=receipt_id)
        receipt.vendor = fields.vendor[:200] if fields.vendor else None
        receipt.date = fields.date
        receipt.subtotal_cents = fields.subtotal_cents
        receipt.tax_cents = fields.tax_cents
        receipt.total_cents = fields.total_cents
        receipt.currency = fields.currency
        receipt.field_confidences = dict(fields.confidence)
        receipt.raw_text = fields.raw_text
        receipt.error = None  # a retry that succeeds clears an earlier failure
        receipt.candidates = match.candidates
        receipt.matched_transaction_id = match.transaction_id
        receipt.status = "matched" if match.transaction_id else "processed"
        status = receipt.status
    progress(100, _summary(fields, match.transaction_id, len(match.candidates)))
    return {
        "receipt_id": receipt_id,
        "status": status,
        "vendor": fields.vendor,
        "date": fields.date.isoformat() if fields.date else None,
        "total_cents": fields.total_cents,
        "currency": fields.currency,
        "matched_transaction_id": match.transaction_id,
        "candidates": len(match.candidates),
        "confidence": dict(fields.confidence),
    }


def read_receipt(
    source: Path | bytes,
    content_type: str | None,
    progress: Progress,
    *,
    engine: str | OcrEngine | None = None,
    currency: str = "USD",
) -> ReceiptFields:
    """Load, preprocess, OCR and extract (progress 0–85); raises ``ReceiptError``."""
    progress(0, "Loading the receipt")
    if isinstance(source, Path) and not source.is_file():
        raise ReceiptError("The uploaded receipt file is no longer on the server.")
    pages = load_pages(source, content_type)
    n = len(pages)
    progress(15, f"Loaded {n} page{'s' * (n > 1)}")

    prepared: list[Prepared | None] = []
    for i, page in enumerate(pages):
        if page.text is not None:
            prepared.append(None)  # the PDF's own text: nothing to prepare
        else:
            try:
                prepared.append(preprocess(page.image))
            except NoTextError:
                if n == 1:
                    raise
                prepared.append(None)  # a blank page among others (the back of a sheet)
        progress(15 + 15 * (i + 1) / n, f"Prepared page {i + 1} of {n}")

    ocr = engine if engine is not None and not isinstance(engine, str) else get_engine(engine)
    lines: list[str] = []
    confidences: list[float] = []
    for i, (page, ready) in enumerate(zip(pages, prepared, strict=True)):
        if page.text is not None:
            page_lines = [ln.strip() for ln in page.text.splitlines() if ln.strip()]
            lines += page_lines
            confidences += [1.0] * len(page_lines)
        elif ready is not None:
            text = ocr.read(ready.pick(ocr.image_kind))
            lines += text.lines
            confidences += text.line_confidences or [text.confidence] * len(text.lines)
        progress(30 + 40 * (i + 1) / n, f"Read page {i + 1} of {n} ({ocr.name})")
    if sum(ch.isalnum() for line in lines for ch in line) < 4:
        raise NoTextError(NO_TEXT)

    progress(70, "Extracting vendor, date and amounts")
    return extract_fields(lines, confidences, default_currency=currency)


def _fail(session_factory: sessionmaker[Session], receipt_id: str, message: str) -> None:
    with session_scope(session_factory) as session:
        receipt = session.get(Receipt, receipt_id)
        if receipt is not None:
            receipt.status = "failed"
            receipt.error = message
            receipt.matched_transaction_id = None
            receipt.candidates = None


def _summary(fields: ReceiptFields, matched: str | None, candidates: int) -> str:
    amount = "no total"
    if fields.total_cents is not None:
        amount = f"{Decimal(fields.total_cents) / 100:,.2f} {fields.currency or ''}".strip()
    who = fields.vendor or "unknown vendor"
    if matched:
        return f"{who}, {amount}: matched to a transaction"
    if candidates:
        return f"{who}, {amount}: {candidates} possible transaction{'s' * (candidates > 1)}"
    return f"{who}, {amount}: no matching transaction yet"
