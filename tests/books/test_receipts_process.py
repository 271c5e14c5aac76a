"""The whole receipt path on both databases: OCR a generated receipt, store it, match it."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledgerflow.books.chart import add_bank_account, create_company
from ledgerflow.books.db import make_engine, make_sessionmaker, session_scope, upgrade
from ledgerflow.books.models import Receipt
from ledgerflow.books.queries import insert_transactions
from ledgerflow.books.receipts import (
    OcrText,
    ReceiptError,
    ReceiptFields,
    match_receipt,
    process_receipt,
    read_receipt,
)
from ledgerflow.books.receipts.samples import empty_pdf, jpeg, png, text_pdf
from ledgerflow.books.receipts.synth import Truth, make_receipt


@dataclass
class Row:
    date: dt.date
    description: str
    amount_cents: int
    currency: str = "USD"
    external_id: str | None = None
    memo: str | None = None


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def __call__(self, percent: float, message: str) -> None:
        self.calls.append((percent, message))


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(db_url)
    engine: Engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def generated() -> tuple[bytes, Truth]:
    """A retail receipt photo in dollars (light damage: noise, blur, small rotation, JPEG)."""
    for n in itertools.count(5):
        img, truth = make_receipt(random.Random(n), "receipt.jpg", "retail", strength=0.6)
        if truth.currency == "USD":
            return jpeg(img, quality=70), truth
    raise AssertionError("unreachable")


def seed(s: Session, rows: list[Row]) -> list[str]:
    create_company(s, "acme", "Acme")
    bank = add_bank_account(s, "acme", "Checking", "bank", "USD").id
    for i, row in enumerate(rows):
        row.external_id = row.external_id or f"fit-{i}"
    return insert_transactions(s, "acme", bank, rows)


def add_receipt(factory: sessionmaker[Session], path: Path, content_type: str) -> str:
    with session_scope(factory) as s:
        receipt = Receipt(company_id="acme", file_path=str(path), content_type=content_type)
        s.add(receipt)
        s.flush()
        return receipt.id


def test_generated_receipt_is_read_stored_and_matched(
    factory: sessionmaker[Session], generated: tuple[bytes, Truth], tmp_path: Path
) -> None:
    data, truth = generated
    day, total = dt.date.fromisoformat(truth.date), truth.total_cents
    with session_scope(factory) as s:
        ids = seed(
            s,
            [
                Row(day + dt.timedelta(days=2), f"POS DEBIT {truth.vendor.upper()} 0421", -total),
                Row(day, "NETFLIX.COM", -total - 1),
                Row(day + dt.timedelta(days=9), "SAME AMOUNT, TOO LATE", -total),
                Row(day, "A REFUND OF THE SAME AMOUNT", total),
            ],
        )
    path = tmp_path / "receipt.jpg"
    path.write_bytes(data)
    receipt_id = add_receipt(factory, path, "image/jpeg")
    progress = Progress()

    result = process_receipt(factory, "acme", receipt_id, progress)

    assert result["matched_transaction_id"] == ids[0]
    assert result["total_cents"] == truth.total_cents
    assert result["date"] == truth.date
    assert result["currency"] == "USD"
    assert result["vendor"].replace(" ", "").casefold() == truth.vendor.replace(" ", "").casefold()
    assert result["candidates"] == 1
    assert set(result["confidence"]) == {"vendor", "date", "subtotal", "tax", "total", "currency"}
    percents = [p for p, _ in progress.calls]
    assert percents == sorted(percents) and percents[0] == 0 and percents[-1] == 100
    for stage in (15, 30, 70, 85):
        assert stage in percents
    with session_scope(factory) as s:
        row = s.get(Receipt, receipt_id)
        assert row is not None
        assert row.status == "matched" and row.matched_transaction_id == ids[0]
        assert (row.subtotal_cents, row.tax_cents, row.total_cents) == (
            truth.subtotal_cents,
            truth.tax_cents,
            truth.total_cents,
        )
        assert row.date == day and row.raw_text and "TOTAL" in row.raw_text.upper()
        assert row.error is None
        assert row.field_confidences is not None and row.field_confidences["total"] > 0.8
        assert row.candidates is not None and row.candidates[0]["transaction_id"] == ids[0]


INVOICE = [
    "Blue Heron Cafe",
    "426 Market St",
    "Date: 2026-03-04 12:31",
    "Burger 12.00",
    "Subtotal $40.00",
    "Sales tax $3.50",
    "Total $43.50",
]


def test_ambiguous_candidates_are_listed_not_attached(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_scope(factory) as s:
        twins = seed(
            s,
            [
                Row(dt.date(2026, 3, 4), "BLUE HERON CAFE", -4350, external_id="a"),
                Row(dt.date(2026, 3, 4), "BLUE HERON CAFE", -4350, external_id="b"),
            ],
        )
    path = tmp_path / "invoice.pdf"
    path.write_bytes(text_pdf(INVOICE))  # born digital: its text layer is read, no OCR
    receipt_id = add_receipt(factory, path, "application/pdf")

    result = process_receipt(factory, "acme", receipt_id, Progress())

    assert result["matched_transaction_id"] is None
    assert result["candidates"] == 2
    assert result["total_cents"] == 4350 and result["vendor"] == "Blue Heron Cafe"
    with session_scope(factory) as s:
        row = s.get(Receipt, receipt_id)
        assert row is not None and row.status == "processed"
        assert row.candidates is not None
        assert sorted(c["transaction_id"] for c in row.candidates) == sorted(twins)
        assert row.candidates[0]["score"] == row.candidates[1]["score"]
        assert "amount exact" in row.candidates[0]["reasons"]


def fields(**kw: object) -> ReceiptFields:
    base: dict[str, object] = {
        "vendor": "Blue Heron Cafe",
        "date": dt.date(2026, 3, 4),
        "total_cents": 4350,
        "currency": "USD",
        "confidence": {"currency": 0.9},
    }
    return ReceiptFields(**(base | kw))  # type: ignore[arg-type]


def test_matching_rules(factory: sessionmaker[Session]) -> None:
    day = dt.date(2026, 3, 4)
    with session_scope(factory) as s:
        tip, late, other, exact_far = seed(
            s,
            [
                Row(day + dt.timedelta(days=1), "SQ *BLUE HERON CAFE", -5220),  # +20 % tip
                Row(day + dt.timedelta(days=6), "BLUE HERON CAFE", -4350),  # outside ±5 days
                Row(day, "SHELL OIL 5531", -4350),  # right amount and day, another vendor
                Row(day - dt.timedelta(days=4), "CHECKCARD BLUE HERON", -4350),
            ],
        )
    with session_scope(factory) as s:
        # A restaurant: the tip is allowed, and the exact amounts compete.
        result = match_receipt(s, "acme", fields(tip_likely=True))
        ranked = [c["transaction_id"] for c in result.candidates]
        assert late not in ranked and set(ranked) == {tip, other, exact_far}
        assert result.transaction_id is None  # three plausible rows: nobody is clearly best

        # Not a restaurant: no tip tolerance; the same-day exact amount wins on date.
        result = match_receipt(s, "acme", fields(vendor="Shell"))
        assert result.transaction_id == other
        assert tip not in [c["transaction_id"] for c in result.candidates]

        # No total: nothing to match.
        assert match_receipt(s, "acme", fields(total_cents=None)).candidates == []
        # Another company sees none of these.
        assert match_receipt(s, "other", fields()).candidates == []


def test_a_transaction_already_attached_is_not_offered_again(
    factory: sessionmaker[Session],
) -> None:
    with session_scope(factory) as s:
        (txn,) = seed(s, [Row(dt.date(2026, 3, 4), "BLUE HERON CAFE", -4350)])
        s.add(
            Receipt(
                company_id="acme",
                file_path="/x.jpg",
                content_type="image/jpeg",
                status="matched",
                matched_transaction_id=txn,
            )
        )
    with session_scope(factory) as s:
        assert match_receipt(s, "acme", fields()).candidates == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("corrupt.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF garbage", "not a readable JPEG, PNG or PDF"),
        ("empty.pdf", empty_pdf(), "The PDF has no pages"),
        ("blank.png", png(Image.new("L", (600, 800), 245)), "No text was found"),
    ],
    ids=["corrupt-jpeg", "empty-pdf", "blank-png"],
)
def test_unreadable_receipts_fail_with_a_clear_message(
    factory: sessionmaker[Session], tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    with session_scope(factory) as s:
        seed(s, [])
    path = tmp_path / name
    path.write_bytes(content)
    receipt_id = add_receipt(factory, path, "application/octet-stream")
    with pytest.raises(ReceiptError, match=message):
        process_receipt(factory, "acme", receipt_id, Progress())
    with session_scope(factory) as s:
        row = s.get(Receipt, receipt_id)
        assert row is not None and row.status == "failed"
        assert row.error is not None and message in row.error
        assert row.raw_text is None  # nothing was read


def test_missing_file_and_unknown_receipt(factory: sessionmaker[Session], tmp_path: Path) -> None:
    with session_scope(factory) as s:
        seed(s, [])
    receipt_id = add_receipt(factory, tmp_path / "gone.jpg", "image/jpeg")
    with pytest.raises(ReceiptError, match="no longer on the server"):
        process_receipt(factory, "acme", receipt_id, Progress())
    with pytest.raises(ReceiptError, match="not found"):
        process_receipt(factory, "other", receipt_id, Progress())


class FakeEngine:
    name = "fake"
    image_kind = "binary"

    def __init__(self) -> None:
        self.pages = 0

    def read(self, image: Image.Image) -> OcrText:
        assert image.mode == "L"
        self.pages += 1
        return OcrText(INVOICE, 0.9, [0.9] * len(INVOICE))


def test_a_blank_page_among_others_is_skipped_and_any_engine_plugs_in() -> None:
    img, _ = make_receipt(random.Random(8), "r", "gas", strength=0)
    blank = Image.new("RGB", img.size, "white")
    buf = io.BytesIO()
    blank.save(buf, "PDF", save_all=True, append_images=[img.convert("RGB")], resolution=150)
    engine, progress = FakeEngine(), Progress()

    got = read_receipt(buf.getvalue(), "application/pdf", progress, engine=engine)

    assert engine.pages == 1  # the blank page was not sent to OCR
    assert got.total_cents == 4350 and got.vendor == "Blue Heron Cafe"
    assert [p for p, _ in progress.calls] == [0, 15, 22.5, 30, 50, 70, 70]
    assert "Read page 2 of 2 (fake)" in [m for _, m in progress.calls]


def test_a_pdf_of_blank_pages_has_no_text() -> None:
    buf = io.BytesIO()
    blank = Image.new("RGB", (600, 800), "white")
    blank.save(buf, "PDF", save_all=True, append_images=[blank], resolution=100)
    with pytest.raises(ReceiptError, match="No text was found"):
        read_receipt(buf.getvalue(), "application/pdf", Progress(), engine=FakeEngine())
