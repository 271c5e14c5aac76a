"""Bank statement importers: one test per layout on the sample files, then the hard cases."""

from __future__ import annotations

import datetime
import pickle
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgerflow.books.importers import (
    AmbiguousStatement,
    ColumnMapping,
    ParsedTransaction,
    RowError,
    Statement,
    StatementError,
    parse_statement,
)

BANKS = Path(__file__).resolve().parents[1] / "data" / "banks"
D = datetime.date


def load(name: str, **kwargs: object) -> tuple[Statement, list[ParsedTransaction]]:
    statement = parse_statement(BANKS / name, **kwargs)  # type: ignore[arg-type]
    return statement, list(statement.rows())


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def parse_all(path: Path, **kwargs: object) -> list[ParsedTransaction]:
    return list(parse_statement(path, **kwargs).rows())  # type: ignore[arg-type]


def total(rows: list[ParsedTransaction]) -> int:
    return sum(row.amount_cents for row in rows)


# --- one test per bank layout -------------------------------------------------------------------


def test_chase_checking() -> None:
    statement, rows = load("chase_checking.csv")
    assert (statement.layout, statement.account_kind) == ("chase_checking", "bank")
    assert (statement.currency, statement.date_order) == ("USD", "mdy")
    assert statement.columns[:4] == ["Details", "Posting Date", "Description", "Amount"]
    assert len(rows) == 15
    first, last = rows[0], rows[-1]
    assert (first.line, first.date, first.amount_cents) == (2, D(2024, 1, 31), 245000)
    assert first.description == "ACME CORP PAYROLL PPD ID: 9876543210"
    assert (last.line, last.date, last.amount_cents) == (16, D(2024, 1, 3), 500000)
    assert last.description == "ONLINE TRANSFER FROM SAV ...4321 TRANSACTION#: 19283746"
    check = rows[4]
    assert (check.description, check.amount_cents, check.external_id) == (
        "CHECK 1042",
        -85000,
        "1042",
    )
    assert rows[1].description == "STARBUCKS STORE 10234 SEATTLE WA 01/29"
    assert rows[1].amount_cents == -645 and rows[1].external_id is None
    assert total(rows) == 459506


def test_chase_card() -> None:
    statement, rows = load("chase_card.csv")
    assert (statement.layout, statement.account_kind) == ("chase_card", "credit_card")
    assert len(rows) == 14
    assert (rows[0].date, rows[0].description, rows[0].amount_cents) == (
        D(2024, 2, 27),
        "UBER *TRIP",
        -2347,
    )
    assert rows[1].description == "GITHUB, INC."
    payment = rows[2]
    assert (payment.description, payment.amount_cents) == ("Payment Thank You-Mobile", 150000)
    assert (rows[4].amount_cents, rows[4].memo) == (2999, "Returned monitor cable")
    last = rows[-1]
    assert (last.date, last.description, last.amount_cents, last.memo) == (
        D(2024, 2, 2),
        "COSTCO WHSE #0001",
        1200,
        "Price adjustment",
    )
    assert total(rows) == 2794


def test_bank_of_america_skips_summary_and_beginning_balance() -> None:
    statement, rows = load("boa_checking.csv")
    assert (statement.layout, statement.account_kind, statement.date_order) == (
        "boa_checking",
        "bank",
        "mdy",
    )
    assert statement.columns == ["Date", "Description", "Amount", "Running Bal."]
    assert len(rows) == 14
    assert not any("balance" in row.description.lower() for row in rows)
    first, last = rows[0], rows[-1]
    assert (first.line, first.date, first.amount_cents) == (9, D(2024, 3, 1), -125000)
    assert first.description.startswith("PAYPAL DES:TRANSFER ID:1234567890")
    assert (last.line, last.date, last.description, last.amount_cents) == (
        22,
        D(2024, 3, 29),
        "Monthly Maintenance Fee",
        -1200,
    )
    assert rows[1].amount_cents == 428715  # "4,287.15"
    assert rows[11].amount_cents == 1250000  # "12,500.00"
    opening, closing = 1234567, 2654869  # from the summary block
    assert opening + total(rows) == closing


