"""``parse_statement``: sniff the file, pick the CSV layout or OFX, return a streaming Statement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .csv_layouts import CsvPlan, Sample, build_plan
from .csv_reader import iter_records, read_first_lines, sniff_delimiter
from .csv_rows import iter_csv_rows
from .errors import ErrorLog, StatementError
from .model import ColumnMapping, ParsedTransaction, Statement
from .ofx import OFX_SUFFIXES, looks_like_ofx, open_ofx
from .text import FALLBACK_ERRORS, check_text, choose_encoding, read_head

SAMPLE_RECORDS = 2_000
SAMPLE_CHARS = 4_194_304
_OFX_WINDOW = 4_096


def parse_statement(
    path: str | Path,
    *,
    file_name: str | None = None,
    mapping: ColumnMapping | None = None,
) -> Statement:
    """Detect the statement's format and layout; ``rows()`` on the result streams transactions.

    ``file_name`` is the name the user uploaded (used in messages, for the OFX extension and as a
    hint for American Express); ``mapping`` names the columns of a file that cannot be read alone.
    Raises StatementError (AmbiguousStatement when a mapping would resolve it) for whole-file
    problems.
    """
    source = Path(path)
    name = file_name if file_name is not None else source.name
    head, at_eof = read_head(source, name)
    encoding = choose_encoding(head, at_eof)
    check_text(head, encoding, name)
    errors = "replace" if encoding in ("utf-16", "utf-32") else FALLBACK_ERRORS
    text_head = head[: _OFX_WINDOW * 4].decode(encoding, errors=errors)
    if looks_like_ofx(text_head[:_OFX_WINDOW]):
        return open_ofx(source, name, encoding)
    if Path(name).suffix.lower() in OFX_SUFFIXES:
        raise StatementError.at(0, "the file is named like OFX but holds no OFX data", name)
    return _open_csv(source, name, encoding, mapping)


def _open_csv(path: Path, name: str, encoding: str, mapping: ColumnMapping | None) -> Statement:
    lines, first_line = read_first_lines(path, encoding, name)
    delimiter = sniff_delimiter(lines)
    if delimiter is None:
        reason = "not a CSV or OFX statement: no delimiter (, ; tab |) splits it into columns"
        raise StatementError.at(first_line, reason, name)
    sample = _sample(path, encoding, delimiter, name)
    plan = build_plan(
        sample, encoding=encoding, delimiter=delimiter, mapping=mapping, file_name=name
    )
    return _statement(path, name, plan)


def _sample(path: Path, encoding: str, delimiter: str, name: str) -> Sample:
    """The first records (bounded in count and size) for detection; reading restarts later."""
    log = ErrorLog()
    sample: Sample = []
    size = 0
    records = iter_records(path, encoding, delimiter, log, name)
    try:
        for line, row in records:
            sample.append((line, row))
            size += sum(len(field) for field in row)
            if len(sample) >= SAMPLE_RECORDS or size >= SAMPLE_CHARS:
                break
    finally:
        records.close()
    if log.errors and (not sample or log.errors[0].line < sample[0][0]):
        raise StatementError(log.errors[:1], 1, name)
    return sample


def _statement(path: Path, name: str, plan: CsvPlan) -> Statement:
    def rows() -> Iterator[ParsedTransaction]:
        return iter_csv_rows(path, plan, name)

    return Statement(
        layout=plan.layout,
        account_kind=plan.account_kind,
        currency=plan.currency,
        date_order=plan.date_order,
        columns=plan.columns,
        file_name=name,
        rows=rows,
    )
