"""OCR engines behind one small interface: ``engine.read(image) -> OcrText``.

- ``TesseractEngine``: Debian's Tesseract 5 through pytesseract; lines are rebuilt from
  ``image_to_data`` words, a line's confidence is the mean of its words' confidences.
- ``RapidOcrEngine``: PP-OCR models shipped inside the ``rapidocr-onnxruntime`` wheel (so it
  runs offline); it returns text boxes, which are grouped into lines by their vertical overlap
  (a receipt's label and its right-aligned amount are two boxes on one line).

``get_engine(name)``: ``name``, else the ``OCR_ENGINE`` environment variable, else
``DEFAULT_ENGINE`` — the more accurate of the two on ``bench/ocr.py``'s generated set.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
from PIL import Image

DEFAULT_ENGINE = "rapidocr"
ENGINES = ("tesseract", "rapidocr")


@dataclass
class OcrText:
    lines: list[str]
    confidence: float  # 0–1, mean over the characters read
    line_confidences: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class OcrEngine(Protocol):
    name: str
    image_kind: str  # which ``Prepared`` image it reads: "level", "gray" or "binary"

    def read(self, image: Image.Image) -> OcrText: ...


def _summary(lines: list[tuple[str, float]]) -> OcrText:
    kept = [(text, conf) for text, conf in lines if text.strip()]
    weight = sum(len(text) for text, _ in kept)
    mean = sum(len(text) * conf for text, conf in kept) / weight if weight else 0.0
    return OcrText([t for t, _ in kept], round(mean, 4), [round(c, 4) for _, c in kept])


class TesseractEngine:
    name = "tesseract"
    image_kind = "gray"  # its own binarization of the flattened page beats our Otsu (bench)
    config = "--oem 1 --psm 6"

    def __init__(self, lang: str = "eng") -> None:
        import pytesseract  # type: ignore[import-untyped]

        try:
            pytesseract.get_tesseract_version()
        except pytesseract.TesseractNotFoundError as exc:
            raise RuntimeError(
                "tesseract is not installed: run scripts/system-deps.sh (Debian tesseract-ocr)"
            ) from exc
        self._tess = pytesseract
        self.lang = lang
        # Tesseract's OpenMP threads fight each other (and the worker) on a small machine: one
        # thread per page is faster there. The subprocess inherits this; an explicit value wins.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")

    def read(self, image: Image.Image) -> OcrText:
        data: dict[str, list[Any]] = self._tess.image_to_data(
            image, lang=self.lang, config=self.config, output_type=self._tess.Output.DICT
        )
        lines: dict[tuple[int, int, int], list[tuple[str, float]]] = {}
        for i, word in enumerate(data["text"]):
            conf = float(data["conf"][i])
            if conf < 0 or not str(word).strip():
                continue
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, []).append((str(word), conf / 100))
        out = []
        for words in lines.values():
            text = " ".join(w for w, _ in words)
            conf = sum(len(w) * c for w, c in words) / max(1, sum(len(w) for w, _ in words))
            out.append((text, conf))
        return _summary(out)


class RapidOcrEngine:
    name = "rapidocr"
    image_kind = "level"  # its detector resizes by itself; upscaling first only costs time
    _model: ClassVar[Any] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or min(4, os.cpu_count() or 1)

    def _ocr(self) -> Any:
        with RapidOcrEngine._lock:
            if RapidOcrEngine._model is None:
                from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]

                RapidOcrEngine._model = RapidOCR(
                    intra_op_num_threads=self.threads, inter_op_num_threads=1
                )
            return RapidOcrEngine._model

    def read(self, image: Image.Image) -> OcrText:
        model = self._ocr()
        arr = np.asarray(image.convert("L"))
        with RapidOcrEngine._lock:  # an onnxruntime session is not meant for concurrent runs
            result, _ = model(arr)
        boxes = [(np.asarray(box, dtype=np.float64), str(text), float(score))
                 for box, text, score in (result or [])]  # fmt: skip
        return _summary(group_lines(boxes))


def group_lines(boxes: list[tuple[Any, str, float]]) -> list[tuple[str, float]]:
    """Boxes → lines: a box joins a line when their vertical spans overlap by half the smaller
    height; each line reads left to right."""
    items = []
    for pts, text, score in boxes:
        ys, xs = pts[:, 1], pts[:, 0]
        items.append((float(ys.min()), float(ys.max()), float(xs.min()), text, score))
    items.sort(key=lambda it: (it[0] + it[1]) / 2)
    rows: list[list[tuple[float, float, float, str, float]]] = []
    for item in items:
        top, bottom = item[0], item[1]
        for row in rows[-3:]:
            r_top = sum(i[0] for i in row) / len(row)
            r_bottom = sum(i[1] for i in row) / len(row)
            overlap = min(bottom, r_bottom) - max(top, r_top)
            if overlap >= 0.5 * min(bottom - top, r_bottom - r_top):
                row.append(item)
                break
        else:
            rows.append([item])
    out = []
    for row in rows:
        row.sort(key=lambda i: i[2])
        text = " ".join(i[3] for i in row)
        weight = sum(len(i[3]) for i in row) or 1
        out.append((text, sum(len(i[3]) * i[4] for i in row) / weight))
    return out


_engines: dict[str, OcrEngine] = {}
_engines_lock = threading.Lock()


def get_engine(name: str | None = None) -> OcrEngine:
    """An engine by name (``tesseract`` or ``rapidocr``); default from ``OCR_ENGINE``, then
    ``DEFAULT_ENGINE``. Engines are cached per process."""
    key = (name or os.environ.get("OCR_ENGINE") or DEFAULT_ENGINE).strip().lower()
    if key not in ENGINES:
        raise ValueError(f"unknown OCR engine {key!r}; choose one of {', '.join(ENGINES)}")
    with _engines_lock:
        if key not in _engines:
            _engines[key] = TesseractEngine() if key == "tesseract" else RapidOcrEngine()
        return _engines[key]
