"""Receipts: upload for OCR (a job), then read the extracted fields, the image and the match."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, Response, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import select

from ... import job_types
from ...books.db import session_scope
from ...books.models import Receipt, Transaction
from ...books.queries import decode_cursor, encode_cursor
from ..deps import PrincipalDep, RuntimeDep, SessionDep, not_found, require_member, require_writer
from ..schemas import JobAccepted, ReceiptDetail, ReceiptOut, ReceiptPage, TransactionOut
from ..uploads import SNIFF_BYTES, store
from .jobs import ACCEPTED, IdempotencyKey, start_job

router = APIRouter(prefix="/api", tags=["receipts"])
_IMAGE_TYPES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"%PDF-": "application/pdf",
}


def sniff_receipt(head: bytes) -> str:
    """The content type of a JPEG, PNG or PDF by its first bytes; 415 for anything else."""
    for magic, content_type in _IMAGE_TYPES.items():
        if head.startswith(magic):
            return content_type
    raise HTTPException(415, "The receipt must be a JPEG or PNG image or a PDF.")


@router.post(
    "/jobs/ocr",
    status_code=202,
    response_model=JobAccepted,
    responses={
        **ACCEPTED,
        413: {"description": "File too large."},
        415: {"description": "Not an image or PDF."},
    },
)
def ocr(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    response: Response,
    file: Annotated[UploadFile, File(description="A receipt: JPEG, PNG or PDF.")],
    company_id: Annotated[str, Form(min_length=1, max_length=64)],
    idempotency_key: IdempotencyKey = None,
) -> JobAccepted:
    """Read a receipt (OCR), extract vendor, date and amounts, and match it to a transaction."""
    require_writer(principal, company_id)
    file.file.seek(0)
    content_type = sniff_receipt(file.file.read(SNIFF_BYTES))
    extension = mimetypes.guess_extension(content_type) or ""
    name = file.filename or f"receipt{extension}"
    path = store(file.file, runtime.settings.upload_dir / "receipts", company_id, name)
    # The receipt row and its job are written in one transaction: both or neither.
    with session_scope(runtime.writers) as session:
        receipt = Receipt(company_id=company_id, file_path=str(path), content_type=content_type)
        session.add(receipt)
        session.flush()
        accepted = start_job(
            runtime,
            principal,
            response,
            company_id,
            job_types.RECEIPT_OCR,
            {"company_id": company_id, "receipt_id": receipt.id},
            idempotency_key,
            connection=session.connection(),
            file_name=name,
            receipt_id=receipt.id,
        )
        if response.status_code == 200:  # a repeated request: keep the first receipt only
            session.rollback()
            path.unlink(missing_ok=True)
        else:
            receipt.job_id = accepted.job_id
    return accepted


@router.get("/companies/{company_id}/receipts", response_model=ReceiptPage, responses={404: {}})
def receipts(
    company_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ReceiptPage:
    """The company's receipts, newest first."""
    require_member(principal, company_id)
    stmt = select(Receipt).where(Receipt.company_id == company_id)
    if cursor is not None:
        try:
            stmt = stmt.where(Receipt.id < decode_cursor(cursor))
        except ValueError:
            raise HTTPException(
                422, [{"loc": ["query", "cursor"], "msg": "invalid cursor"}]
            ) from None
    rows = list(session.scalars(stmt.order_by(Receipt.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return ReceiptPage(
        receipts=[ReceiptOut.model_validate(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


def _visible(principal: PrincipalDep, session: SessionDep, receipt_id: str) -> Receipt:
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        raise not_found("Receipt not found.")
    require_member(principal, receipt.company_id, "Receipt")
    return receipt


@router.get("/receipts/{receipt_id}", response_model=ReceiptDetail, responses={404: {}})
def receipt(receipt_id: str, principal: PrincipalDep, session: SessionDep) -> ReceiptDetail:
    """One receipt: extracted fields with confidences, raw text, candidates, matched transaction."""
    row = _visible(principal, session, receipt_id)
    matched = (
        session.scalars(
            select(Transaction).where(
                Transaction.company_id == row.company_id,
                Transaction.id == row.matched_transaction_id,
            )
        ).first()
        if row.matched_transaction_id
        else None
    )
    return ReceiptDetail(
        **ReceiptOut.model_validate(row).model_dump(),
        raw_text=row.raw_text,
        candidates=row.candidates,
        image_url=f"/api/receipts/{row.id}/image",
        matched_transaction=TransactionOut.model_validate(matched) if matched else None,
    )


@router.get(
    "/receipts/{receipt_id}/image",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}}},
        404: {},
    },
)
def receipt_image(receipt_id: str, principal: PrincipalDep, session: SessionDep) -> FileResponse:
    """The uploaded receipt file."""
    row = _visible(principal, session, receipt_id)
    path = Path(row.file_path)
    if not path.is_file():
        raise not_found("The receipt file is no longer available.")
    return FileResponse(path, media_type=row.content_type)
