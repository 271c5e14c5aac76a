"""Streaming CSV records with bounded memory, and delimiter sniffing."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Generator
from pathlib import Path

from .errors import ErrorLog, StatementError
from .text import MAX_COLUMNS, MAX_RECORD_CHARS, MAX_RECORD_LINES, LineFeed, open_text

DELIMITERS = (",", ";", "\t", "|")
SNIFF_LINES = 50
SNIFF_CHARS = 1_048_576


def iter_records(
    path: Path, encoding: str, delimiter: str, log: ErrorLog, file_name: str | None
) -> Generator[tuple[int, list[str]], None, None]:
    """``(first physical line, fields)`` of each CSV record; blank records are skipped.

    Broken records (unclosed quotes, overlong lines, NUL bytes, too many columns) are logged to
    ``log`` and skipped; reading goes on with the next line.
    """
    with open_text(path, encoding, file_name) as stream:
        feed = LineFeed(stream, log)
        reader = csv.reader(feed, delimiter=delimiter, quotechar='"', strict=False)
        while True:
            start = feed.line_no + 1
            feed.start_record()
            try:
                row = next(reader)
            except StopIteration:
                if not feed.overflow:
                    return
                row = None
            except csv.Error as exc:
                log.add(start, f"malformed CSV record: {exc}")
                continue
            except UnicodeError as exc:  # not expected: decoding falls back or replaces
                log.add(start, f"cannot decode the text: {exc}")
                return
            if feed.overflow or row is None:
                log.add(
                    start,
                    f"a quoted field runs past {MAX_RECORD_LINES} lines or {MAX_RECORD_CHARS} "
                    "characters (unclosed quote?)",
                )
                continue
            if not row or not any(field.strip() for field in row):
                continue
            if len(row) > MAX_COLUMNS:
                reason = f"record has {len(row)} columns; at most {MAX_COLUMNS} are supported"
                log.add(start, reason)
                continue
            yield start, row


def read_first_lines(path: Path, encoding: str, file_name: str | None) -> tuple[list[str], int]:
    """Up to 50 non-blank physical lines from the start of the file, and the first line's number.

    A first line that is overlong or holds NUL bytes is a whole-file error.
    """
    log = ErrorLog()
    lines: list[str] = []
    first_line = 0
    total = 0
    with open_text(path, encoding, file_name) as stream:
        feed = LineFeed(stream, log)
        for line in feed:
            feed.start_record()
            if log.count and not lines:
                raise StatementError(log.errors, log.count, file_name)
            if not line.strip():
                continue
            if not lines:
                first_line = feed.line_no
            lines.append(line)
            total += len(line)
            if len(lines) >= SNIFF_LINES or total >= SNIFF_CHARS:
                break
    if not lines:
        raise StatementError.at(0, "the file is empty", file_name)
    return lines, first_line


def sniff_delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits most sample records into the same number (>= 2) of fields."""
    best: tuple[int, int] = (0, 0)
    chosen: str | None = None
    text = "".join(lines)
    for delimiter in DELIMITERS:
        try:
            records = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=False))
        except csv.Error:
            continue
        counts = Counter(len(record) for record in records if any(f.strip() for f in record))
        if not counts:
            continue
        width, frequency = counts.most_common(1)[0]
        wide = [(freq, size) for size, freq in counts.items() if size >= 2]
        if width < 2 and wide:
            frequency, width = max(wide)
        if width < 2:
            continue
        if (frequency, width) > best:
            best, chosen = (frequency, width), delimiter
    return chosen
