"""The rule engine: conditions, ordering, validation and suggestions (pure, no database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from ledgerflow.books.rules import (
    RuleMatch,
    RuleValidationError,
    compile_rules,
    has_merchant_rule,
    suggest_rule,
    validate_rule,
)


@dataclass
class R:
    id: str
    position: int
    conditions: list[dict[str, Any]]
    account_id: str
    active: bool = True
    name: str = field(default="r")


def cond(fld: str, op: str, value: object) -> dict[str, Any]:
    return {"field": fld, "op": op, "value": value}


def one(c: dict[str, Any]) -> Any:
    rules = compile_rules([R("rul_1", 1, [c], "acc_x")])
    return lambda description="", merchant=None, amount=-100: (
        rules.match(description, merchant, amount) is not None
    )


def test_description_conditions() -> None:
    contains = one(cond("description", "contains", "Starbucks"))
    assert contains("POS STARBUCKS #123 SEATTLE")
    assert not contains("Dunkin")
    regex = one(cond("description", "regex", r"^pos\s+starbucks #\d+"))
    assert regex("POS  Starbucks #42 x")
    assert not regex("x POS Starbucks #42")
    equals = one(cond("description", "equals", "Monthly fee"))
    assert equals("  MONTHLY FEE ")
    assert not equals("Monthly fee refund")


def test_merchant_conditions() -> None:
    equals = one(cond("merchant", "equals", "Starbucks"))
    assert equals(merchant="starbucks")
    assert not equals(merchant="Starbucks Reserve")
    assert not equals(merchant=None)  # unknown merchant never matches
    contains = one(cond("merchant", "contains", "amazon"))
    assert contains(merchant="Amazon Web Services")
    regex = one(cond("merchant", "regex", "^(uber|lyft)$"))
    assert regex(merchant="Lyft") and not regex(merchant="Uber Eats")


def test_amount_conditions_use_the_absolute_value() -> None:
    between = one(cond("amount", "between", [1000, 5000]))
    assert between(amount=-1000) and between(amount=5000) and between(amount=-3000)
    assert not between(amount=-999) and not between(amount=5001)
    gte = one(cond("amount", "gte", 50_000))
    assert gte(amount=-50_000) and gte(amount=60_000) and not gte(amount=-49_999)
    lte = one(cond("amount", "lte", 500))
    assert lte(amount=-500) and lte(amount=0) and not lte(amount=501)
    equals = one(cond("amount", "equals", 1999))
    assert equals(amount=-1999) and equals(amount=1999) and not equals(amount=2000)


def test_direction() -> None:
    out = one(cond("direction", "is", "out"))
    incoming = one(cond("direction", "is", "in"))
    assert out(amount=-1) and not out(amount=1) and not out(amount=0)
    assert incoming(amount=1) and incoming(amount=0) and not incoming(amount=-1)


def test_all_conditions_must_hold_and_first_match_wins() -> None:
    rules = compile_rules(
        [
            R("rul_c", 3, [cond("description", "contains", "amazon")], "acc_supplies"),
            R(
                "rul_a",
                1,
                [cond("description", "contains", "amazon"), cond("amount", "gte", 10_000)],
                "acc_equipment",
            ),
            R("rul_b", 2, [cond("merchant", "equals", "AWS")], "acc_software"),
            R("rul_off", 0, [cond("description", "contains", "amazon")], "acc_x", active=False),
        ]
    )
    assert len(rules) == 3
    assert rules.match("AMAZON MKTPL", None, -20_000) == RuleMatch("rul_a", "acc_equipment")
    assert rules.match("AMAZON MKTPL", "AWS", -2_000) == ("rul_b", "acc_software")
    assert rules.match("AMAZON MKTPL", None, -2_000) == ("rul_c", "acc_supplies")
    assert rules.match("Payroll", None, -2_000) is None
    assert compile_rules([]).match("x", None, 1) is None


@pytest.mark.parametrize(
    ("conditions", "loc", "message"),
    [
        ([], "conditions", "at least one"),
        ("nope", "conditions", "at least one"),
        ([cond("description", "regex", "(unclosed")], "conditions[0].value", "invalid regular"),
        ([cond("merchant", "regex", "*")], "conditions[0].value", "merchant"),
        ([cond("memo", "contains", "x")], "conditions[0].field", "one of"),
        ([cond("amount", "contains", "x")], "conditions[0].op", "amount supports"),
        ([cond("amount", "gte", 10.5)], "conditions[0].value", "integer cents"),
        ([cond("amount", "gte", True)], "conditions[0].value", "integer cents"),
        ([cond("amount", "gte", -5)], "conditions[0].value", "absolute"),
        ([cond("amount", "between", [10, 5])], "conditions[0].value", "low <= high"),
        ([cond("amount", "between", 5)], "conditions[0].value", "between needs"),
        ([cond("direction", "is", "sideways")], "conditions[0].value", "'in' or 'out'"),
        ([cond("description", "contains", "  ")], "conditions[0].value", "non-empty"),
        (
            [cond("amount", "gte", 1), cond("description", "regex", "[")],
            "conditions[1].value",
            "invalid regular expression for description",
        ),
        ([{"field": "amount", "op": "gte", "value": 1, "x": 1}], "conditions[0]", "unknown"),
        (["text"], "conditions[0]", "an object"),
    ],
)
def test_invalid_rules_are_rejected_with_a_location(
    conditions: object, loc: str, message: str
) -> None:
    with pytest.raises(RuleValidationError, match=message) as info:
        validate_rule(conditions, "acc_x")
    assert info.value.loc == loc
    assert isinstance(info.value, ValueError)


def test_rule_needs_an_account() -> None:
    with pytest.raises(RuleValidationError) as info:
        validate_rule([cond("direction", "is", "in")], "")
    assert info.value.loc == "account_id"


def test_suggest_rule() -> None:
    suggestion = suggest_rule("  Blue Bottle Coffee ", "acc_meals")
    assert suggestion is not None
    assert suggestion.as_dict() == {
        "name": "Blue Bottle Coffee",
        "conditions": [{"field": "merchant", "op": "equals", "value": "Blue Bottle Coffee"}],
        "account_id": "acc_meals",
    }
    validate_rule(suggestion.conditions, suggestion.account_id)
    rules = compile_rules([R("rul_s", 1, suggestion.conditions, suggestion.account_id)])
    assert rules.match("anything", "blue bottle coffee", -450) == ("rul_s", "acc_meals")
    assert suggest_rule(None, "acc_meals") is None
    assert suggest_rule("  ", "acc_meals") is None


def test_has_merchant_rule() -> None:
    existing = [([cond("merchant", "equals", "Uber")], "acc_travel")]
    assert has_merchant_rule(existing, "uber ", "acc_travel")
    assert not has_merchant_rule(existing, "Uber", "acc_meals")
    assert not has_merchant_rule(existing, "Lyft", "acc_travel")