def test_wells_fargo_without_header() -> None:
    statement, rows = load("wells_fargo.csv")
    assert (statement.layout, statement.account_kind, statement.date_order) == (
        "wells_fargo",
        "bank",
        "mdy",
    )
    assert statement.columns == [f"column {i}" for i in range(1, 6)]
    assert len(rows) == 12
    first, last = rows[0], rows[-1]
    assert (first.line, first.date, first.amount_cents) == (1, D(2024, 4, 30), -4512)
    assert first.description == (
        "PURCHASE AUTHORIZED ON 04/28 HOME DEPOT #4710 BOISE ID S384119012345678 CARD 1234"
    )
    assert (last.line, last.date, last.description, last.amount_cents) == (
        12,
        D(2024, 4, 3),
        "SHOPIFY TRANSFER ST-2H7K9 ACME LLC",
        145500,
    )
    assert (rows[3].description, rows[3].external_id, rows[3].amount_cents) == (
        "CHECK # 1057",
        "1057",
        -120000,
    )
    assert total(rows) == 292099


def test_amex_flips_sign_and_reads_quoted_newlines() -> None:
    statement, rows = load("amex.csv")
    assert (statement.layout, statement.account_kind) == ("amex", "credit_card")
    assert "Extended Details" in statement.columns
    assert len(rows) == 12
    first = rows[0]
    assert (first.line, first.date, first.description, first.amount_cents) == (
        4,
        D(2024, 5, 30),
        "DELTA AIR LINES ATLANTA",
        -51240,  # a charge: positive in the file, money out
    )
    assert first.memo == "0062345678901 DELTA AIR LINES From: ATL To: SEA Passenger: DOE/JANE"
    assert first.external_id == "320241510123456789"
    payment = rows[1]
    assert (payment.line, payment.description, payment.amount_cents) == (
        8,
        "AUTOPAY PAYMENT - THANK YOU",
        250000,  # "-2,500.00" in the file: a payment received
    )
    assert rows[5].amount_cents == 4599  # a return
    assert rows[9].description == 'HYPERLINK("http://evil.example")'  # formula lead stripped
    last = rows[-1]
    assert (last.date, last.description, last.amount_cents) == (
        D(2024, 5, 6),
        "MEMBERSHIP FEE",
        -69500,
    )
    assert total(rows) == 38877


def test_amex_basic_export_recognized_by_file_name(tmp_path: Path) -> None:
    text = (
        "Date,Description,Amount\n01/15/2024,STARBUCKS,5.25\n01/20/2024,PAYMENT RECEIVED,-100.00\n"
    )
    path = write(tmp_path, "upload.csv", text)
    statement = parse_statement(path, file_name="Amex_activity.csv")
    assert statement.layout == "amex"
    assert [row.amount_cents for row in statement.rows()] == [-525, 10000]


def test_capital_one_debit_and_credit_columns() -> None:
    statement, rows = load("capital_one.csv")
    assert (statement.layout, statement.account_kind, statement.date_order) == (
        "capital_one",
        "credit_card",
        "ymd",
    )
    assert len(rows) == 11
    assert (rows[0].date, rows[0].description, rows[0].amount_cents) == (
        D(2024, 6, 28),
        "GOOGLE *GSUITE_ACME",
        -1440,
    )
    assert (rows[2].description, rows[2].amount_cents) == ("CAPITAL ONE MOBILE PYMT", 85000)
    assert (rows[5].description, rows[5].amount_cents) == ("HOMEDEPOT.COM", 4999)
    assert (rows[-1].date, rows[-1].description, rows[-1].amount_cents) == (
        D(2024, 6, 3),
        "DROPBOX*1A2B3C4D5E6F",
        -1999,
    )
    assert total(rows) == 17117


