"""Bytes to text: encoding choice, binary detection, bounded line reading and text cleaning."""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from .errors import ErrorLog, StatementError

HEAD_BYTES = 65_536
MAX_LINE_CHARS = 262_144
MAX_RECORD_CHARS = 262_144
MAX_RECORD_LINES = 200
MAX_FIELD_CHARS = 65_536
MAX_COLUMNS = 200
DESCRIPTION_MAX = 500
MEMO_MAX = 500
EXTERNAL_ID_MAX = 255

FALLBACK_ERRORS = "ledgerflow-cp1252-fallback"
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not valid UTF-8 as Windows-1252 (Latin-1 where 1252 has a hole)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = bytes(exc.object[exc.start : exc.end])
    text = "".join(
        chr(byte) if byte in _CP1252_UNDEFINED else bytes([byte]).decode("cp1252") for byte in bad
    )
    return text, exc.end


codecs.register_error(FALLBACK_ERRORS, _cp1252_fallback)

_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive or Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
)
_CONTROL_BYTES = frozenset(range(0x00, 0x09)) | frozenset(range(0x0E, 0x20)) | {0x7F}
_NOT_TEXT = "not a CSV or OFX statement"


def read_head(path: Path, file_name: str | None) -> tuple[bytes, bool]:
    """The first bytes of the file and whether they are all of it."""
    try:
        with path.open("rb") as raw:
            head = raw.read(HEAD_BYTES)
            at_eof = not raw.read(1)
    except (OSError, ValueError) as exc:
        raise _unreadable(exc, file_name) from exc
    return head, at_eof


def _unreadable(exc: OSError | ValueError, file_name: str | None) -> StatementError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return StatementError.at(0, f"cannot read the file: {reason}", file_name)


def choose_encoding(head: bytes, at_eof: bool) -> str:
    """utf-8-sig / utf-16 / utf-32 by byte-order mark; else UTF-8 if the head decodes, else 1252."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        truncated = not at_eof and exc.start >= len(head) - 3 and "end of data" in exc.reason
        return "utf-8" if truncated else "cp1252"
    return "utf-8"


def check_text(head: bytes, encoding: str, file_name: str | None) -> None:
    """Reject binary files from their first bytes (NUL bytes, control characters, known magic)."""
    body = head
    for bom in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF8, codecs.BOM_UTF16_LE):
        body = body.removeprefix(bom)
    body = body.removeprefix(codecs.BOM_UTF16_BE)
    blank = b" \t\r\n\x0b\x0c" + (b"\x00" if encoding in ("utf-16", "utf-32") else b"")
    if not body.strip(blank):
        raise StatementError.at(0, "the file is empty", file_name)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise StatementError.at(0, f"{_NOT_TEXT}: this is {what}", file_name)
    if encoding in ("utf-16", "utf-32"):
        return
    nul = head.find(b"\x00")
    if nul >= 0:
        line = head.count(b"\n", 0, nul) + 1
        reason = f"{_NOT_TEXT}: binary data (NUL byte) at line {line}"
        raise StatementError.at(line, reason, file_name)
    controls = sum(1 for byte in head if byte in _CONTROL_BYTES)
    if controls > 4 and controls * 50 > len(head):
        raise StatementError.at(0, f"{_NOT_TEXT}: binary data (control characters)", file_name)


@contextmanager
def open_text(path: Path, encoding: str, file_name: str | None) -> Iterator[TextIO]:
    """The file as text with universal newlines; undecodable bytes fall back to Windows-1252."""
    errors = FALLBACK_ERRORS if encoding in ("utf-8", "utf-8-sig", "cp1252") else "replace"
    try:
        raw = path.open("rb")
    except (OSError, ValueError) as exc:
        raise _unreadable(exc, file_name) from exc
    with io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline=None) as stream:
        yield stream


class LineFeed:
    """Physical lines of a text stream, each ending in a newline, for ``csv.reader``.

    A line longer than ``MAX_LINE_CHARS`` is skipped without being held in memory, a line with a
    NUL byte is dropped; both are logged as row errors and replaced by an empty line. A CSV record
    (quoted fields may span lines) longer than ``MAX_RECORD_LINES`` lines or ``MAX_RECORD_CHARS``
    characters ends the feed early with ``overflow`` set; the reader logs it and goes on.
    """

    __slots__ = ("_stream", "eof", "line_no", "log", "overflow", "record_chars", "record_lines")

    def __init__(self, stream: TextIO, log: ErrorLog) -> None:
        self._stream = stream
        self.log = log
        self.line_no = 0
        self.eof = False
        self.overflow = False
        self.record_lines = 0
        self.record_chars = 0

    def __iter__(self) -> LineFeed:
        return self

    def start_record(self) -> None:
        self.overflow = False
        self.record_lines = 0
        self.record_chars = 0

    def __next__(self) -> str:
        if self.overflow or self.eof:
            raise StopIteration
        line = self._stream.readline(MAX_LINE_CHARS + 1)
        if not line:
            self.eof = True
            raise StopIteration
        self.line_no += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            self._skip_rest_of_line()
            self.log.add(self.line_no, f"line is longer than {MAX_LINE_CHARS} characters")
            line = "\n"
        elif line.startswith("\x1a") and not line.strip("\x1a\r\n"):
            line = "\n"  # the DOS end-of-file mark some exports still carry
        elif "\x00" in line:
            self.log.add(self.line_no, "line contains NUL bytes (binary data)")
            line = "\n"
        elif not line.endswith("\n"):
            line += "\n"
        self.record_lines += 1
        self.record_chars += len(line)
        if self.record_lines > MAX_RECORD_LINES or self.record_chars > MAX_RECORD_CHARS:
            self.overflow = True
            raise StopIteration
        return line

    def _skip_rest_of_line(self) -> None:
        while True:
            more = self._stream.readline(65_536)
            if not more or more.endswith("\n"):
                return


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_FORMULA_LEAD = "=+-@ \t"


def clean_text(value: str, limit: int) -> str:
    """Collapse whitespace, drop control characters and the leading ``= + - @`` that would make a
    spreadsheet evaluate the text as a formula, and cut to ``limit`` characters."""
    text = " ".join(_CONTROL_CHARS.sub(" ", value).split())
    text = text.lstrip(_FORMULA_LEAD)
    return text[:limit].rstrip()


def clean_optional(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    text = clean_text(value, limit)
    return text or None


def clean_external_id(value: str | None) -> str | None:
    """A bank id as given, trimmed (Amex prefixes references with an apostrophe)."""
    if value is None:
        return None
    text = " ".join(_CONTROL_CHARS.sub(" ", value).split()).strip("'")
    return text[:EXTERNAL_ID_MAX] or None


def short(value: str, limit: int = 40) -> str:
    """A value quoted in an error message, cut to ``limit`` characters."""
    text = value.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
