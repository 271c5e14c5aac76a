"""CSV layouts: find the header row, recognize the bank, resolve the columns and the sign rule."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .amounts import Amount, AmountError, detect_decimal, parse_amount, sample_currency
from .csv_names import (
    AMOUNT_NAMES,
    CREDIT_NAMES,
    CURRENCY_NAMES,
    CURRENCY_SYMBOLS,
    DATE_NAMES,
    DEBIT_NAMES,
    DESCRIPTION_NAMES,
    HEADER_CURRENCY,
    ID_NAMES,
    KNOWN_LAYOUTS,
    MEMO_NAMES,
    TYPE_IN,
    TYPE_NAMES,
    TYPE_OUT,
    US_LAYOUTS,
    KnownLayout,
    key,
)
from .dates import detect_order, looks_like_date
from .errors import AmbiguousStatement, StatementError, describe_columns
from .model import AccountKind, ColumnMapping, DateOrder, positional_index

SignMode = Literal["signed", "type", "debit_credit"]
HEADER_SEARCH_RECORDS = 30
_MAPPING_HINT = "Provide a column mapping."


@dataclass(frozen=True, slots=True)
class Roles:
    date: int
    description: int | None = None
    amount: int | None = None
    debit: int | None = None
    credit: int | None = None
    type: int | None = None
    memo: int | None = None
    external_id: int | None = None
    currency: int | None = None


@dataclass(frozen=True, slots=True)
class CsvPlan:
    """Everything needed to turn the file's records into transactions."""

    layout: str
    account_kind: AccountKind
    encoding: str
    delimiter: str
    header_line: int  # 0 when the file has no header row
    header_keys: tuple[str, ...]
    columns: list[str]
    roles: Roles
    sign_mode: SignMode
    invert: bool
    decimal: str
    date_order: DateOrder
    currency: str


Sample = list[tuple[int, list[str]]]


@dataclass(frozen=True, slots=True)
class _Source:
    encoding: str
    delimiter: str
    mapping: ColumnMapping | None
    file_name: str | None


def build_plan(
    sample: Sample,
    *,
    encoding: str,
    delimiter: str,
    mapping: ColumnMapping | None,
    file_name: str | None,
) -> CsvPlan:
    """Decide layout, columns, date order, decimal separator and sign rule from the sample."""
    if not sample:
        raise StatementError.at(0, "the file has no readable rows", file_name)
    source = _Source(encoding, delimiter, mapping, file_name)
    header_at = _find_header(sample, mapping)
    if header_at is None:
        width = max(len(row) for _, row in sample[:HEADER_SEARCH_RECORDS])
        positional = [f"column {i + 1}" for i in range(width)]
        if mapping is not None:
            _check_mapping_names(sample, mapping, file_name)
            roles = _mapping_roles(mapping, positional, [], file_name)
            return _finish(source, sample, "generic", "bank", 0, positional, roles)
        if _is_wells_fargo(sample):
            roles = Roles(date=0, amount=1, description=4, external_id=3)
            return _finish(source, sample, "wells_fargo", "bank", 0, positional, roles)
        named = _name_row(sample)
        if named is None:
            what, line, columns = (
                "has no header row and is not a known bank's layout",
                0,
                positional,
            )
        else:
            what, (line, columns) = "has no recognizable date and amount columns", named
        reason = f"the file {what}; columns seen: {describe_columns(columns)}. {_MAPPING_HINT}"
        raise AmbiguousStatement.about(line, reason, columns, file_name)
    line, header = sample[header_at]
    columns = [cell.strip() for cell in header]
    keys = [key(cell) for cell in header]
    data = sample[header_at + 1 :]
    if mapping is not None:
        roles = _mapping_roles(mapping, columns, keys, file_name)
        return _finish(source, data, "generic", "bank", line, columns, roles, keys)
    known = _known_layout(keys, file_name)
    if known is not None:
        roles = _known_roles(known, keys)
        return _finish(
            source, data, known.name, known.account_kind, line, columns, roles, keys, known.invert
        )
    generic = _generic_roles(keys)
    if generic is None:
        reason = (
            "cannot tell which column holds the amount or its sign; columns seen: "
            f"{describe_columns(columns)}. {_MAPPING_HINT}"
        )
        raise AmbiguousStatement.about(line, reason, columns, file_name)
    return _finish(source, data, "generic", "bank", line, columns, generic, keys)