def test_generic_european_semicolon_decimal_comma_day_first_latin1() -> None:
    statement, rows = load("generic_eu_latin1.csv")
    assert (statement.layout, statement.currency, statement.date_order) == ("generic", "EUR", "dmy")
    assert statement.columns == ["Buchungstag", "Verwendungszweck", "Betrag", "Währung"]
    assert len(rows) == 12
    assert (rows[0].date, rows[0].description, rows[0].amount_cents) == (
        D(2024, 1, 2),
        "Miete Büro Januar - Hausverwaltung Schäfer GmbH",
        -145000,
    )
    assert (rows[2].description, rows[2].amount_cents) == (
        "Überweisung Kunde Grün & Söhne, Rechnung 2023-118",
        1234560,  # "12.345,60"
    )
    assert rows[6].description == "Café Überfluß, Bewirtung"
    assert (rows[-1].date, rows[-1].description, rows[-1].amount_cents) == (
        D(2024, 1, 31),
        "Zinsen",
        12,
    )
    assert {row.currency for row in rows} == {"EUR"}
    assert total(rows) == 790557


def test_generic_with_bom_and_money_in_out_columns() -> None:
    statement, rows = load("generic_bom.csv")
    assert statement.layout == "generic" and statement.date_order == "ymd"
    assert statement.columns[0] == "Posted"  # no BOM left on the first name
    assert len(rows) == 10
    assert (rows[0].description, rows[0].amount_cents, rows[0].external_id) == (
        "Café Olé — catering",
        -18450,
        "TX-1001",
    )
    assert (rows[1].description, rows[1].amount_cents) == (
        "Client payment: Initech Inc. (INV-2024-031)",
        420000,
    )
    assert (rows[-1].date, rows[-1].description, rows[-1].amount_cents) == (
        D(2024, 7, 31),
        "Rent – July",
        -275000,
    )
    assert total(rows) == 459112


def test_generic_accounting_signs_parentheses_trailing_minus_cr_dr() -> None:
    statement, rows = load("generic_accounting.tsv")
    assert (statement.layout, statement.date_order) == ("generic", "mdy")
    assert [row.amount_cents for row in rows] == [
        500000,  # $5,000.00
        -12345,  # ($123.45)
        250000,  # +2,500.00
        -8710,  # 87.10-
        4500,  # 45.00 CR
        -31000,  # 310.00 DR
        -1899,  # -$18.99
        -9995,  # (99.95)
    ]
    assert rows[0].date == D(2024, 8, 1) and rows[-1].date == D(2024, 8, 27)
    assert rows[2].description == "Client retainer - Hooli"
    assert total(rows) == 690551


def test_ofx_v1_sgml_bank() -> None:
    statement, rows = load("bank_v1.ofx")
    assert (statement.layout, statement.account_kind, statement.currency) == ("ofx", "bank", "USD")
    assert statement.date_order == "ymd"
    assert {"TRNAMT", "DTPOSTED", "FITID", "NAME"} <= set(statement.columns)
    assert len(rows) == 10
    first = rows[0]
    assert (first.line, first.date, first.description, first.amount_cents) == (
        39,
        D(2024, 1, 2),
        "SAFEWAY #1234",
        -4217,
    )
    assert (first.external_id, first.memo) == ("202401020001", "POS PURCHASE SEATTLE WA")
    assert rows[3].description == "AT&T MOBILITY"
    assert rows[6].description == "CAFÉ DU MONDE à LA CARTE"  # CHARSET:1252
    assert (rows[2].description, rows[2].external_id) == ("CHECK 3301", "202401050003")
    assert (rows[-1].date, rows[-1].description, rows[-1].amount_cents) == (
        D(2024, 1, 31),
        "INTEREST PAYMENT",
        87,
    )
    assert total(rows) == 55244


def test_ofx_v2_xml_credit_card() -> None:
    statement, rows = load("card_v2.qfx")
    assert (statement.layout, statement.account_kind) == ("ofx", "credit_card")
    assert len(rows) == 10
    first = rows[0]
    assert (first.line, first.date, first.description, first.amount_cents, first.memo) == (
        22,
        D(2024, 3, 3),
        "SHELL OIL 12345678",
        -6412,  # a charge is negative in OFX
        "GAS",
    )
    assert (rows[2].description, rows[2].amount_cents) == ("PAYMENT - THANK YOU", 75000)
    assert rows[6].memo == "<Ride> to airport"
    assert (rows[-1].date, rows[-1].external_id, rows[-1].amount_cents) == (
        D(2024, 3, 28),
        "FT2024032810",
        -12075,
    )
    assert total(rows) == -123376


