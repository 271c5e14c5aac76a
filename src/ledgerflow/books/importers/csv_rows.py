"""Turning CSV records into transactions, streaming, with row errors collected to the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .amounts import AmountError, parse_amount
from .csv_layouts import CsvPlan
from .csv_names import TYPE_IN, TYPE_OUT, key
from .csv_reader import iter_records
from .dates import DateError, parse_date
from .errors import ErrorLog, RowProblem
from .model import ParsedTransaction
from .text import (
    DESCRIPTION_MAX,
    MAX_FIELD_CHARS,
    MEMO_MAX,
    clean_external_id,
    clean_optional,
    clean_text,
    short,
)

_BALANCE_ROW = ("beginning balance", "opening balance", "ending balance", "closing balance")


def iter_csv_rows(path: Path, plan: CsvPlan, file_name: str | None) -> Iterator[ParsedTransaction]:
    """Stream the file's transactions; raise StatementError at the end if any row was bad."""
    log = ErrorLog()
    records = iter_records(path, plan.encoding, plan.delimiter, log, file_name)
    needed = max(i for i in _indices(plan) if i is not None) + 1
    for line, fields in records:
        if line <= plan.header_line:
            continue
        try:
            transaction = convert(plan, line, fields, needed)
        except RowProblem as problem:
            log.add(line, problem.reason)
            continue
        if transaction is not None:
            yield transaction
    log.raise_if_any(file_name)


def _indices(plan: CsvPlan) -> tuple[int | None, ...]:
    roles = plan.roles
    return (roles.date, roles.description, roles.amount, roles.debit, roles.credit)


def convert(plan: CsvPlan, line: int, fields: list[str], needed: int) -> ParsedTransaction | None:
    """One record to a transaction; None for rows to skip (repeated header, balance lines)."""
    for number, field in enumerate(fields, start=1):
        if len(field) > MAX_FIELD_CHARS:
            raise RowProblem(f"field {number} is longer than {MAX_FIELD_CHARS} characters")
    header = plan.header_keys
    if (
        len(fields) == len(header)
        and key(fields[0]) == header[0]
        and header == tuple(map(key, fields))
    ):
        return None
    if len(fields) < needed:
        raise RowProblem(f"expected at least {needed} columns, found {len(fields)}")
    roles = plan.roles
    description = _field(fields, roles.description)
    cents = _cents(plan, fields)
    if cents is None:
        if description.strip().lower().startswith(_BALANCE_ROW):
            return None
        raise RowProblem(f"no amount in column '{_amount_column(plan)}'")
    date_text = fields[roles.date]
    try:
        date = parse_date(date_text, plan.date_order)
    except DateError as exc:
        raise RowProblem(f"{exc} (column '{plan.columns[roles.date]}')") from None
    memo = clean_optional(_field(fields, roles.memo) or None, MEMO_MAX)
    cleaned = clean_text(description, DESCRIPTION_MAX)
    if not cleaned and memo:
        cleaned, memo = memo, None
    return ParsedTransaction(
        line=line,
        date=date,
        description=cleaned,
        amount_cents=-cents if plan.invert else cents,
        currency=_row_currency(plan, fields),
        external_id=clean_external_id(_field(fields, roles.external_id) or None),
        memo=memo,
    )


def _field(fields: list[str], index: int | None) -> str:
    if index is None or index >= len(fields):
        return ""
    return fields[index]


def _amount_column(plan: CsvPlan) -> str:
    roles = plan.roles
    if roles.amount is not None:
        return plan.columns[roles.amount]
    assert roles.debit is not None and roles.credit is not None
    return f"{plan.columns[roles.debit]}' or '{plan.columns[roles.credit]}"


def _parse(plan: CsvPlan, text: str, index: int) -> int | None:
    try:
        amount = parse_amount(text, plan.decimal)
    except AmountError as exc:
        raise RowProblem(f"{exc} (column '{plan.columns[index]}')") from None
    return None if amount is None else amount.cents


def _cents(plan: CsvPlan, fields: list[str]) -> int | None:
    roles = plan.roles
    if plan.sign_mode == "debit_credit":
        assert roles.debit is not None and roles.credit is not None
        debit = _parse(plan, _field(fields, roles.debit), roles.debit)
        credit = _parse(plan, _field(fields, roles.credit), roles.credit)
        if debit and credit:
            raise RowProblem(
                f"both '{plan.columns[roles.debit]}' and '{plan.columns[roles.credit]}' "
                "hold an amount"
            )
        if debit is None and credit is None:
            return None
        return -abs(debit) if debit else abs(credit or 0)
    assert roles.amount is not None
    cents = _parse(plan, fields[roles.amount], roles.amount)
    if cents is None or plan.sign_mode == "signed":
        return cents
    assert roles.type is not None
    kind = _field(fields, roles.type).strip().lower()
    if kind in TYPE_OUT:
        return -abs(cents)
    if kind in TYPE_IN:
        return abs(cents)
    raise RowProblem(
        f"cannot tell the sign from '{short(kind)}' in column '{plan.columns[roles.type]}'"
    )


def _row_currency(plan: CsvPlan, fields: list[str]) -> str:
    index = plan.roles.currency
    if index is None:
        return plan.currency
    code = _field(fields, index).strip().upper()
    if not code:
        return plan.currency
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise RowProblem(f"currency '{short(code)}' is not a 3-letter code")
    return code