def _find_header(sample: Sample, mapping: ColumnMapping | None) -> int | None:
    for index, (_, row) in enumerate(sample[:HEADER_SEARCH_RECORDS]):
        keys = {key(cell) for cell in row}
        if any(looks_like_date(cell) for cell in row):
            continue
        if mapping is not None:
            names = [name for name in mapping.names() if positional_index(name) is None]
            if names and all(key(name) in keys for name in names):
                return index
            continue
        words = {word for k in keys for word in k.split()}
        has_date = bool(keys & set(DATE_NAMES)) or "date" in words
        amounts = set(AMOUNT_NAMES) | set(DEBIT_NAMES) | set(CREDIT_NAMES)
        if has_date and (bool(keys & amounts) or "amount" in words):
            return index
    return None


def _check_mapping_names(sample: Sample, mapping: ColumnMapping, file_name: str | None) -> None:
    """The mapping names columns no row carries: say which, against the likeliest header row."""
    names = [name for name in mapping.names() if positional_index(name) is None]
    if not names:
        return
    wanted = {key(name) for name in names}
    line, row = max(
        sample[:HEADER_SEARCH_RECORDS], key=lambda record: len(wanted & set(map(key, record[1])))
    )
    present = set(map(key, row))
    missing = ", ".join(f"'{name}'" for name in names if key(name) not in present)
    columns = [cell.strip() for cell in row]
    reason = f"mapping names columns not in the file: {missing}; columns seen: "
    reason += describe_columns(columns)
    raise AmbiguousStatement.about(line, reason, columns, file_name)


def _name_row(sample: Sample) -> tuple[int, list[str]] | None:
    """A row of names (no dates, no numbers) that may be an unrecognized header."""
    for line, row in sample[:HEADER_SEARCH_RECORDS]:
        cells = [cell.strip() for cell in row]
        filled = [cell for cell in cells if cell]
        if len(filled) < 2 or any(looks_like_date(cell) for cell in filled):
            continue
        if not any(_is_number(cell) for cell in filled):
            return line, cells
    return None


def _is_number(text: str) -> bool:
    try:
        return parse_amount(text) is not None
    except AmountError:
        return False


def _is_wells_fargo(sample: Sample) -> bool:
    """Five columns: date, signed amount, "*", check number, description (mostly; bad rows are
    reported as row errors later)."""
    head = sample[:20]
    matches = sum(
        len(row) == 5 and row[2].strip() == "*" and looks_like_date(row[0]) and _is_number(row[1])
        for _, row in head
    )
    return matches * 5 >= len(head) * 4


def _known_layout(keys: list[str], file_name: str | None) -> KnownLayout | None:
    present = set(keys)
    for layout in KNOWN_LAYOUTS:
        if set(layout.required) <= present and (
            not layout.any_of or present & set(layout.any_of) or _amex_name(layout, file_name)
        ):
            return layout
    return None


def _amex_name(layout: KnownLayout, file_name: str | None) -> bool:
    name = key(file_name or "")
    return layout.name == "amex" and ("amex" in name or "american express" in name)


def _index(keys: list[str], name: str | None) -> int | None:
    if name is None:
        return None
    target = key(name)
    return keys.index(target) if target in keys else None


def _first(keys: list[str], names: tuple[str, ...], taken: set[int]) -> int | None:
    for name in names:
        for index, k in enumerate(keys):
            if k == name and index not in taken:
                return index
    return None


def _known_roles(layout: KnownLayout, keys: list[str]) -> Roles:
    date = _index(keys, layout.date)
    assert date is not None
    return Roles(
        date=date,
        description=_index(keys, "description"),
        amount=_index(keys, layout.amount),
        debit=_index(keys, layout.debit),
        credit=_index(keys, layout.credit),
        memo=_index(keys, layout.memo),
        external_id=_index(keys, layout.external_id),
    )


def _generic_roles(keys: list[str]) -> Roles | None:
    date = _first(keys, DATE_NAMES, set())
    if date is None:
        date = next((i for i, k in enumerate(keys) if "date" in k.split()), None)
    if date is None:
        return None
    taken = {date}
    debit, credit = _first(keys, DEBIT_NAMES, taken), _first(keys, CREDIT_NAMES, taken)
    amount = _first(keys, AMOUNT_NAMES, taken)
    if amount is None:
        amount = next(
            (i for i, k in enumerate(keys) if "amount" in k.split() and i not in taken), None
        )
    if debit is not None and credit is not None:
        amount = None
        taken |= {debit, credit}
    elif amount is None:
        return None
    else:
        debit = credit = None
        taken.add(amount)
    description = _first(keys, DESCRIPTION_NAMES, taken)
    if description is not None:
        taken.add(description)
    memo = _first(keys, MEMO_NAMES, taken)
    return Roles(
        date=date,
        description=description,
        amount=amount,
        debit=debit,
        credit=credit,
        type=_first(keys, TYPE_NAMES, taken),
        memo=memo,
        external_id=_first(keys, ID_NAMES, taken | ({memo} if memo is not None else set())),
        currency=_first(keys, CURRENCY_NAMES, taken),
    )