OFX_V1_CARD = """OFXHEADER:100
DATA:OFXSGML
VERSION:102

<OFX>
<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>1<CCSTMTRS><CURDEF>CAD
<BANKTRANLIST>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240105<TRNAMT>-25.00<FITID>A1<NAME>TIM HORTONS
<MEMO>Coffee</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20240110120000[-5:EST]<TRNAMT>100<FITID>A2
<NAME>PAYMENT
<CURRENCY><CURRATE>1.0<CURSYM>USD</CURRENCY>
</STMTTRN>
</BANKTRANLIST></CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1>
</OFX>
"""

OFX_V2_BANK = """<?xml version="1.0" encoding="UTF-8"?>
<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE"?>
<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR</CURDEF>
<BANKTRANLIST>
<STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20240301</DTPOSTED><TRNAMT>-10,50</TRNAMT>
<FITID>X1</FITID><PAYEE><NAME>Müller &amp; Co</NAME></PAYEE></STMTTRN>
<STMTTRN><TRNTYPE>CHECK</TRNTYPE><DTPOSTED>20240302</DTPOSTED><TRNAMT>-99.00</TRNAMT>
<CHECKNUM>1001</CHECKNUM><MEMO>Check 1001</MEMO></STMTTRN>
</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""


def test_ofx_v1_credit_card_and_v2_bank(tmp_path: Path) -> None:
    card = parse_statement(write(tmp_path, "card.ofx", OFX_V1_CARD))
    assert (card.account_kind, card.currency) == ("credit_card", "CAD")
    rows = list(card.rows())
    assert [(r.line, r.date, r.description, r.amount_cents, r.currency) for r in rows] == [
        (8, D(2024, 1, 5), "TIM HORTONS", -2500, "CAD"),
        (10, D(2024, 1, 10), "PAYMENT", 10000, "USD"),
    ]
    assert rows[0].memo == "Coffee" and rows[0].external_id == "A1"
    bank = parse_statement(write(tmp_path, "bank.qfx", OFX_V2_BANK))
    assert (bank.account_kind, bank.currency) == ("bank", "EUR")
    rows = list(bank.rows())
    assert [(r.description, r.amount_cents, r.external_id, r.memo) for r in rows] == [
        ("Müller & Co", -1050, "X1", None),
        ("Check 1001", -9900, "1001", None),
    ]


# --- malformed files ---------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    for content in (b"", b"\n\n \r\n", b"\xef\xbb\xbf"):
        with pytest.raises(StatementError, match="empty") as info:
            parse_statement(write(tmp_path, "empty.csv", content))
        assert info.value.errors == [RowError(0, "the file is empty")]


def test_binary_files(tmp_path: Path) -> None:
    with pytest.raises(StatementError, match="binary data"):
        parse_statement(write(tmp_path, "x.csv", bytes(range(256)) * 4))
    with pytest.raises(StatementError, match="Excel"):
        parse_statement(write(tmp_path, "x.csv", b"PK\x03\x04" + b"\x00" * 64))
    with pytest.raises(StatementError, match="not a CSV or OFX"):
        parse_statement(write(tmp_path, "x.csv", "Dear customer\nhello\nthanks\n"))


def test_bad_date_and_bad_amount_name_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.csv",
        "Date,Description,Amount\n2024-01-02,Coffee,-3.50\n2024-01-03,Tea,abc\n"
        "2024-02-30,Cake,-2.00\n2024-01-05,Ok,12.345\n2024-01-06,Ok,-1.00\n",
    )
    statement = parse_statement(path)
    rows = statement.rows()
    assert next(rows).description == "Coffee"
    with pytest.raises(StatementError) as info:
        list(rows)
    error = info.value
    assert error.error_count == 3
    assert [e.line for e in error.errors] == [3, 4, 5]
    assert error.errors[0].reason == "amount 'abc' is not a number (column 'Amount')"
    assert "date '2024-02-30' is not a valid date (column 'Date')" in error.errors[1].reason
    assert "more than 2 decimal places" in error.errors[2].reason
    assert str(error).startswith("bad.csv: 3 problems: line 3: amount 'abc' is not a number")


def test_trailing_zero_decimals_are_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path, "z.csv", "Date,Description,Amount\n2024-01-02,a,-12.340\n2024-01-03,b,1\n"
    )
    assert [row.amount_cents for row in parse_all(path)] == [-1234, 100]


def test_too_many_columns_fails_immediately(tmp_path: Path) -> None:
    header = ",".join(f"col{i}" for i in range(250))
    with pytest.raises(StatementError, match="line 1: record has 250 columns; at most 200"):
        parse_statement(write(tmp_path, "wide.csv", header + "\n" + header + "\n"))


def test_million_columns_on_one_line_fails_fast(tmp_path: Path) -> None:
    path = write(tmp_path, "huge.csv", "1," * 1_000_000 + "\n2024-01-01,x,1\n")
    with pytest.raises(StatementError, match="line 1: line is longer than"):
        parse_statement(path)


def test_overlong_line_later_in_file_is_a_row_error(tmp_path: Path) -> None:
    text = "Date,Description,Amount\n2024-01-02,a,-1\n" + "x" * 600_000 + "\n2024-01-03,b,2\n"
    statement = parse_statement(write(tmp_path, "long.csv", text))
    with pytest.raises(StatementError, match="line 3: line is longer than 262144"):
        list(statement.rows())


def test_nul_bytes(tmp_path: Path) -> None:
    with pytest.raises(StatementError, match="NUL byte"):
        parse_statement(
            write(tmp_path, "nul.csv", b"Date,Description,Amount\n2024-01-02,a\x00,-1\n")
        )
    rows = "".join(f"2024-01-{i % 28 + 1:02d},row {i},-1.00\n" for i in range(3000))
    content = ("Date,Description,Amount\n" + rows).encode() + b"2024-01-02,a\x00b,-1\n"
    statement = parse_statement(write(tmp_path, "late_nul.csv", content))
    with pytest.raises(StatementError, match="line 3002: line contains NUL bytes"):
        list(statement.rows())


def test_unclosed_quote_is_bounded(tmp_path: Path) -> None:
    text = 'Date,Description,Amount\n2024-01-02,"never closed,-1\n' + "2024-01-03,b,-2\n" * 500
    with pytest.raises(StatementError, match="line 2: a quoted field runs past 200 lines"):
        list(parse_statement(write(tmp_path, "quote.csv", text)).rows())


def test_mixed_date_formats_are_row_errors(tmp_path: Path) -> None:
    text = "Date,Description,Amount\n2024-01-02,a,-1\n01/15/2024,b,-2\n2024-01-04,c,-3\n"
    with pytest.raises(StatementError) as info:
        parse_all(write(tmp_path, "mixed.csv", text))
    assert info.value.errors == [
        RowError(
            3,
            "date '01/15/2024' does not match the file's date format (YYYY-MM-DD) (column 'Date')",
        )
    ]


def test_errors_are_capped_at_100_with_the_full_count(tmp_path: Path) -> None:
    good = "2024-01-02,fine,-1.00\n"
    text = "Date,Description,Amount\n" + good * 10 + "2024-01-02,bad,oops\n" * 250 + good
    statement = parse_statement(write(tmp_path, "many.csv", text))
    seen: list[ParsedTransaction] = []
    with pytest.raises(StatementError) as info:
        seen.extend(statement.rows())
    assert len(seen) == 11  # all good rows were streamed before the error at the end
    assert info.value.error_count == 250
    assert len(info.value.errors) == 100
    assert info.value.errors[0] == RowError(12, "amount 'oops' is not a number (column 'Amount')")
    assert "and 245 more" in str(info.value)


# --- ambiguity ----------------------------------------------------------------------------------


def test_unsigned_amount_is_ambiguous_until_mapped(tmp_path: Path) -> None:
    text = "Date,Memo,Value,Kind\n2024-01-02,Coffee,3.50,x\n2024-01-03,Refund,2.00,y\n"
    path = write(tmp_path, "amb.csv", text)
    with pytest.raises(AmbiguousStatement) as info:
        parse_statement(path)
    message = str(info.value)
    assert "cannot tell which column holds the amount or its sign" in message
    assert "columns seen: Date, Memo, Value, Kind. Provide a column mapping." in message
    assert info.value.columns == ["Date", "Memo", "Value", "Kind"]
    mapping = ColumnMapping(date="Date", description="Memo", amount="Value", sign="inverted")
    rows = parse_all(path, mapping=mapping)
    assert [(r.description, r.amount_cents) for r in rows] == [("Coffee", -350), ("Refund", -200)]
    mapping = ColumnMapping(date="date", description="memo", amount="VALUE")
    assert [r.amount_cents for r in parse_all(path, mapping=mapping)] == [350, 200]


def test_type_column_gives_the_sign(tmp_path: Path) -> None:
    text = "Date,Description,Amount,Type\n2024-01-02,Rent,900.00,DR\n2024-01-03,Sale,45.00,CR\n"
    rows = parse_all(write(tmp_path, "typed.csv", text))
    assert [row.amount_cents for row in rows] == [-90000, 4500]


def test_headerless_file_is_ambiguous_until_mapped(tmp_path: Path) -> None:
    path = write(tmp_path, "nohead.csv", "2024-01-02,Coffee,-3.50\n2024-01-03,Tea,2.00\n")
    with pytest.raises(AmbiguousStatement, match="columns seen: column 1, column 2, column 3"):
        parse_statement(path)
    mapping = ColumnMapping(date="column 1", description="column 2", amount="column 3")
    statement = parse_statement(path, mapping=mapping)
    assert statement.layout == "generic"
    assert [(r.line, r.amount_cents) for r in statement.rows()] == [(1, -350), (2, 200)]


def test_ambiguous_day_month_order(tmp_path: Path) -> None:
    text = "Date,Description,Amount\n01/02/2024,a,-1.00\n03/04/2024,b,-2.00\n"
    path = write(tmp_path, "dates.csv", text)
    with pytest.raises(AmbiguousStatement, match="dates in column 'Date' are day-first or month"):
        parse_statement(path)
    mapping = ColumnMapping(
        date="Date", description="Description", amount="Amount", date_order="dmy"
    )
    assert [row.date for row in parse_all(path, mapping=mapping)] == [D(2024, 2, 1), D(2024, 4, 3)]


def test_date_order_decided_per_file(tmp_path: Path) -> None:
    day_first = "Date,Description,Amount\n01/02/24,a,-1\n25/02/24,b,-2\n"
    month_first = "Date,Description,Amount\n01/02/24,a,-1\n02/25/24,b,-2\n"
    dotted = "Date;Description;Amount\n01.02.2024;a;-1\n13.02.2024;b;-2\n"
    assert [r.date for r in parse_all(write(tmp_path, "a.csv", day_first))] == [
        D(2024, 2, 1),
        D(2024, 2, 25),
    ]
    assert [r.date for r in parse_all(write(tmp_path, "b.csv", month_first))] == [
        D(2024, 1, 2),
        D(2024, 2, 25),
    ]
    assert parse_all(write(tmp_path, "c.csv", dotted))[0].date == D(2024, 2, 1)


def test_mapping_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ColumnMapping(date="d", description="x")
    with pytest.raises(ValueError):
        ColumnMapping(date="d", description="x", amount="a", debit="b", credit="c")
    path = write(tmp_path, "m.csv", "Date,Description,Amount\n2024-01-02,a,1\n")
    with pytest.raises(
        AmbiguousStatement,
        match="not in the file: 'X', 'Sum'; columns seen: Date, Description, Amount",
    ):
        parse_statement(path, mapping=ColumnMapping(date="Date", description="X", amount="Sum"))


# --- text handling ------------------------------------------------------------------------------


def test_formula_injection_is_defused(tmp_path: Path) -> None:
    text = (
        "Date,Description,Amount\n"
        "2024-01-02,\"=cmd|' /C calc'!A0\",-1\n2024-01-03,@SUM(A1:A9),-2\n2024-01-04,+-=x,3\n"
    )
    rows = parse_all(write(tmp_path, "f.csv", text))
    assert [row.description for row in rows] == ["cmd|' /C calc'!A0", "SUM(A1:A9)", "x"]


def test_description_cleaned_and_capped(tmp_path: Path) -> None:
    text = f'Date,Description,Amount\n2024-01-02,"  a \t b\n c {"z" * 900}",-1\n'
    (row,) = parse_all(write(tmp_path, "d.csv", text))
    assert row.description.startswith("a b c zzz") and len(row.description) == 500


def test_encodings_and_line_endings(tmp_path: Path) -> None:
    cr_only = "Date,Description,Amount\r2024-01-02,a,-1\r2024-01-03,b,2\r"
    assert [r.line for r in parse_all(write(tmp_path, "cr.csv", cr_only))] == [2, 3]
    utf16 = "Date\tDescription\tAmount\n2024-01-02\tCafé\t-1,50\n".encode("utf-16")
    (row,) = parse_all(write(tmp_path, "u16.csv", utf16))
    assert (row.description, row.amount_cents) == ("Café", -150)
    cp1252 = "Date;Description;Amount\n02.01.2024;Caf\xe9 \u20ac;-1,50\n13.01.2024;x;2\n"
    rows = parse_all(write(tmp_path, "w.csv", cp1252.encode("cp1252")))
    assert rows[0].description == "Café €"


def test_rows_is_a_fresh_iterator_each_time(tmp_path: Path) -> None:
    statement = parse_statement(BANKS / "capital_one.csv")
    rows = statement.rows()
    assert isinstance(rows, Iterator)
    assert len(list(statement.rows())) == len(list(rows)) == 11


def test_errors_pickle_and_missing_file(tmp_path: Path) -> None:
    error = AmbiguousStatement([RowError(3, "x")], 7, "f.csv", ["A", "B"])
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.errors, copy.error_count, copy.columns, str(copy)) == (
        error.errors,
        7,
        ["A", "B"],
        str(error),
    )
    with pytest.raises(StatementError, match="cannot read the file"):
        parse_statement(tmp_path / "missing.csv")


def test_ofx_problems(tmp_path: Path) -> None:
    with pytest.raises(StatementError, match="named like OFX but holds no OFX data"):
        parse_statement(write(tmp_path, "a.ofx", "Date,Amount\n"))
    truncated = OFX_V2_BANK[: OFX_V2_BANK.index("</BANKTRANLIST>")]
    with pytest.raises(StatementError, match=r"ends before </OFX> \(truncated\?\)"):
        parse_all(write(tmp_path, "t.ofx", truncated))
    bad = OFX_V1_CARD.replace("<TRNAMT>-25.00", "<TRNAMT>lots").replace("20240110", "2024x")
    with pytest.raises(StatementError) as info:
        parse_all(write(tmp_path, "b.ofx", bad))
    assert [str(e) for e in info.value.errors] == [
        "line 8: amount 'lots' is not a number",
        "line 10: date '2024x120000[-5:EST]' is not an OFX date (YYYYMMDD…)",
    ]


# --- streaming ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_streams_200k_rows_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("Date,Description,Amount,Reference\n")
        for i in range(200_000):
            sign = "-" if i % 3 else ""
            out.write(f'2024-{i % 12 + 1:02d}-{i % 28 + 1:02d},"MERCHANT {i} SEATTLE WA",')
            out.write(f"{sign}{i % 5000}.{i % 100:02d},REF{i}\n")
    tracemalloc.start()
    try:
        count = cents = 0
        for row in parse_statement(path).rows():
            count += 1
            cents += row.amount_cents
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = sum((-1 if i % 3 else 1) * ((i % 5000) * 100 + i % 100) for i in range(200_000))
    assert (count, cents) == (200_000, expected)
    assert peak < 20 * 1024 * 1024
