"""Categorization rules: a pure engine, no database.

A rule is an ordered list of conditions (all must hold) and an account to assign. Rules are
tried in ``position`` order and the first that matches wins, with confidence 1.0: a user's
explicit rule beats any model.

Conditions are ``{"field": ..., "op": ..., "value": ...}``:

============ ==================== ==========================================================
field        ops                  value
============ ==================== ==========================================================
description  contains, equals,    text; case-insensitive. ``regex`` is a Python regular
             regex                expression searched anywhere, case-insensitive
merchant     contains, equals,    as for description; never matches a transaction whose
             regex                merchant is unknown
amount       between, gte, lte,   cents as integers, compared with the **absolute** amount
             equals               (``between`` takes ``[low, high]``, inclusive), so "over
                                  $500" means the same for money in and out; use
                                  ``direction`` to tell them apart
direction    is                   ``"in"`` (amount >= 0) or ``"out"`` (amount < 0)
============ ==================== ==========================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

RULE_CONFIDENCE = 1.0
MAX_CONDITIONS = 20
MAX_TEXT = 500

TEXT_OPS = ("contains", "equals", "regex")
FIELD_OPS: dict[str, tuple[str, ...]] = {
    "description": TEXT_OPS,
    "merchant": TEXT_OPS,
    "amount": ("between", "gte", "lte", "equals"),
    "direction": ("is",),
}


class RuleValidationError(ValueError):
    """A rule that cannot be saved; ``loc`` names the offending part (for a 422 response)."""

    def __init__(self, loc: str, message: str) -> None:
        super().__init__(f"{loc}: {message}")
        self.loc = loc
        self.message = message


class RuleMatch(NamedTuple):
    rule_id: str
    account_id: str


class RuleRow(Protocol):
    """What the engine reads from a stored rule (``models.Rule`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def conditions(self) -> list[dict[str, Any]]: ...
    @property
    def account_id(self) -> str: ...
    @property
    def active(self) -> bool: ...


Test = Callable[[str, str | None, int], bool]


def _cents(loc: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleValidationError(loc, "amounts are integer cents")
    if value < 0:
        raise RuleValidationError(loc, "amounts compare with the absolute value; use >= 0")
    return value


def _text_test(loc: str, fld: str, op: str, value: object) -> Callable[[str | None], bool]:
    if not isinstance(value, str) or not value.strip():
        raise RuleValidationError(loc, f"{fld} {op} needs a non-empty text value")
    if len(value) > MAX_TEXT:
        raise RuleValidationError(loc, f"at most {MAX_TEXT} characters")
    if op == "regex":
        try:
            pattern = re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise RuleValidationError(loc, f"invalid regular expression for {fld}: {exc}") from exc
        return lambda text: text is not None and pattern.search(text) is not None
    needle = value.strip().casefold()
    if op == "contains":
        return lambda text: text is not None and needle in text.casefold()
    return lambda text: text is not None and text.strip().casefold() == needle


def _amount_test(loc: str, op: str, value: object) -> Callable[[int], bool]:
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise RuleValidationError(loc, "between needs [low, high] in cents")
        low, high = _cents(loc, value[0]), _cents(loc, value[1])
        if low > high:
            raise RuleValidationError(loc, "between needs low <= high")
        return lambda amount: low <= abs(amount) <= high
    cents = _cents(loc, value)
    if op == "gte":
        return lambda amount: abs(amount) >= cents
    if op == "lte":
        return lambda amount: abs(amount) <= cents
    return lambda amount: abs(amount) == cents


def compile_condition(condition: object, loc: str = "conditions[0]") -> Test:
    """Validate one condition and turn it into a test; raises RuleValidationError."""
    if not isinstance(condition, dict):
        raise RuleValidationError(loc, "a condition is an object with field, op and value")
    unknown = set(condition) - {"field", "op", "value"}
    if unknown:
        raise RuleValidationError(loc, f"unknown keys {sorted(unknown)}")
    fld, op, value = condition.get("field"), condition.get("op"), condition.get("value")
    if fld not in FIELD_OPS:
        raise RuleValidationError(f"{loc}.field", f"must be one of {', '.join(FIELD_OPS)}")
    if op not in FIELD_OPS[fld]:
        raise RuleValidationError(f"{loc}.op", f"{fld} supports {', '.join(FIELD_OPS[fld])}")
    vloc = f"{loc}.value"
    if fld == "description":
        desc_test = _text_test(vloc, fld, op, value)
        return lambda description, merchant, amount: desc_test(description)
    if fld == "merchant":
        merchant_test = _text_test(vloc, fld, op, value)
        return lambda description, merchant, amount: merchant_test(merchant)
    if fld == "amount":
        amount_test = _amount_test(vloc, op, value)
        return lambda description, merchant, amount: amount_test(amount)
    if value not in ("in", "out"):
        raise RuleValidationError(vloc, "direction is 'in' or 'out'")
    out = value == "out"
    return lambda description, merchant, amount: (amount < 0) == out


def validate_rule(conditions: object, account_id: object) -> list[Test]:
    """Check a rule before it is stored; returns the compiled tests, raises RuleValidationError.

    Whether ``account_id`` belongs to the company is the caller's check (it needs the database).
    """
    if not isinstance(account_id, str) or not account_id:
        raise RuleValidationError("account_id", "a rule needs an account to assign")
    if not isinstance(conditions, list) or not conditions:
        raise RuleValidationError("conditions", "a rule needs at least one condition")
    if len(conditions) > MAX_CONDITIONS:
        raise RuleValidationError("conditions", f"at most {MAX_CONDITIONS} conditions")
    return [compile_condition(c, f"conditions[{i}]") for i, c in enumerate(conditions)]


@dataclass(frozen=True)
class CompiledRule:
    rule_id: str
    account_id: str
    tests: tuple[Test, ...]

    def matches(self, description: str, merchant: str | None, amount_cents: int) -> bool:
        return all(test(description, merchant, amount_cents) for test in self.tests)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[CompiledRule, ...] = field(default=())

    def match(self, description: str, merchant: str | None, amount_cents: int) -> RuleMatch | None:
        for rule in self.rules:
            if rule.matches(description, merchant, amount_cents):
                return RuleMatch(rule.rule_id, rule.account_id)
        return None

    def __len__(self) -> int:
        return len(self.rules)


def compile_rules(rows: Iterable[RuleRow]) -> RuleSet:
    """Active rules in position order, each compiled once; stored rules were validated on
    creation, so an invalid one here is a bug and raises."""
    ordered = sorted((r for r in rows if r.active), key=lambda r: (r.position, r.id))
    return RuleSet(
        tuple(
            CompiledRule(r.id, r.account_id, tuple(validate_rule(r.conditions, r.account_id)))
            for r in ordered
        )
    )


@dataclass(frozen=True)
class RuleSuggestion:
    """A rule offered to the user after a correction; nothing is stored until they accept."""

    name: str
    conditions: list[dict[str, Any]]
    account_id: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "conditions": self.conditions, "account_id": self.account_id}


def suggest_rule(merchant: str | None, account_id: str) -> RuleSuggestion | None:
    """ "When the merchant is X, use this account": the correction, generalized to the merchant.

    Without a known merchant there is nothing safe to generalize (a description rule would
    need the user to choose the words), so no suggestion.
    """
    if merchant is None or not merchant.strip():
        return None
    merchant = merchant.strip()[:MAX_TEXT]
    return RuleSuggestion(
        name=merchant,
        conditions=[{"field": "merchant", "op": "equals", "value": merchant}],
        account_id=account_id,
    )


def has_merchant_rule(
    conditions_by_rule: Sequence[tuple[list[dict[str, Any]], str]], merchant: str, account_id: str
) -> bool:
    """Whether some rule already says exactly "merchant equals X → account"."""
    wanted = merchant.strip().casefold()
    for conditions, rule_account in conditions_by_rule:
        if rule_account != account_id or len(conditions) != 1:
            continue
        c = conditions[0]
        if c.get("field") == "merchant" and c.get("op") == "equals":
            value = c.get("value")
            if isinstance(value, str) and value.strip().casefold() == wanted:
                return True
    return False
