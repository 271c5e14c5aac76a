"""Receipt field extraction on known OCR lines (no OCR involved): fast, exact."""

from __future__ import annotations

import datetime as dt

import pytest

from ledgerflow.books.receipts.extract import amounts, extract_fields, parse_cents, total_weight
from ledgerflow.books.receipts.fields import clean_vendor, dates_in, find_currency

TODAY = dt.date(2026, 11, 26)


def fields(text: str, currency: str = "USD") -> dict[str, object]:
    lines = [ln.strip() for ln in text.strip().splitlines()]
    return extract_fields(lines, default_currency=currency, today=TODAY).as_dict()


def test_restaurant_with_tip_suggestions() -> None:
    got = fields("""
        WELCOME TO
        COPPER KETTLE SUSHI BAR
        426 Market St
        Springfield, IL 62704
        Tel: (525) 231-0365
        Date: 05/07/2026
        Server: Sam Table 14
        Cheesecake 3.82
        Chicken Wrap 33.43
        SUBTOTAL $37.25
        SALES TAX $3.26
        TOTAL $40.51
        TIP ________
        TOTAL ________
        18% tip $7.29 = $47.80
        20% tip $8.10 = $48.61
    """)
    assert got["vendor"] == "COPPER KETTLE SUSHI BAR"
    assert got["date"] == "2026-05-07"  # US order for a dollar receipt
    assert (got["subtotal_cents"], got["tax_cents"], got["total_cents"]) == (3725, 326, 4051)
    assert got["currency"] == "USD"
    confidence = got["confidence"]
    assert isinstance(confidence, dict)
    assert confidence["total"] > 0.9  # subtotal + tax = total


def test_retail_cash_and_change_are_not_the_total() -> None:
    got = fields("""
        RIVERBEND PET SUPPLY
        9089 Pine Rd
        www.riverbend.com
        2025-02-06 09:23
        DOG FOOD 5LB 67178 24.89
        SUBTOTAL $83.76
        SALES TAX 8.25% $6.91
        TOTAL $90.67
        CASH $100.00
        CHANGE $9.33
    """)
    assert got["vendor"] == "RIVERBEND PET SUPPLY"
    assert got["date"] == "2025-02-06"
    assert (got["subtotal_cents"], got["tax_cents"], got["total_cents"]) == (8376, 691, 9067)


def test_european_decimal_commas_and_day_first_dates() -> None:
    got = fields(
        """
        NORTHGATE MARKT
        Hauptstr. 12
        10115 Berlin
        03/11/2026 14:02
        SUBTOTAL 1.234,50 €
        MwSt 19% 234,56 €
        SUMME 1.469,06 €
        """
    )
    assert got["date"] == "2026-11-03"
    assert (got["subtotal_cents"], got["tax_cents"], got["total_cents"]) == (123450, 23456, 146906)
    assert got["currency"] == "EUR"


def test_invoice_balance_due_and_due_date_is_not_the_date() -> None:
    got = fields("""
        Northwind Software Ltd INVOICE
        351 Main St
        Invoice #: INV-2026-0042
        Due date: Dec 3, 2026
        Invoice date: Nov 3, 2026
        Bill To:
        Riverbend Holdings
        Pro plan (monthly) $1,200.00
        Subtotal $1,200.00
        Sales tax $99.00
        Balance Due $1,299.00
    """)
    assert got["vendor"] == "Northwind Software Ltd"
    assert got["date"] == "2026-11-03"
    assert got["total_cents"] == 129900
    assert got["tax_cents"] == 9900


def test_ocr_noise_in_keywords_and_amount_below_its_label() -> None:
    got = fields("""
        SUMMIT GAS #0421
        5888 Market St
        Feb 25, 2026 11:47
        Pump # 02
        11.405 GAL @ $4.932/GAL
        FUEL SALE 56.25
        T0TAL
        $56.25
    """)
    assert got["vendor"] == "SUMMIT GAS"
    assert got["date"] == "2026-02-25"
    assert got["total_cents"] == 5625
    assert got["subtotal_cents"] is None and got["tax_cents"] is None


def test_rapidocr_style_lines_without_spaces() -> None:
    got = fields("""
        REDWOODPETRO#6727
        3583OakAve
        Portland，OR97205
        AUG06202619:05
        FUELSALE 57.86
        TOTAL $57.86
        VISA****5311 $57.86
    """)
    assert got["vendor"] == "REDWOODPETRO"
    assert got["date"] == "2026-08-06"
    assert got["total_cents"] == 5786


def test_a_one_digit_misread_total_is_repaired_by_subtotal_plus_tax() -> None:
    got = fields("""
        LITTLE LEMON BISTRO
        SUBTOTAL $57.99
        SALES TAX $4.06
        GRAND TOTAL $62.85
        CASH $70.00
        CHANGE $7.95
    """)
    assert got["total_cents"] == 6205  # cash − change agrees with subtotal + tax


def test_grand_total_beats_total_and_subtotal_is_never_the_total() -> None:
    got = fields("""
        ACME
        SUB TOTAL 10.00
        TAX 0.80
        TOTAL SAVINGS 2.00
        GRAND TOTAL 10.80
    """)
    assert got["total_cents"] == 1080
    assert got["subtotal_cents"] == 1000


