"""Receipts: load (JPEG, PNG, PDF) → preprocess → OCR → extract fields → match a transaction.

See ``docs/ocr.md`` for the engines, the heuristics, the generated benchmark set and its numbers.
"""

from __future__ import annotations

from .errors import NoTextError, ReceiptError
from .extract import ReceiptFields, extract_fields
from .images import Page, Prepared, load_pages, preprocess
from .match import MatchResult, match_receipt
from .ocr import DEFAULT_ENGINE, OcrEngine, OcrText, RapidOcrEngine, TesseractEngine, get_engine
from .process import process_receipt, read_receipt

__all__ = [
    "DEFAULT_ENGINE",
    "MatchResult",
    "NoTextError",
    "OcrEngine",
    "OcrText",
    "Page",
    "Prepared",
    "RapidOcrEngine",
    "ReceiptError",
    "ReceiptFields",
    "TesseractEngine",
    "extract_fields",
    "get_engine",
    "load_pages",
    "match_receipt",
    "preprocess",
    "process_receipt",
    "read_receipt",
]
