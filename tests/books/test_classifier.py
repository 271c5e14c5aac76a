"""Tests of the learned categorizer: normalization, shipped model, company memory, training."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerflow.books.classifier import (
    CATEGORIES,
    Categorizer,
    CategoryModel,
    MerchantMemory,
    Prediction,
    merchant_key,
    normalize_description,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "training" / "transactions.csv"


def _script(name: str) -> Any:
    """Import one of the scripts/ modules (they import each other as top-level modules)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(ROOT / "scripts"))


@pytest.fixture(scope="module")
def training_rows() -> list[dict[str, str]]:
    with DATA.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SQ *BLUE BOTTLE COFFEE #123 OAKLAND CA", "blue bottle coffee"),
        ("Blue Bottle Coffee 4/12", "blue bottle coffee"),
        ("STARBUCKS STORE 12345 SEATTLE WA", "starbucks"),
        ("TST* THE SNUG SAN FRANCISCO CA", "the snug"),
        ("TST *CAFE RIO 0456", "cafe rio"),
        ("PAYPAL *ADOBE 402-935-7733 CA", "adobe"),
        ("PP*NOTION LABS", "notion labs"),
        ("SP ALLBIRDS", "allbirds"),
        ("POS PURCHASE WALGREENS #1234", "walgreens"),
        ("DEBIT CARD PURCHASE XXXX1234 CHEVRON 0203 HOUSTON TX", "chevron"),
        ("CHECKCARD 0412 SHELL OIL 57444 SEATTLE WA 24431060123", "shell oil"),
        (
            "PURCHASE AUTHORIZED ON 04/12 CHIPOTLE 1234 SAN FRANCISCO CA S384102938 CARD 1234",
            "chipotle",
        ),
        ("RECURRING PAYMENT AUTHORIZED ON 04/12 NETFLIX.COM LOS GATOS CA", "netflix los gatos"),
        ("ACH DEBIT GUSTO PAYROLL", "gusto payroll"),
        ("RECURRING DROPBOX*8XK2 DROPBOX.COM", "dropbox dropbox"),
        ("GUSTO DES:NET 123456 ID:7YBQ INDN:ACME LLC CO ID:9138 CCD", "gusto net"),
        (
            "ORIG CO NAME:ADP PAYROLL ORIG ID:9138 DESC DATE:240412 CO ENTRY DESCR:FEES SEC:CCD "
            "TRACE#:0210000 IND NAME:ACME",
            "adp payroll fees",
        ),
        ("ONLINE TRANSFER TO SAV XXXXXX1234 REF #IB0ZX9 ON 04/12/24", "online transfer to sav"),
        ("IRS USATAXPYMT 270412345678901", "irs usataxpymt"),
        ("MONTHLY SERVICE FEE", "monthly service fee"),
        ("7-ELEVEN 34123 AUSTIN TX", "7eleven"),
        ("McDonald's F1234 Chicago IL", "mcdonalds"),
        ("CHICK-FIL-A #01234 ATLANTA GA", "chickfila"),
        ("UBER *TRIP HELP.UBER.COM CA", "uber trip help uber"),
        ("HOME DEPOT #4710 SAN JOSE CA", "home depot"),
        ("DELTA AIR 0062341234567 APR 12", "delta air"),
        ("COMCAST CABLE 800-266-2278 CO", "comcast cable"),
        ("ADOBE *CREATIVE CLD 800-833-6687 CA", "adobe creative cld"),
        ("Zelle payment to John Smith JPM99AB12CD", "zelle payment to john smith"),
        ("WHOLE FOODS MKT 10234 NEW YORK NY", "whole foods mkt"),
        ("DD *DOORDASH CHIPOTLE 855-431-0459 CA", "dd doordash chipotle"),
        ("SQ*JOE'S PIZZA BROOKLYN NY 10/03", "joes pizza"),
        ("PAYMENT TO CHASE CARD ENDING IN 1234 04/12", "payment to chase"),
        ("", ""),
    ],
)
def test_normalize_description(raw: str, expected: str) -> None:
    assert normalize_description(raw) == expected