def test_no_keywords_falls_back_to_the_largest_amount_with_low_confidence() -> None:
    got = fields("""
        CORNER STORE
        Bread 3.50
        Milk 2.25
        5.75
    """)
    assert got["total_cents"] == 575
    confidence = got["confidence"]
    assert isinstance(confidence, dict)
    assert confidence["total"] < 0.5


def test_nothing_readable_gives_empty_fields_with_zero_confidence() -> None:
    got = fields("~~~ ... ~~~")
    assert got["vendor"] is None and got["total_cents"] is None and got["date"] is None
    confidence = got["confidence"]
    assert isinstance(confidence, dict)
    assert confidence["total"] == 0.0


@pytest.mark.parametrize(
    ("line", "currency", "expected"),
    [
        ("2026-11-03", "USD", dt.date(2026, 11, 3)),
        ("11/03/2026", "USD", dt.date(2026, 11, 3)),
        ("11/03/26 14:30", "USD", dt.date(2026, 11, 3)),
        ("03/11/2026", "EUR", dt.date(2026, 11, 3)),
        ("03.11.2026", "USD", dt.date(2026, 11, 3)),  # dots: always day first
        ("25/12/2025", "USD", dt.date(2025, 12, 25)),  # 25 cannot be a month
        ("Nov 3, 2026", "USD", dt.date(2026, 11, 3)),
        ("November 3rd, 2026", "USD", dt.date(2026, 11, 3)),
        ("3 Nov 2026", "GBP", dt.date(2026, 11, 3)),
        ("03-Nov-2026", "GBP", dt.date(2026, 11, 3)),
        ("NOV 03 2026", "USD", dt.date(2026, 11, 3)),
        ("Date:MAY082025", "USD", dt.date(2025, 5, 8)),
        ("29/06/202620:50", "EUR", dt.date(2026, 6, 29)),  # year and time run together
        ("29/06/2620:50", "EUR", dt.date(2026, 6, 29)),  # two-digit year and time
        ("Date: 61/22/2626 12:53", "USD", dt.date(2026, 1, 22)),  # dotted zeros read as 6
        ("23-Mar-2624", "GBP", dt.date(2024, 3, 23)),
    ],
)
def test_date_formats(line: str, currency: str, expected: dt.date) -> None:
    assert [d for _, d, _ in dates_in(line, currency)] == [expected]


@pytest.mark.parametrize("line", ["12.50 3.25", "Tel: 555-123-4567", "13/45/2026", "1,234.56"])
def test_not_dates(line: str) -> None:
    assert dates_in(line, "USD") == []


@pytest.mark.parametrize(
    ("text", "cents"),
    [("12.50", 1250), ("12,50", 1250), ("1,234.56", 123456), ("1.234,56", 123456), ("0.99", 99)],
)
def test_parse_cents_is_exact(text: str, cents: int) -> None:
    assert parse_cents(text) == cents


def test_amounts_skip_percentages_quantities_and_dates() -> None:
    assert [m.cents for m in amounts("MwSt 6.25% 8.67")] == [867]
    assert [m.cents for m in amounts("11.405 GAL @ $4.932/GAL")] == []
    assert [m.cents for m in amounts("Invoice date: 26.04.2024")] == []
    assert [m.cents for m in amounts("S12.50")] == [1250]  # "$" read as "S"


@pytest.mark.parametrize(
    ("label", "positive"),
    [
        ("TOTAL", True),
        ("GRAND TOTAL", True),
        ("AMOUNT DUE", True),
        ("BALANCE DUE", True),
        ("SUBTOTAL", False),
        ("TOTAL TAX", False),
        ("TOTAL SAVINGS", False),
        ("18% tip $7.29 = ", False),
    ],
)
def test_total_keywords(label: str, positive: bool) -> None:
    assert (total_weight(label) > 0) is positive


@pytest.mark.parametrize(
    ("lines", "default", "code"),
    [
        (["TOTAL $5.00"], "USD", "USD"),
        (["TOTAL $5.00"], "CAD", "CAD"),  # a dollar sign in a Canadian company is CAD
        (["TOTAL €5.00"], "USD", "EUR"),
        (["TOTAL £5.00"], "USD", "GBP"),
        (["TOTAL 5.00 CHF"], "USD", "CHF"),
        (["Manchester M1 1AE", "TOTAL 5.00"], "USD", "GBP"),
        (["MwSt 0,80", "SUMME 5,00"], "USD", "EUR"),
        (["TOTAL 5.00"], "USD", "USD"),
    ],
)
def test_currency(lines: list[str], default: str, code: str) -> None:
    assert find_currency(lines, default)[0] == code


def test_vendor_cleanup() -> None:
    assert clean_vendor("EAGLE PETR0 #7688") == "EAGLE PETRO"
    assert clean_vendor("Bluefin Design Studio INVOICE") == "Bluefin Design Studio"
    assert clean_vendor("WELCOME TO JOE'S DINER") == "JOE'S DINER"
