"""Loading, preprocessing and both OCR engines on generated receipts."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image

from ledgerflow.books.receipts import (
    NoTextError,
    ReceiptError,
    extract_fields,
    get_engine,
    load_pages,
    preprocess,
)
from ledgerflow.books.receipts.ocr import ENGINES, group_lines
from ledgerflow.books.receipts.samples import empty_pdf, jpeg, text_pdf
from ledgerflow.books.receipts.synth import make_receipt


def test_corrupt_image_is_a_clear_error() -> None:
    with pytest.raises(ReceiptError, match="not a readable JPEG, PNG or PDF"):
        load_pages(b"\xff\xd8\xff\xe0 this is not really a jpeg")


def test_truncated_jpeg_is_a_clear_error() -> None:
    img, _ = make_receipt(random.Random(1), "r", "retail", strength=0)
    data = jpeg(img)
    with pytest.raises(ReceiptError, match="corrupt or truncated"):
        load_pages(data[: len(data) // 3])


def test_empty_file_and_unsupported_format() -> None:
    with pytest.raises(ReceiptError, match="empty"):
        load_pages(b"")
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), "white").save(buf, "GIF")
    with pytest.raises(ReceiptError, match="GIF images are not supported"):
        load_pages(buf.getvalue())


def test_empty_pdf_has_no_pages() -> None:
    with pytest.raises(ReceiptError, match="The PDF has no pages"):
        load_pages(empty_pdf())


def test_corrupt_pdf() -> None:
    with pytest.raises(ReceiptError, match="PDF could not be read"):
        load_pages(text_pdf(["ACME", "TOTAL 5.00"])[:200])


def test_pdf_pages_are_rasterized_and_keep_their_text_layer() -> None:
    pages = load_pages(text_pdf(["ACME HARDWARE", "Date: 2026-03-04", "TOTAL $12.34"]))
    assert len(pages) == 1
    assert pages[0].image.width > 1500  # 8.5 in at 250 dpi
    assert pages[0].text is not None and "TOTAL $12.34" in pages[0].text

    img, _ = make_receipt(random.Random(2), "r", "gas", strength=0)
    buf = io.BytesIO()
    img.save(buf, "PDF", resolution=150)
    scanned = load_pages(buf.getvalue())
    assert len(scanned) == 1 and scanned[0].text is None  # a scan: OCR it


def test_png_with_transparency_is_flattened_on_white() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(buf, "PNG")
    (page,) = load_pages(buf.getvalue())
    assert page.image.mode == "RGB" and page.image.getpixel((10, 10)) == (255, 255, 255)


@pytest.mark.parametrize("kind", ["white", "black", "noise", "gradient"])
def test_images_without_text_are_refused(kind: str) -> None:
    rng = np.random.default_rng(0)
    arr = {
        "white": np.full((800, 600), 250, np.uint8),
        "black": np.full((800, 600), 5, np.uint8),
        "noise": np.clip(rng.normal(235, 6, (800, 600)), 0, 255).astype(np.uint8),
        "gradient": np.tile(np.linspace(120, 250, 600), (800, 1)).astype(np.uint8),
    }[kind]
    with pytest.raises(NoTextError, match="No text was found"):
        preprocess(Image.fromarray(arr, "L"))


@pytest.mark.parametrize("angle", [-2.6, 1.4])
def test_deskew_levels_a_rotated_receipt(angle: float) -> None:
    img, _ = make_receipt(random.Random(3), "r", "retail", strength=0)
    rotated = img.convert("L").rotate(angle, expand=True, fillcolor=220)
    prepared = preprocess(rotated)
    assert prepared.angle == pytest.approx(-angle, abs=0.3)


def test_small_text_is_upscaled() -> None:
    img, _ = make_receipt(random.Random(4), "r", "retail", strength=0)
    small = img.resize((img.width // 2, img.height // 2))
    prepared = preprocess(small)
    assert prepared.scale > 1.5
    assert prepared.gray.size == prepared.binary.size
    assert prepared.binary.getextrema() == (0, 255)


def test_rapidocr_boxes_are_grouped_into_lines() -> None:
    def box(x: float, y: float, w: float, h: float) -> np.ndarray:
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=float)

    boxes = [
        (box(400, 102, 80, 20), "$9.96", 0.9),
        (box(10, 100, 120, 22), "SALES TAX", 0.8),
        (box(10, 140, 90, 22), "TOTAL", 1.0),
        (box(400, 141, 90, 22), "$123.81", 1.0),
    ]
    assert [text for text, _ in group_lines(boxes)] == ["SALES TAX $9.96", "TOTAL $123.81"]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_engine_reads_a_clean_generated_receipt(engine_name: str) -> None:
    img, truth = make_receipt(random.Random(11), "r", "restaurant", strength=0)
    engine = get_engine(engine_name)
    prepared = preprocess(load_pages(jpeg(img))[0].image)
    text = engine.read(prepared.pick(engine.image_kind))
    assert text.lines and 0.5 < text.confidence <= 1.0
    assert len(text.line_confidences) == len(text.lines)
    got = extract_fields(text.lines, text.line_confidences, default_currency=truth.currency)
    assert got.total_cents == truth.total_cents
    assert got.date is not None and got.date.isoformat() == truth.date
    assert got.vendor is not None
    assert got.vendor.replace(" ", "").casefold() == truth.vendor.replace(" ", "").casefold()


def test_unknown_engine_name() -> None:
    with pytest.raises(ValueError, match="unknown OCR engine"):
        get_engine("abbyy")


def test_ocr_engine_env_selects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCR_ENGINE", "tesseract")
    assert get_engine().name == "tesseract"
    monkeypatch.setenv("OCR_ENGINE", "rapidocr")
    assert get_engine().name == "rapidocr"
