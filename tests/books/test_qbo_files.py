"""Exporting journal entries as IIF (QuickBooks Desktop) and QBO journal CSV, parsed back."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from test_qbo_export import seed

from ledgerflow.books.chart import account_by_name, add_account
from ledgerflow.books.db import make_engine, make_sessionmaker, session_scope, upgrade
from ledgerflow.books.journal import post_entries
from ledgerflow.books.models import Account, BankAccount, JournalEntry, QboExport, Transaction
from ledgerflow.books.qbo import export_journal_entries
from ledgerflow.books.qbo.export import doc_number
from ledgerflow.books.qbo.files import CSV_COLUMNS, neutralize

MEMOS = [
    '=HYPERLINK("http://evil.test","click")',
    "+1 555 0100 refund",
    "-5 adjustment",
    "@SUM(A1:A9)",
    'tab\there, "quoted"\nnewline',
    "Café Ünïcode ☕",
]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    sessions = make_sessionmaker(engine)
    seed(sessions, 40, memos=MEMOS)
    return sessions


def export(factory: sessionmaker[Session], mode: str, out: Path, **kw: Any) -> dict[str, Any]:
    progress: list[tuple[float, str]] = []
    result = export_journal_entries(
        factory,
        "acme",
        mode=mode,  # type: ignore[arg-type]
        progress=lambda p, m: progress.append((p, m)),
        out_dir=out,
        **kw,
    )
    assert progress[-1][0] == 100
    return result


def add_entry(factory: sessionmaker[Session], account_name: str, cents: int) -> str:
    """One more posted entry, categorized to ``account_name`` (created if missing)."""
    with session_scope(factory) as s:
        account = account_by_name(s, "acme", account_name) or add_account(
            s, "acme", account_name, "Expense", "OtherMiscellaneousServiceCost"
        )
        bank = s.scalars(select(BankAccount)).one()
        txn = Transaction(
            company_id="acme",
            bank_account_id=bank.id,
            date=dt.date(2024, 6, 1),
            description="extra",
            amount_cents=cents,
            currency="USD",
            fingerprint=f"extra-{account_name}",
            account_id=account.id,
            status="approved",
        )
        s.add(txn)
        s.flush()
        return post_entries(s, [txn], status="posted").entry_ids[0]


def chart(factory: sessionmaker[Session]) -> set[str]:
    with factory() as s:
        return set(s.scalars(select(Account.name)))


def parse_iif(path: Path) -> list[list[dict[str, str]]]:
    raw = path.read_bytes()
    text = raw.decode("cp1252")
    assert "\n" not in text.replace("\r\n", "")  # CRLF only
    rows = [line.split("\t") for line in text.split("\r\n")]
    assert rows[-1] == [""]
    assert rows[0][0] == "!TRNS" and rows[1][0] == "!SPL" and rows[2] == ["!ENDTRNS"]
    trns_cols, spl_cols = rows[0][1:], rows[1][1:]
    assert trns_cols == ["TRNSID", "TRNSTYPE", "DATE", "ACCNT", "AMOUNT", "DOCNUM", "MEMO"]
    assert spl_cols == ["SPLID", *trns_cols[1:]]
    entries: list[list[dict[str, str]]] = []
    current: list[dict[str, str]] | None = None
    for row in rows[3:-1]:
        if row[0] == "TRNS":
            assert current is None
            current = [dict(zip(trns_cols, row[1:], strict=True))]
        elif row[0] == "SPL":
            assert current is not None
            current.append(dict(zip(spl_cols, row[1:], strict=True)))
        else:
            assert row == ["ENDTRNS"] and current is not None
            entries.append(current)
            current = None
    assert current is None
    return entries


def test_iif_file_balances_and_uses_exact_account_names(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    result = export(factory, "iif", tmp_path / "out")
    assert result["exported"] == 40 and result["failed"] == [] and result["skipped"] == 0
    path = Path(result["file_path"])
    assert path.parent == tmp_path / "out" and path.suffix == ".iif"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    entries = parse_iif(path)
    assert len(entries) == 40
    names = chart(factory)
    with factory() as s:
        ours = {
            doc_number(e.id): e
            for e in s.scalars(select(JournalEntry).where(JournalEntry.status == "posted"))
        }
    for lines in entries:
        assert sum(Decimal(line["AMOUNT"]) for line in lines) == 0
        assert {line["TRNSTYPE"] for line in lines} == {"GENERAL JOURNAL"}
        assert all(line["ACCNT"] in names for line in lines)
        assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", line["DATE"]) for line in lines)
        entry = ours[lines[0]["DOCNUM"]]
        assert lines[0]["DATE"] == entry.date.strftime("%m/%d/%Y")
        debits = sum(Decimal(li["AMOUNT"]) for li in lines if Decimal(li["AMOUNT"]) > 0)
        assert debits * 100 == entry.total_debit_cents
    dates = [dt.datetime.strptime(e[0]["DATE"], "%m/%d/%Y") for e in entries]
    assert dates == sorted(dates)
    memos = {line["MEMO"] for lines in entries for line in lines}
    assert "tab here, 'quoted' newline" in memos and "Café Ünïcode ?" in memos
    # Marked exported (no QuickBooks id), the file named; a second export writes nothing.
    with factory() as s:
        rows = s.scalars(select(QboExport)).all()
        assert len(rows) == 40 and {(r.mode, r.ref) for r in rows} == {("iif", path.name)}
        posted = s.scalars(select(JournalEntry).where(JournalEntry.status == "posted")).all()
        assert all(e.exported_at is not None and e.qbo_id is None for e in posted)
        assert {
            t.status
            for t in s.scalars(select(Transaction))
            if t.id in {e.transaction_id for e in posted}
        } == {"exported"}
    assert export(factory, "iif", tmp_path / "out") == {"exported": 0, "skipped": 40, "failed": []}
    assert export(factory, "csv", tmp_path / "out")["skipped"] == 40
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_csv_file_columns_balance_and_formula_neutralization(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    result = export(factory, "csv", tmp_path, since=None)
    assert result["exported"] == 40 and result["failed"] == []
    path = Path(result["file_path"])
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        groups[row["JournalNo"]].append(row)
    assert len(groups) == 40
    names = chart(factory)
    for lines in groups.values():
        debits = sum(Decimal(r["Debits"]) for r in lines if r["Debits"])
        credits = sum(Decimal(r["Credits"]) for r in lines if r["Credits"])
        assert debits == credits > 0
        assert all(bool(r["Debits"]) != bool(r["Credits"]) for r in lines)
        assert all(r["AccountName"] in names for r in lines)
        assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", r["JournalDate"]) for r in lines)
        assert len({r["JournalDate"] for r in lines}) == 1 and all(not r["Name"] for r in lines)
    descriptions = {r["Description"] for r in rows}
    for memo in MEMOS[:4]:
        assert "'" + memo in descriptions and memo not in descriptions
    assert MEMOS[4] in descriptions and MEMOS[5] in descriptions  # quoted by csv, not altered
    assert all(not d.startswith(("=", "+", "-", "@")) for d in descriptions)
    assert all(len(j) <= 21 for j in groups)


def test_account_names_a_file_cannot_carry_fail_their_entry(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    formula = add_entry(factory, "-Misc", -5_00)
    foreign = add_entry(factory, "Repas 東京", -7_00)
    iif = export(factory, "iif", tmp_path / "iif")
    assert iif["exported"] == 41 and [f["entry_id"] for f in iif["failed"]] == [foreign]
    assert "Windows-1252" in iif["failed"][0]["reason"]
    assert "-Misc" in {line["ACCNT"] for e in parse_iif(Path(iif["file_path"])) for line in e}
    with factory() as s:
        assert s.get(QboExport, foreign) is None and s.get(QboExport, formula) is not None
    csv_result = export(factory, "csv", tmp_path / "csv")
    assert csv_result == {
        "exported": 1,
        "skipped": 41,
        "failed": [],
        "file_path": csv_result["file_path"],
    }
    add_entry(factory, "=Bad", -1_00)
    again = export(factory, "csv", tmp_path / "csv2")
    assert again["exported"] == 0 and "formula" in again["failed"][0]["reason"]
    assert "file_path" not in again and not any((tmp_path / "csv2").iterdir())


def test_neutralize() -> None:
    assert neutralize("=1+1") == "'=1+1" and neutralize("\tx") == "'\tx"
    assert neutralize("plain") == "plain" and neutralize("") == ""