@pytest.mark.parametrize(
    ("variants", "key"),
    [
        (
            [
                "SQ *BLUE BOTTLE COFFEE #123 OAKLAND CA",
                "Blue Bottle Coffee 4/12",
                "POS DEBIT BLUE BOTTLE COFFEE SAN FRANCISCO CA",
            ],
            "blue bottle coffee",
        ),
        (
            [
                "STARBUCKS STORE 12345 SEATTLE WA",
                "STARBUCKS #0456 PORTLAND OR",
                "CHECKCARD 0412 STARBUCKS 24431060123",
            ],
            "starbucks",
        ),
        (
            [
                "AMAZON.COM*2K3XY81Z0 AMZN.COM/BILL WA",
                "AMZN MKTP US*2K3XY81Z0",
                "DEBIT CARD PURCHASE XXXX1234 AMZN MKTP US*1A2B3C AMZN.COM/BILL WA",
            ],
            "amazon",
        ),
        (
            ["ACME PLUMBING INC", "Acme Plumbing, Inc. 04/12", "ACME PLUMBING LLC #44"],
            "acme plumbing",
        ),
        (["WM SUPERCENTER #1234", "WAL-MART #1234 DALLAS TX"], "walmart"),
    ],
)
def test_merchant_key_is_stable_across_statements(variants: list[str], key: str) -> None:
    assert {merchant_key(v) for v in variants} == {key}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(max_size=80), st.integers(-(10**11), 10**11)), min_size=1, max_size=8
    )
)
def test_any_text_gives_a_valid_prediction(rows: list[tuple[str, int]]) -> None:
    descriptions = [d for d, _ in rows]
    amounts = [a for _, a in rows]
    for d in descriptions:
        assert set(normalize_description(d)) <= set("abcdefghijklmnopqrstuvwxyz0123456789& ")
    preds = CategoryModel.load().predict(descriptions, amounts)
    assert len(preds) == len(rows)
    for pred in preds:
        assert pred.category in CATEGORIES and 0.0 <= pred.confidence <= 1.0


def test_category_list() -> None:
    assert len(CATEGORIES) == 28 == len(set(CATEGORIES))
    assert CATEGORIES[0] == "Sales" and CATEGORIES[-1] == "Uncategorized income"
    assert CategoryModel.load().categories == CATEGORIES


@pytest.mark.parametrize(
    ("description", "amount", "category"),
    [
        ("STARBUCKS STORE 12345 SEATTLE WA", -645, "Meals"),
        ("ADOBE *CREATIVE CLD", -5499, "Office supplies & software"),
        ("GUSTO PAYROLL", -1250000, "Payroll expenses"),
        ("MONTHLY SERVICE FEE", -1500, "Bank fees & service charges"),
        ("UBER *TRIP HELP.UBER.COM CA", -2340, "Travel"),
        ("UBER *EATS PENDING", -3150, "Meals"),
        ("IRS USATAXPYMT 270412345678901", -250000, "Taxes & licenses"),
        ("ONLINE TRANSFER TO SAV XXXXXX1234", -500000, "Transfer"),
        ("STRIPE TRANSFER ST-X1Y2Z3", 184512, "Sales"),
        ("INTEREST PAYMENT", 312, "Interest income"),
    ],
)
def test_model_knows_obvious_merchants(description: str, amount: int, category: str) -> None:
    [pred] = CategoryModel.load().predict([description], [amount])
    assert pred.category == category
    assert pred.source == "model"


@pytest.mark.parametrize(
    ("description", "amount", "category"),
    [
        ("LYFT *RIDE SUN 9PM", -1875, "Travel"),
        ("SHEETZ 0412 ALTOONA PA", -4210, "Car & truck"),
        ("TIM HORTONS #1234 TORONTO ON", -455, "Meals"),
        ("CARD PURCHASE 04/12 CARIBOU COFFEE 4412 ST CLOUD MN", -675, "Meals"),
        ("HMRC VAT", -250000, "Taxes & licenses"),
        (
            "TWC TAX DES:TAX PMT ID:X81Q INDN:ACME LLC CO ID:1746000111 CCD",
            -41200,
            "Taxes & licenses",
        ),
        ("PAYMENT TO CHASE CARD ENDING IN 1234 04/12", -120000, "Transfer"),
        ("APPLECARD GSBANK PAYMENT 2231412 WEB ID: 9999999999", -56000, "Transfer"),
        ("OVERDRAFT ITEM FEE", -3500, "Bank fees & service charges"),
        ("ISOLVED DES:PAYROLL", -1450000, "Payroll expenses"),
        ("UNITEDHEALTHCARE HCCLAIMPMT 1234567", 84512, "Service income"),
        ("MR COOPER DES:MTG PYMT", -231000, "Loan payment"),
    ],
)
def test_model_knows_national_brands_and_bank_lines(
    description: str, amount: int, category: str
) -> None:
    """Merchants of the brand vocabulary, on statement lines the training set does not hold."""
    [pred] = CategoryModel.load().predict([description], [amount])
    assert (pred.category, pred.confidence >= 0.9) == (category, True)


