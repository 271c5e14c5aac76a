"""Money amounts: text to signed integer cents, exactly (``Decimal``, never ``float``).

Accepted: currency signs and ISO codes (``$ € £ ¥``, ``USD``), thousands separators (``1,234.56``,
``1.234,56``, ``1 234,56``, ``1'234.56``), a leading ``-`` or ``+``, a trailing ``-``, parentheses
for negatives and ``CR`` / ``DR`` suffixes. More than two decimal places are rejected unless the
extra digits are zeros.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .text import short

MAX_INTEGER_DIGITS = 13
_MAX_AMOUNT_CHARS = 48
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_SPACES = re.compile(r"[\s\u00a0\u2007\u2009\u202f]+")
_SHAPE = re.compile(r"(?P<pre>[^0-9.,']*)(?P<num>[0-9.,']*[0-9][0-9.,']*)(?P<post>[^0-9.,']*)")
_DIGITS = re.compile(r"[0-9]+")
_PLAIN = {
    ".": re.compile(r"-?[0-9]{1,13}(?:\.[0-9]{0,2})?"),
    ",": re.compile(r"-?[0-9]{1,13}(?:,[0-9]{0,2})?"),
}
_PLACEHOLDERS = frozenset({"-", "--", "\u2013", "\u2014"})
_PRE_TOKEN = re.compile(r"\(|[+-]|[$€£¥]|[A-Z]{3}")
_POST_TOKEN = re.compile(r"\)|[+-]|[$€£¥]|CR|DR|[A-Z]{3}")


class AmountError(ValueError):
    """The text is not an amount; the message is the row error's reason."""


@dataclass(frozen=True, slots=True)
class Amount:
    cents: int
    explicit_sign: bool
    currency: str | None


def parse_amount(text: str, decimal: str = ".") -> Amount | None:
    """Signed cents of ``text`` (``decimal`` is the file's decimal separator); None when blank."""
    return _parse(text, decimal, explain=True)


def _parse(text: str, decimal: str, explain: bool) -> Amount | None:
    plain = _PLAIN[decimal].fullmatch(text)
    if plain is not None:  # the common case: digits, an optional minus and decimals
        value = Decimal(text.replace(",", ".") if decimal == "," else text)
        return Amount(int(value.scaleb(2)), text.startswith("-"), None)
    compact = _SPACES.sub("", text)
    if not compact or compact in _PLACEHOLDERS:
        return None
    if len(compact) > _MAX_AMOUNT_CHARS:
        raise AmountError(f"amount '{short(text)}' is not a number")
    match = _SHAPE.fullmatch(compact.upper())
    if match is None:
        raise AmountError(f"amount '{short(text)}' is not a number")
    negative, explicit, currency = _markers(match.group("pre"), match.group("post"), text)
    cents = _to_cents(match.group("num"), decimal, text, explain)
    return Amount(-cents if negative else cents, explicit, currency)


def _markers(pre: str, post: str, text: str) -> tuple[bool, bool, str | None]:
    tokens: list[str] = []
    for part, pattern in ((pre, _PRE_TOKEN), (post, _POST_TOKEN)):
        position = 0
        while position < len(part):
            found = pattern.match(part, position)
            if found is None:
                raise AmountError(f"amount '{short(text)}' is not a number")
            tokens.append(found.group())
            position = found.end()
    opens, closes = tokens.count("("), tokens.count(")")
    if opens != closes or opens > 1 or (opens and not ("(" in pre and ")" in post)):
        raise AmountError(f"amount '{short(text)}' has unbalanced parentheses")
    signs = [token for token in tokens if token in ("(", "+", "-", "CR", "DR")]
    if len(signs) > 1:
        raise AmountError(f"amount '{short(text)}' has more than one sign")
    currencies = {_SYMBOLS.get(token, token) for token in tokens if token not in "()+-CRDR"}
    if len(currencies) > 1:
        raise AmountError(f"amount '{short(text)}' names more than one currency")
    negative = bool(signs) and signs[0] in ("(", "-", "DR")
    return negative, bool(signs), currencies.pop() if currencies else None


def _to_cents(number: str, decimal: str, text: str, explain: bool) -> int:
    group = "." if decimal == "," else ","
    if decimal in number:
        whole, _, fraction = number.rpartition(decimal)
    else:
        whole, fraction = number, ""
    if fraction and not _DIGITS.fullmatch(fraction):
        raise AmountError(_separator_reason(text, decimal, explain))
    if whole and not _DIGITS.fullmatch(whole):
        whole = _ungroup(whole, group, text, decimal, explain)
    if not whole and not fraction:
        raise AmountError(f"amount '{short(text)}' is not a number")
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise AmountError(f"amount '{short(text)}' is too large")
    fraction = fraction.rstrip("0")
    if len(fraction) > 2:
        raise AmountError(f"amount '{short(text)}' has more than 2 decimal places")
    value = Decimal(f"{whole or '0'}.{fraction or '0'}")
    return int(value.scaleb(2))


def _ungroup(whole: str, group: str, text: str, decimal: str, explain: bool) -> str:
    """'1,234,567' -> '1234567' when every group after the first has three digits."""
    for separator in (group, "'"):
        parts = whole.split(separator)
        if (
            len(parts) > 1
            and all(_DIGITS.fullmatch(part) for part in parts)
            and 1 <= len(parts[0]) <= 3
            and all(len(part) == 3 for part in parts[1:])
        ):
            return "".join(parts)
    raise AmountError(_separator_reason(text, decimal, explain))


def _separator_reason(text: str, decimal: str, explain: bool) -> str:
    other = "," if decimal == "." else "."
    try:
        if explain and _parse(text, other, explain=False) is not None:
            return f"amount '{short(text)}' does not use the file's decimal separator '{decimal}'"
    except AmountError:
        pass
    return f"amount '{short(text)}' is not a number"


def detect_decimal(values: Iterable[str], delimiter: str) -> str:
    """The decimal separator most sample amounts use: ',' or '.'.

    Without evidence (whole numbers only) a ``;``-separated file is taken as European (``,``).
    """
    votes = {",": 0, ".": 0}
    for value in values:
        digits = "".join(ch for ch in value if ch in "0123456789,.")
        vote = _decimal_vote(digits)
        if vote:
            votes[vote] += 1
    if votes[","] > votes["."]:
        return ","
    if votes["."] > votes[","]:
        return "."
    return "," if delimiter == ";" else "."


def _decimal_vote(digits: str) -> str | None:
    last_comma, last_dot = digits.rfind(","), digits.rfind(".")
    if last_comma >= 0 and last_dot >= 0:
        return "," if last_comma > last_dot else "."
    for mark in (",", "."):
        if digits.count(mark) > 1:
            return "." if mark == "," else ","
        position = digits.rfind(mark)
        if position >= 0:
            tail = len(digits) - position - 1
            if tail in (1, 2):
                return mark
    return None


def sample_currency(amounts: Iterable[Amount | None]) -> str | None:
    """The one currency the sample amounts name, if they agree."""
    seen = {amount.currency for amount in amounts if amount is not None and amount.currency}
    return seen.pop() if len(seen) == 1 else None
