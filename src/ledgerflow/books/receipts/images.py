"""Load a receipt (JPEG, PNG or PDF) and prepare it for OCR.

``load_pages`` turns the upload into page images (PDF pages rasterized with pypdfium2 at
``PDF_DPI``; a PDF page that carries its own text layer keeps that text too, it beats OCR).
``preprocess`` then, with numpy and PIL only: grayscale → even out the lighting (divide by a
smoothed max-filter estimate of the paper) → refuse a page without text → deskew (projection
profile: the angle whose row histogram of ink is sharpest) → upscale when the text is small →
Otsu threshold. Problems a user can fix raise ``ReceiptError`` with a message for them.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from .errors import NoTextError, ReceiptError

PDF_DPI = 250
MAX_PAGES = 10
MAX_PIXELS = 80_000_000  # a 48 MP phone photo is fine; a decompression bomb is not
MAX_SIDE = 4000  # larger photos are scaled down first: OCR gains nothing above this
TARGET_LINE_PX = 32  # cap height of a text line after upscaling
MAX_UPSCALE = 3.0
MAX_SKEW = 6.0  # degrees searched either side
IMAGE_FORMATS = {"JPEG", "PNG", "MPO"}  # MPO: the JPEG variant some phones write

NO_TEXT = "No text was found in the receipt: upload a sharper, well-lit photo or the original PDF."
Gray = npt.NDArray[np.float32]


@dataclass
class Page:
    image: Image.Image
    text: str | None = None  # a PDF page's own text layer, when it has one


@dataclass
class Prepared:
    """A page ready for OCR: ``level`` (flattened and deskewed), ``gray`` (``level`` upscaled
    when its text is small) and ``binary`` (``gray`` thresholded)."""

    level: Image.Image
    gray: Image.Image
    binary: Image.Image
    angle: float  # degrees the page was rotated to level it
    scale: float  # upscale factor from ``level`` to ``gray``

    def pick(self, kind: str) -> Image.Image:
        """The image an engine asks for: ``level``, ``gray`` or ``binary``."""
        return {"level": self.level, "gray": self.gray, "binary": self.binary}[kind]


def load_pages(source: bytes | Path, content_type: str | None = None) -> list[Page]:
    """The pages of an upload; the file's magic bytes decide its kind, not ``content_type``."""
    data = source.read_bytes() if isinstance(source, Path) else source
    if not data:
        raise ReceiptError("The uploaded file is empty.")
    if data[:1024].lstrip().startswith(b"%PDF") or b"%PDF-" in data[:1024]:
        return _load_pdf(data)
    return [Page(_load_image(data, content_type))]