@pytest.mark.parametrize(
    "description",
    [
        "COSTCO WHSE #0423 SEATTLE WA",
        "AMZN MKTP US*2K4RT1",
        "WM SUPERCENTER #1234 DALLAS TX",
        "THE HOME DEPOT #0634",
        "TRADER JOE S #552 PORTLAND OR",
    ],
)
def test_two_way_merchants_go_to_review(description: str) -> None:
    """Merchants bought from for more than one purpose get a split, low-confidence answer."""
    [pred] = CategoryModel.load().predict([description], [-8423])
    assert pred.confidence < 0.9
    assert pred.alternatives[1][1] >= 0.1


def test_training_set_splits(training_rows: list[dict[str, str]]) -> None:
    build = _script("build_training_set")
    train = [r for r in training_rows if r["split"] == "train"]
    test = [r for r in training_rows if r["split"] == "test"]
    ids = {
        kind: {r["merchant_id"] for r in rows} for kind, rows in (("train", train), ("test", test))
    }
    local = {r["merchant_id"] for r in training_rows if r["merchant_kind"] == "local"}
    # Production-like split: local merchants never seen, every other test merchant known ...
    assert not ids["train"] & ids["test"] & local
    assert ids["test"] - local <= ids["train"]
    # ... on lines that never occur in training.
    train_text = {r["description"].upper() for r in train}
    assert not any(
        r["description"].upper() in train_text for r in test if r["merchant_kind"] != "local"
    )
    shares = Counter(r["merchant_kind"] for r in test)
    for kind, share in build.TEST_MIX.items():
        assert abs(shares[build.KIND_LABEL[kind]] / len(test) - share) < 0.01
    # Strict split: held-out merchants of every kind never appear in its training rows.
    strict_train = {r["merchant_id"] for r in training_rows if r["strict_split"] == "train"}
    strict_test = {r["merchant_id"] for r in training_rows if r["strict_split"] == "test"}
    assert strict_test and not strict_train & strict_test
    assert {r["merchant_kind"] for r in training_rows if r["strict_split"] == "test"} == {
        "brand",
        "bank_line",
        "local",
        "mixed",
    }


def test_training_set_is_what_the_script_builds(training_rows: list[dict[str, str]]) -> None:
    """The committed CSV is up to date with the vocabulary and the generator."""
    rebuilt = _script("build_training_set").build(20240412)
    assert len(rebuilt) == len(training_rows)
    assert [{k: str(v) for k, v in r.items()} for r in rebuilt] == training_rows


def test_mixed_labels_become_soft_targets() -> None:
    soft_targets = _script("train_classifier").soft_targets
    keys = [("costco", False)] * 4 + [("acme", False)] * 4 + [("solo", True)]
    y = np.array([1, 1, 1, 2, 5, 5, 5, 5, 7])
    rows, labels, weights = soft_targets(keys, y)
    # Each Costco row is repeated once per label, weighted 3/4 and 1/4; the rest are unchanged.
    assert rows.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8]
    assert labels.tolist() == [1, 2] * 4 + [5, 5, 5, 5, 7]
    assert weights.tolist() == [0.75, 0.25] * 4 + [1.0] * 5


def test_predictions_are_well_formed_and_deterministic() -> None:
    model = CategoryModel.load()
    desc = ["SQ *SOME NEW PLACE", "SHELL OIL 57444", "", "Zelle to Pat Lee", "#1234", "RENT"]
    amounts = [-1200, -4500, 100, -30000, -999, -250000]
    first = model.predict(desc, amounts)
    assert first == model.predict(desc, amounts)
    assert first == CategoryModel.load(
        Path(str(resources.files("ledgerflow.books.classifier").joinpath("model")))
    ).predict(desc, amounts)
    for pred in first:
        assert pred.category in CATEGORIES
        assert 0.0 <= pred.confidence <= 1.0
        assert 1 <= len(pred.alternatives) <= 3
        assert pred.alternatives[0] == (pred.category, pred.confidence)
        probs = [p for _, p in pred.alternatives]
        assert probs == sorted(probs, reverse=True)
        assert all(0.0 <= p <= 1.0 for p in probs)
    # A row's answer does not depend on its neighbours in the batch (empty rows included).
    assert first == [model.predict([d], [a])[0] for d, a in zip(desc, amounts, strict=True)]
    assert model.predict([], []) == []
    with pytest.raises(ValueError):
        model.predict(["x"], [])