def _mapping_roles(
    mapping: ColumnMapping, columns: list[str], keys: list[str], file_name: str | None
) -> Roles:
    def find(name: str | None) -> int | None:
        if name is None:
            return None
        found = _index(keys, name)
        if found is None:
            position = positional_index(name)
            if position is not None and position < len(columns):
                return position
            reason = f"mapping names columns not in the file: '{name}'; columns seen: "
            reason += describe_columns(columns)
            raise AmbiguousStatement.about(0, reason, columns, file_name)
        return found

    date = find(mapping.date)
    assert date is not None
    return Roles(
        date=date,
        description=find(mapping.description),
        amount=find(mapping.amount),
        debit=find(mapping.debit),
        credit=find(mapping.credit),
    )


def _finish(
    source: _Source,
    data: Sample,
    layout: str,
    account_kind: AccountKind,
    header_line: int,
    columns: list[str],
    roles: Roles,
    keys: list[str] | None = None,
    invert: bool = False,
) -> CsvPlan:
    mapping, file_name = source.mapping, source.file_name
    header_keys = tuple(keys or ())
    rows = [row for _, row in data if tuple(key(cell) for cell in row) != header_keys]

    def values(index: int | None) -> list[str]:
        if index is None:
            return []
        return [row[index] for row in rows if len(row) > index and row[index].strip()]

    date_order = _date_order(values(roles.date), layout, source, roles.date, header_line, columns)
    money = values(roles.amount) + values(roles.debit) + values(roles.credit)
    decimal = detect_decimal(money, source.delimiter)
    parsed: list[Amount | None] = []
    for text in money:
        try:
            parsed.append(parse_amount(text, decimal))
        except AmountError:
            continue
    sign_mode: SignMode = "debit_credit" if roles.amount is None else "signed"
    if mapping is not None:
        invert = mapping.sign == "inverted"
    elif layout == "generic" and sign_mode == "signed":
        explicit = any(amount is not None and amount.explicit_sign for amount in parsed)
        types = {value.strip().lower() for value in values(roles.type)}
        if not explicit and types and types <= TYPE_OUT | TYPE_IN:
            sign_mode = "type"
        elif not explicit and parsed:
            reason = (
                "cannot tell which column holds the amount or its sign (no negative amounts, "
                "no debit/credit or type column); columns seen: "
                f"{describe_columns(columns)}. {_MAPPING_HINT}"
            )
            raise AmbiguousStatement.about(header_line, reason, columns, file_name)
    currency = _currency(values(roles.currency), parsed, columns, roles)
    return CsvPlan(
        layout=layout,
        account_kind=account_kind,
        encoding=source.encoding,
        delimiter=source.delimiter,
        header_line=header_line,
        header_keys=header_keys,
        columns=columns,
        roles=roles,
        sign_mode=sign_mode,
        invert=invert,
        decimal=decimal,
        date_order=date_order,
        currency=currency,
    )


def _date_order(
    dates: list[str],
    layout: str,
    source: _Source,
    date_index: int,
    header_line: int,
    columns: list[str],
) -> DateOrder:
    mapping, date_column = source.mapping, columns[date_index]
    if mapping is not None and mapping.date_order is not None:
        return mapping.date_order
    guess = detect_order(dates)
    if guess.parsed == 0:
        return "mdy" if layout in US_LAYOUTS else "ymd"
    if guess.order is not None:
        return guess.order
    if layout in US_LAYOUTS:
        return "mdy"
    reason = (
        f"cannot tell whether the dates in column '{date_column}' are day-first or month-first "
        f"(every day and month is 12 or less, e.g. '{guess.example}'); columns seen: "
        f"{describe_columns(columns)}. Provide a column mapping with date_order."
    )
    raise AmbiguousStatement.about(header_line, reason, columns, source.file_name)


def _currency(
    codes: list[str], parsed: list[Amount | None], columns: list[str], roles: Roles
) -> str:
    for code in codes:
        value = code.strip().upper()
        if re.fullmatch(r"[A-Z]{3}", value):
            return value
    from_amounts = sample_currency(parsed)
    if from_amounts:
        return from_amounts
    for index in (roles.amount, roles.debit, roles.credit):
        if index is not None:
            match = HEADER_CURRENCY.search(columns[index])
            if match:
                symbol = match.group(1)
                return CURRENCY_SYMBOLS.get(symbol, symbol.upper())
    return "USD"
