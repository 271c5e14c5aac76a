"""Uploaded files: size limits, type sniffing, and a safe place on disk."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException, status
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SNIFF_BYTES = 8192
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The upload is larger than the limit of {limit // (1024 * 1024)} MB.")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes: at once from Content-Length, else while read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            response = JSONResponse({"detail": str(UploadTooLarge(self.limit))}, status_code=413)
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise UploadTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


def sniff_statement(head: bytes) -> str:
    """'ofx' or 'csv' for a bank statement's first bytes; 415 for anything else."""
    upper = head.upper()
    if b"OFXHEADER" in upper or b"<OFX>" in upper:
        return "ofx"
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still text.
            if exc.start < len(head) - 4 and not _latin1_text(head):
                raise _unsupported() from None
        return "csv"
    raise _unsupported()


def _latin1_text(head: bytes) -> bool:
    text = head.decode("latin-1")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)


def _unsupported() -> HTTPException:
    return HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        "The file is not a CSV or OFX/QFX bank statement.",
    )


def store(source: BinaryIO, upload_dir: Path, company_id: str, file_name: str) -> Path:
    """Copy an upload under ``upload_dir/company_id/`` with a unique, safe name."""
    folder = upload_dir / _UNSAFE.sub("_", company_id)
    folder.mkdir(parents=True, exist_ok=True)
    safe = _UNSAFE.sub("_", Path(file_name).name)[-100:] or "upload"
    path = folder / f"{uuid.uuid4().hex}-{safe}"
    source.seek(0)
    with path.open("wb") as target:
        shutil.copyfileobj(source, target, length=1024 * 1024)
    return path.resolve()
