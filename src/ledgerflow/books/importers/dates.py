"""Dates: ISO, US (month first) and European (day first) forms, two-digit years, month names.

The order of day and month is decided once per file from a sample of its dates (a first field
above 12 means day-first, a second field above 12 means month-first); rows that do not fit the
file's order are row errors.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from .model import DateOrder
from .text import short

_MIN_YEAR, _MAX_YEAR = 1900, 2199
_TIME = re.compile(
    r"(?:[ T]+|(?<=\d)[ T]*(?=\d{1,2}:))\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
    r"\s*(?:[AaPp]\.?[Mm]\.?)?\s*(?:Z|[+-]\d{2}:?\d{2}|[A-Z]{2,5})?",
)
_NUMERIC = re.compile(r"([0-9]{1,4})([./-])([0-9]{1,2})\2([0-9]{1,4})")
_SLASHED_ISO = re.compile(r"([0-9]{4})[./-]([0-9]{1,2})[./-]([0-9]{1,2})")
_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_DAY_MONTH_NAME = re.compile(r"([0-9]{1,2})[ ./-]*([A-Za-z]{3,9})\.?[ ./,-]*([0-9]{4}|[0-9]{2})")
_MONTH_NAME_DAY = re.compile(
    r"([A-Za-z]{3,9})\.?[ ./-]*([0-9]{1,2})(?:st|nd|rd|th)?,?[ ./-]*([0-9]{4}|[0-9]{2})"
)
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}


class DateError(ValueError):
    """The text is not a date of the file's format; the message is the row error's reason."""


@dataclass(frozen=True, slots=True)
class _Shape:
    kind: str  # "ymd" (year first), "ab" (day and month in some order, year last), "named"
    first: int
    second: int
    year: int
    named_order: DateOrder = "ymd"


def _strip_time(text: str) -> str:
    value = text.strip()
    match = _TIME.search(value)
    if match is not None and match.end() == len(value) and match.start() > 0:
        value = value[: match.start()].strip()
    return value


def _year(text: str) -> int:
    value = int(text)
    if len(text) == 2:
        return 2000 + value if value < 69 else 1900 + value
    return value if len(text) == 4 else -1


def _shape(text: str) -> _Shape | None:
    value = _strip_time(text)
    for pattern in (_SLASHED_ISO, _COMPACT):
        match = pattern.fullmatch(value)
        if match is not None:
            return _Shape("ymd", int(match.group(2)), int(match.group(3)), int(match.group(1)))
    match = _NUMERIC.fullmatch(value)
    if match is not None:
        year = _year(match.group(4))
        return _Shape("ab", int(match.group(1)), int(match.group(3)), year) if year > 0 else None
    match = _DAY_MONTH_NAME.fullmatch(value)
    if match is not None and match.group(2).lower() in _MONTHS:
        month = _MONTHS[match.group(2).lower()]
        return _Shape("named", month, int(match.group(1)), _year(match.group(3)), "dmy")
    match = _MONTH_NAME_DAY.fullmatch(value)
    if match is not None and match.group(1).lower() in _MONTHS:
        month = _MONTHS[match.group(1).lower()]
        return _Shape("named", month, int(match.group(2)), _year(match.group(3)), "mdy")
    return None


def looks_like_date(text: str) -> bool:
    return len(text) <= 64 and _shape(text) is not None


@dataclass(frozen=True, slots=True)
class OrderGuess:
    order: DateOrder | None  # None: day and month cannot be told apart in this sample
    parsed: int  # sample values that look like dates at all
    example: str | None  # an ambiguous value, for the message


def detect_order(values: Iterable[str]) -> OrderGuess:
    """Decide the file's date order from sample values (see the module docstring)."""
    counts = {"ymd": 0, "dmy": 0, "mdy": 0, "ambiguous": 0, "named": 0}
    named_order: DateOrder = "ymd"
    example: str | None = None
    for text in values:
        shape = _shape(text) if len(text) <= 64 else None
        if shape is None:
            continue
        if shape.kind == "named":
            counts["named"] += 1
            named_order = shape.named_order
        elif shape.kind == "ymd":
            counts["ymd"] += 1
        elif shape.first > 12 >= shape.second:
            counts["dmy"] += 1
        elif shape.second > 12 >= shape.first:
            counts["mdy"] += 1
        elif shape.first <= 12 and shape.second <= 12:
            counts["ambiguous"] += 1
            example = example or text.strip()
    parsed = sum(counts.values())
    day_month = counts["dmy"] + counts["mdy"] + counts["ambiguous"]
    if counts["ymd"] >= day_month:
        order: DateOrder | None = "ymd" if counts["ymd"] or not counts["named"] else named_order
        return OrderGuess(order, parsed, None)
    if counts["dmy"] != counts["mdy"]:
        return OrderGuess("dmy" if counts["dmy"] > counts["mdy"] else "mdy", parsed, None)
    return OrderGuess(None, parsed, example)


_FORMAT_NAMES = {"ymd": "YYYY-MM-DD", "mdy": "MM/DD/YYYY", "dmy": "DD/MM/YYYY"}


def parse_date(text: str, order: DateOrder) -> datetime.date:
    """The date ``text`` names, read in the file's ``order``; raises DateError."""
    if len(text) > 64:
        raise DateError(f"date '{short(text)}' is not a date")
    result = _parse_cached(text.strip(), order)
    if isinstance(result, str):
        raise DateError(result)
    return result


@lru_cache(maxsize=8192)
def _parse_cached(text: str, order: DateOrder) -> datetime.date | str:
    if not text:
        return "date is empty"
    shape = _shape(text)
    if shape is None:
        return f"date '{short(text)}' is not a date"
    if shape.kind == "named":
        month, day = shape.first, shape.second
    elif (shape.kind == "ymd") != (order == "ymd"):
        expected = _FORMAT_NAMES[order]
        return f"date '{short(text)}' does not match the file's date format ({expected})"
    elif shape.kind == "ymd":
        month, day = shape.first, shape.second
    elif order == "dmy":
        day, month = shape.first, shape.second
    else:
        month, day = shape.first, shape.second
    if not _MIN_YEAR <= shape.year <= _MAX_YEAR:
        return f"date '{short(text)}' is out of range"
    try:
        return datetime.date(shape.year, month, day)
    except ValueError:
        if shape.kind == "ab" and 12 < month <= 31 and day <= 12:
            return (
                f"date '{short(text)}' is not a valid date in the file's date format "
                f"({_FORMAT_NAMES[order]})"
            )
        return f"date '{short(text)}' is not a valid date"


OFX_DATE = re.compile(
    r"([0-9]{4})([0-9]{2})([0-9]{2})(?:[0-9]{2}(?:[0-9]{2}(?:[0-9]{2}(?:[.][0-9]{1,6})?)?)?)?"
    r"\s*(?:\[[^\]]{0,20}\])?"
)


def parse_ofx_date(text: str) -> datetime.date:
    """An OFX DTPOSTED (``YYYYMMDD[HHMMSS[.XXX]][[tz]]``), taken as the date the bank shows."""
    value = text.strip()
    match = OFX_DATE.fullmatch(value) if len(value) <= 64 else None
    if match is None:
        raise DateError(f"date '{short(text)}' is not an OFX date (YYYYMMDD…)")
    year, month, day = (int(match.group(i)) for i in (1, 2, 3))
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise DateError(f"date '{short(text)}' is out of range")
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise DateError(f"date '{short(text)}' is not a valid date") from None
