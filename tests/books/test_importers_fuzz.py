"""Hostile input for the statement importers: only StatementError may ever come out."""

from __future__ import annotations

import datetime
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerflow.books.importers import (
    ColumnMapping,
    ParsedTransaction,
    StatementError,
    parse_statement,
)

BANKS = Path(__file__).resolve().parents[1] / "data" / "banks"
SAMPLES = sorted(path.read_bytes() for path in BANKS.iterdir() if path.is_file())
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_CURRENCY = re.compile(r"[A-Z]{3}")


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="importer-fuzz-") as folder:
        yield Path(folder)


def check(
    folder: Path, content: bytes, name: str = "upload.csv", mapping: ColumnMapping | None = None
) -> None:
    """Parse fully; only StatementError is allowed, and every row must be well formed."""
    path = folder / "input.bin"
    path.write_bytes(content)
    try:
        statement = parse_statement(path, file_name=name, mapping=mapping)
        rows = list(statement.rows())
    except StatementError as error:
        assert str(error)
        assert error.error_count >= len(error.errors) >= 1
        assert len(error.errors) <= 100
        return
    assert statement.layout in {
        "chase_checking", "chase_card", "boa_checking", "wells_fargo", "amex", "capital_one",
        "generic", "ofx",
    }  # fmt: skip
    for row in rows:
        assert_row(row)


def assert_row(row: ParsedTransaction) -> None:
    assert isinstance(row.amount_cents, int) and row.line >= 1
    assert len(row.description) <= 500
    assert not row.description.startswith(("=", "+", "-", "@", " "))
    assert _CURRENCY.fullmatch(row.currency)
    assert 1900 <= row.date.year <= 2199


CELLS = st.one_of(
    st.sampled_from(
        [
            "2024-01-02", "01/13/2024", "13/01/2024", "1/2/24", "31.12.2023", "20240105",
            "Jan 5, 2024", "2024-02-30", "-12.34", "(1,234.56)", "12.34-", "+5", "1.234,56",
            "45.00 CR", "$-3", "abc", "", " ", "=cmd|' /C calc'!A0", '"', '""', "\n", "\r\n",
            "Date", "Description", "Amount", "Debit", "Credit", "Type", "DR", "CR", "*",
            "Beginning balance as of 01/01/2024", "Transaction Date", "Posted Date", "Card No.",
            "Running Bal.", "Card Member", "Extended Details", "9" * 40, "\x00", "\ufeff", "é",
        ]
    ),
    st.text(max_size=30),
)  # fmt: skip


@st.composite
def csv_documents(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 8))
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=width), min_size=0, max_size=25))
    quote = draw(st.booleans())
    lines = []
    for row in rows:
        cells = [f'"{cell}"' if quote and draw(st.booleans()) else cell for cell in row]
        lines.append(delimiter.join(cells))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace")


HEADERS = [
    ["Date", "Description", "Amount"],
    ["Transaction Date", "Post Date", "Description", "Category", "Type", "Amount", "Memo"],
    ["Details", "Posting Date", "Description", "Amount", "Type", "Balance", "Check or Slip #"],
    ["Transaction Date", "Posted Date", "Card No.", "Description", "Category", "Debit", "Credit"],
    ["Date", "Description", "Card Member", "Account #", "Amount", "Extended Details", "Reference"],
    ["Date", "Description", "Amount", "Running Bal."],
    ["Posted", "Payee", "Money In", "Money Out", "Currency"],
    ["Date", "Narrative", "Amount", "Type"],
]
DATES = st.one_of(
    st.dates(min_value=datetime.date(1990, 1, 1)).map(str),
    st.dates().map(lambda d: d.strftime("%m/%d/%Y")),
    st.dates().map(lambda d: d.strftime("%d.%m.%y")),
)
AMOUNTS = st.one_of(
    st.decimals(min_value=-(10**9), max_value=10**9, places=2).map(str),
    st.integers(-(10**6), 10**6).map(lambda c: f"({abs(c) / 100:,.2f})" if c < 0 else f"{c}"),
    st.sampled_from(["", "1.234,50", "12.5 DR", "$1,000.00", "1e3", "NaN", "Infinity", "-"]),
)
TEXTS = st.one_of(
    st.sampled_from(["STARBUCKS #123", "AMAZON.COM*RT4K2", "Payment, thank you", "Café", "=1+2"]),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20),
)