def test_model_files_load_without_pickle() -> None:
    root = resources.files("ledgerflow.books.classifier").joinpath("model")
    with (
        resources.as_file(root.joinpath("weights.npz")) as path,
        np.load(path, allow_pickle=False) as data,
    ):
        assert set(data.files) == {"rows", "coef", "intercept"}
        assert all(data[name].dtype != object for name in data.files)
    meta = json.loads(root.joinpath("model.json").read_text())
    assert meta["categories"] == list(CATEGORIES)
    assert meta["temperature"] > 0
    size = sum(root.joinpath(n).stat().st_size for n in ("weights.npz", "model.json"))  # type: ignore[attr-defined]
    assert size < 15_000_000


def test_memory_overrides_model_for_consistent_merchant() -> None:
    history = [
        (f"STARBUCKS STORE {n} SEATTLE WA", -2000 - n, "Supplies & materials") for n in range(5)
    ]
    memory = MerchantMemory.from_history(history)
    categorizer = Categorizer(CategoryModel.load(), memory)
    [pred, other] = categorizer.predict(
        ["CHECKCARD 0412 STARBUCKS #999 PORTLAND OR", "CHIPOTLE 1234"], [-1500, -1200]
    )
    assert pred == Prediction(pred.category, pred.confidence, pred.alternatives, "memory")
    assert pred.category == "Supplies & materials"
    assert pred.confidence >= 0.99
    assert other.source == "model" and other.category == "Meals"


def test_memory_confidence_follows_consistency() -> None:
    memory = MerchantMemory.from_history(
        [("ACME WIDGETS", -100, "Supplies & materials")] * 5
        + [("BOLT LABS", -100, "Contract labor")] * 3
        + [("BOLT LABS", -100, "Office supplies & software")]
    )
    five = memory.lookup("ACME WIDGETS #12", -500)
    mixed = memory.lookup("Bolt Labs 4/12", -500)
    assert five is not None and mixed is not None
    assert five.confidence >= 0.99
    assert mixed.category == "Contract labor"
    assert 0.6 < mixed.confidence < 0.8
    assert [c for c, _ in mixed.alternatives] == ["Contract labor", "Office supplies & software"]
    assert memory.lookup("TOTALLY UNKNOWN VENDOR", -500) is None
    assert memory.lookup("", -500) is None


def test_memory_is_sign_aware_and_fuzzy() -> None:
    memory = MerchantMemory.from_history(
        [("ACME CONSULTING GROUP", -90000, "Contract labor")] * 3
        + [("ACME CONSULTING GROUP", 150000, "Service income")] * 3
        + [("BLUE BOTTLE COFFEE OAKLAND CA", -700, "Meals")] * 4
    )
    paid = memory.lookup("ACME CONSULTING GROUP", -1000)
    received = memory.lookup("ACME CONSULTING GROUP", 1000)
    assert paid is not None and paid.category == "Contract labor"
    assert received is not None and received.category == "Service income"
    truncated = memory.lookup("SQ *BLUE BOTTLE COF", -650)
    assert truncated is not None and truncated.category == "Meals"
    assert truncated.confidence < memory.lookup("BLUE BOTTLE COFFEE", -650).confidence  # type: ignore[union-attr]
    refund = memory.lookup("BLUE BOTTLE COFFEE", 650)  # only ever paid: weaker evidence
    assert refund is not None and refund.category == "Meals" and refund.confidence < 0.9


def test_categorizer_without_memory_is_the_model() -> None:
    model = CategoryModel.load()
    desc, amounts = ["GEICO *AUTO", "AMEX EPAYMENT ACH PMT"], [-12000, -300000]
    assert Categorizer(model).predict(desc, amounts) == model.predict(desc, amounts)
    assert Categorizer(model, MerchantMemory()).predict(desc, amounts) == model.predict(
        desc, amounts
    )


def test_training_script_is_reproducible_on_a_sample(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "train_classifier.py"),
                "--sample",
                "1500",
                "--epochs",
                "2",
                "--out",
                str(out),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        outputs.append(out)
    with (
        np.load(outputs[0] / "weights.npz", allow_pickle=False) as a,
        np.load(outputs[1] / "weights.npz", allow_pickle=False) as b,
    ):
        for name in ("rows", "coef", "intercept"):
            assert np.array_equal(a[name], b[name])
    model = CategoryModel.load(outputs[0])
    assert model.meta["trained_rows"] == 1500
    [pred] = model.predict(["STARBUCKS STORE 12345 SEATTLE WA"], [-645])
    assert pred.category in CATEGORIES and 0.0 <= pred.confidence <= 1.0