def _load_image(data: bytes, content_type: str | None) -> Image.Image:
    unreadable = "The file is not a readable JPEG, PNG or PDF (it may be corrupt or truncated)."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ReceiptError("The image is too large to process.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ReceiptError(unreadable) from exc
    if img.format not in IMAGE_FORMATS:
        kind = f"{img.format} images are" if img.format else "This kind of file is"
        raise ReceiptError(f"{kind} not supported: upload a JPEG, PNG or PDF.")
    if img.width * img.height > MAX_PIXELS:
        raise ReceiptError(_too_large(img.width, img.height))
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ReceiptError(unreadable) from exc
    img = ImageOps.exif_transpose(img) or img  # phone photos lie sideways without this
    if img.mode in {"RGBA", "LA", "P", "PA"}:
        rgba = img.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(flat, rgba)
    return img.convert("RGB")


def _too_large(width: int, height: int) -> str:
    return f"The image is too large ({width}×{height} pixels); upload at most 80 megapixels."


def _load_pdf(data: bytes) -> list[Page]:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if _looks_empty(data):
            raise ReceiptError("The PDF has no pages.") from exc
        if b"/Encrypt" in data:
            raise ReceiptError("The PDF is password-protected; upload an unlocked copy.") from exc
        raise ReceiptError("The PDF could not be read (it may be corrupt or truncated).") from exc
    try:
        if len(pdf) == 0:
            raise ReceiptError("The PDF has no pages.")
        if len(pdf) > MAX_PAGES:
            raise ReceiptError(
                f"The PDF has {len(pdf)} pages; a receipt may have at most {MAX_PAGES}."
            )
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            width, height = page.get_size()
            scale = PDF_DPI / 72
            if width * height * scale * scale > MAX_PIXELS:
                scale = (MAX_PIXELS / (width * height)) ** 0.5
            try:
                image = page.render(scale=scale, grayscale=True).to_pil()
                text = page.get_textpage().get_text_range()
            except pdfium.PdfiumError as exc:
                raise ReceiptError(f"Page {index + 1} of the PDF could not be rendered.") from exc
            pages.append(Page(image.convert("RGB"), text if _has_text(text) else None))
        return pages
    finally:
        pdf.close()


def _looks_empty(data: bytes) -> bool:
    return bool(re.search(rb"/Count\s+0\b", data)) and not re.search(rb"/Type\s*/Page\b", data)


def _has_text(text: str) -> bool:
    return sum(ch.isalnum() for ch in text) >= 10


def preprocess(image: Image.Image) -> Prepared:
    """Grayscale, even lighting, deskew, upscale small text, threshold; refuses a blank page."""
    gray = ImageOps.grayscale(image)
    if max(gray.size) > MAX_SIDE:
        factor = MAX_SIDE / max(gray.size)
        size = (max(1, round(gray.width * factor)), max(1, round(gray.height * factor)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    if min(gray.size) < 16:
        raise ReceiptError("The image is too small to contain a readable receipt.")
    flat = flatten(gray)
    threshold = otsu(flat)
    if not has_ink(flat, threshold):
        raise NoTextError(NO_TEXT)
    angle = estimate_skew(flat < threshold)
    level = _to_image(flat)
    if abs(angle) >= 0.2:
        level = level.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    arr = np.asarray(level, dtype=np.float32)
    line = line_height(arr < threshold)
    unscaled = level
    scale = 1.0
    if line and line < TARGET_LINE_PX * 0.75:
        scale = min(MAX_UPSCALE, TARGET_LINE_PX / line)
        if max(level.size) * scale > MAX_SIDE * 1.5:
            scale = max(1.0, MAX_SIDE * 1.5 / max(level.size))
    if scale > 1.05:
        size = (round(level.width * scale), round(level.height * scale))
        level = level.resize(size, Image.Resampling.BICUBIC)
        arr = np.asarray(level, dtype=np.float32)
    binary = _to_image(np.where(arr < otsu(arr), 0.0, 255.0).astype(np.float32))
    return Prepared(level=unscaled, gray=level, binary=binary, angle=angle, scale=scale)


def flatten(gray: Image.Image) -> Gray:
    """Divide by the paper's brightness (a blurred max filter at ¼ size): shadows and
    gradients go, ink stays dark; the result is 0–255 with paper ≈ 255."""
    small = gray.reduce(4) if min(gray.size) >= 64 else gray
    paper = small.filter(ImageFilter.MaxFilter(9)).filter(ImageFilter.GaussianBlur(4))
    paper = paper.resize(gray.size, Image.Resampling.BILINEAR)
    arr = np.asarray(gray, dtype=np.float32)
    bg = np.maximum(np.asarray(paper, dtype=np.float32), 1.0)
    return np.clip(arr / bg * 255.0, 0.0, 255.0).astype(np.float32)


def otsu(arr: Gray) -> float:
    """Otsu's threshold of a 0–255 image (maximizes the between-class variance)."""
    hist = np.bincount(np.clip(arr, 0, 255).astype(np.uint8).ravel(), minlength=256)
    hist = hist.astype(np.float64)
    total = hist.sum()
    levels = np.arange(256, dtype=np.float64)
    weight = np.cumsum(hist)
    mass = np.cumsum(hist * levels)
    w0, w1 = weight, total - weight
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mass[-1] * w0 / total - mass) ** 2 / (w0 * w1 / total)
    between = np.nan_to_num(between)
    return float(np.argmax(between)) + 0.5


def has_ink(flat: Gray, threshold: float) -> bool:
    """Is there anything like print: a dark class well apart from the paper, neither absent
    nor covering the page?"""
    dark = flat < threshold
    share = float(dark.mean())
    if share < 0.0005 or share > 0.6:
        return False
    contrast = float(flat[~dark].mean()) - float(flat[dark].mean())
    return contrast >= 60.0


def estimate_skew(ink: npt.NDArray[np.bool_]) -> float:
    """Degrees to rotate (counter-clockwise, as PIL does) so that text lines become level."""
    factor = max(1, max(ink.shape) // 900)
    small = ink[::factor, ::factor]
    ys, xs = np.nonzero(small)
    if len(ys) < 50:
        return 0.0
    if len(ys) > 150_000:
        pick = np.random.default_rng(0).choice(len(ys), 150_000, replace=False)
        ys, xs = ys[pick], xs[pick]
    yf, xf = ys.astype(np.float64), xs.astype(np.float64) - small.shape[1] / 2

    def sharpness(deg: float) -> float:
        t = np.tan(np.radians(deg))
        rows = np.round(yf - xf * t).astype(np.int64)
        hist = np.bincount(rows - rows.min())
        return float(np.sum(np.diff(hist.astype(np.float64)) ** 2))

    coarse = np.arange(-MAX_SKEW, MAX_SKEW + 1e-9, 0.5)
    best = float(max(coarse, key=sharpness))
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, 0.1)
    return round(float(max(fine, key=sharpness)), 2)


def line_height(ink: npt.NDArray[np.bool_]) -> float:
    """Median height in pixels of the runs of rows that hold ink (≈ one text line)."""
    counts = ink.sum(axis=1)
    rows = counts > max(2, int(ink.shape[1] * 0.004))
    edges = np.diff(np.concatenate(([0], rows.astype(np.int8), [0])))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    runs = ends - starts
    runs = runs[runs >= 3]
    return float(np.median(runs)) if len(runs) else 0.0


def _to_image(arr: Gray) -> Image.Image:
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