@st.composite
def realistic_csv(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from(HEADERS))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    lines = [delimiter.join(header)]
    for _ in range(draw(st.integers(0, 30))):
        cells = []
        for name in header:
            lowered = name.lower()
            pool = DATES if "date" in lowered or lowered == "posted" else TEXTS
            if lowered in ("amount", "debit", "credit", "money in", "money out", "balance"):
                pool = AMOUNTS
            cell = draw(CELLS) if draw(st.integers(0, 19)) == 0 else draw(pool)
            if delimiter in cell or '"' in cell or "\n" in cell:
                cell = '"' + cell.replace('"', '""') + '"'
            cells.append(cell)
        lines.append(delimiter.join(cells))
    return ("\n".join(lines) + "\n").encode(draw(st.sampled_from(["utf-8", "cp1252"])), "replace")


@FUZZ
@given(content=realistic_csv())
def test_realistic_csv(scratch: Path, content: bytes) -> None:
    check(scratch, content)


@FUZZ
@given(content=st.binary(max_size=4096), name=st.sampled_from(["a.csv", "a.ofx", "a.qfx", "a"]))
def test_random_bytes(scratch: Path, content: bytes, name: str) -> None:
    check(scratch, content, name)


@FUZZ
@given(content=csv_documents())
def test_generated_csv(scratch: Path, content: bytes) -> None:
    check(scratch, content)


@FUZZ
@given(
    content=csv_documents(),
    mapping=st.sampled_from(
        [
            ColumnMapping(date="column 1", description="column 2", amount="column 3"),
            ColumnMapping(date="Date", description="Description", amount="Amount", sign="inverted"),
            ColumnMapping(date="Date", description="Type", debit="Debit", credit="Credit"),
            ColumnMapping(
                date="column 2", description="column 9", amount="column 1", date_order="dmy"
            ),
        ]
    ),
)
def test_generated_csv_with_mapping(scratch: Path, content: bytes, mapping: ColumnMapping) -> None:
    check(scratch, content, mapping=mapping)


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        chunk = draw(st.binary(min_size=1, max_size=16))
        if action == "insert":
            data[position:position] = chunk
        elif action == "delete":
            del data[position : position + len(chunk)]
        elif action == "replace":
            data[position : position + len(chunk)] = chunk
        else:
            data[position:position] = data[position : position + 200]
    return bytes(data)


@FUZZ
@given(content=mutated_samples(), name=st.sampled_from(["statement.csv", "statement.ofx"]))
def test_mutated_sample_files(scratch: Path, content: bytes, name: str) -> None:
    check(scratch, content, name)


OFX_PIECES = st.sampled_from(
    [
        "OFXHEADER:100\n", "DATA:OFXSGML\n", "CHARSET:1252\n", '<?xml version="1.0"?>', "<OFX>",
        "</OFX>", "<STMTRS>", "</STMTRS>", "<CCSTMTRS>", "<BANKTRANLIST>", "</BANKTRANLIST>",
        "<STMTTRN>", "</STMTTRN>", "<TRNTYPE>DEBIT", "<DTPOSTED>20240105", "<DTPOSTED>2024",
        "<DTPOSTED>20241399", "<DTPOSTED>20240105120000.000[-5:EST]", "<TRNAMT>-12.34",
        "<TRNAMT>1,5", "<TRNAMT>x", "<TRNAMT>", "<FITID>123", "<NAME>A&amp;B", "<NAME>",
        "</NAME>", "<MEMO>=1+1", "<CURDEF>EUR", "<CURDEF>euro", "<CURRENCY>", "<CURSYM>GBP",
        "</CURRENCY>", "<", ">", "<!-- c -->", "<?x?>", "\n", "\x00", "<" + "A" * 2000,
        "<TRNAMT>" + "9" * 100,
    ]
)  # fmt: skip


@FUZZ
@given(pieces=st.lists(st.one_of(OFX_PIECES, st.text(max_size=12)), max_size=60))
def test_generated_ofx(scratch: Path, pieces: list[str]) -> None:
    check(scratch, "".join(pieces).encode("utf-8", errors="replace"), "upload.ofx")
