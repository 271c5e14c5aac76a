"""Synthetic receipts: realistic layouts rendered with PIL, with their ground truth.

No real receipts ship with the repository (see ``docs/ocr.md``), so tests and ``bench/ocr.py``
render their own: four layouts (restaurant with a tip line, retail with items and sales tax, gas
station, online invoice), DejaVu fonts (Debian ``fonts-dejavu-core``), random vendors, dates in
the formats each currency's country uses, amounts, and then the damage of a phone photo: uneven
lighting, noise, blur, a small rotation (±3°), downscaling and JPEG artifacts. Everything comes
from one ``random.Random``, so a seed gives the same receipts on every machine.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
MONO = ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")
SANS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
CONDENSED = ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf")
SERIF = ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf")
LAYOUTS = ("restaurant", "retail", "gas", "invoice")


def _split(text: str) -> list[str]:
    return text.split("|")


_RESTAURANT = (
    ["Blue Heron", "Golden Fork", "Little Lemon", "Copper Kettle", "Red Lantern", "Olive Tree"],
    ["Cafe", "Bistro", "Grill", "Kitchen", "Diner", "Trattoria", "Taqueria", "Sushi Bar"],
)
_RETAIL = (
    ["Maple Street", "Brightside", "Northgate", "Riverbend", "Lakeview", "Cedar Point"],
    ["Hardware", "Pharmacy", "Office Supply", "Books", "Market", "Garden Center", "Pet Supply"],
)
_GAS = (["Summit", "Pioneer", "Eagle", "Prairie", "Coastal", "Redwood"], ["Gas", "Fuel", "Petro"])
_INVOICE = (
    ["Northwind", "Brightpath", "Bluefin", "Acorn", "Lighthouse", "Granite"],
    ["Software Ltd", "Consulting LLC", "Cloud Services Inc.", "Design Studio", "Analytics GmbH"],
)
_STREETS = ["Oak Ave", "Main St", "Elm Street", "Harbor Blvd", "Pine Rd", "Market St", "2nd Ave"]
_CITIES = ["Springfield, IL 62704", "Portland, OR 97205", "Austin, TX 78701", "Dayton, OH 45402"]
_EU_CITIES = ["10115 Berlin", "75011 Paris", "1010 Wien", "80331 München", "69002 Lyon"]
_UK_CITIES = ["London EC1V 9HX", "Leeds LS1 4AP", "Bristol BS1 5TR", "Manchester M1 1AE"]
_FOOD = _split(
    "Burger|Caesar Salad|Iced Tea|Fish Tacos|Margherita Pizza|Espresso|Chicken Wrap|"
    "Soup of the Day|Lemonade|Pad Thai|Cheesecake|Fries"
)
_GOODS = _split(
    "HAMMER 16OZ|WD-40 8OZ|LED BULB 4PK|DUCT TAPE|NOTEBOOK A5|PRINTER PAPER|AA BATTERIES 8|"
    "DOG FOOD 5LB|PAINT BRUSH|GLOVES L|USB CABLE|VITAMIN C"
)
_SERVICES = _split(
    "Pro plan (monthly)|Additional seats x3|Support hours|Data export add-on|"
    "Consulting - March|Hosting (annual)|Design review"
)
_MONTHS_LONG = _split(
    "January|February|March|April|May|June|July|August|September|October|November|December"
)
_MONTHS = [m[:3] for m in _MONTHS_LONG]
_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£"}


@dataclass
class Truth:
    """What a receipt says: the fields the extractor should find."""

    name: str
    layout: str
    vendor: str
    date: str  # ISO
    subtotal_cents: int | None
    tax_cents: int | None
    total_cents: int
    currency: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Line:
    left: str
    right: str = ""
    bold: bool = False
    center: bool = False
    big: bool = False


@cache
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: install Debian fonts-dejavu-core")
    return ImageFont.truetype(str(path), size)


def _cents(value: Decimal) -> int:
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def money(cents: int, currency: str, *, symbol: bool = True, comma: bool = False) -> str:
    text = _plain(cents)
    if comma:
        text = text.replace(",", " ").replace(".", ",")
    if not symbol:
        return text
    sign = _SYMBOL[currency]
    return f"{text} {sign}" if currency == "EUR" and comma else f"{sign}{text}"


def _plain(cents: int) -> str:
    whole, frac = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{whole:,}.{frac:02d}"


def format_date(rng: random.Random, day: dt.date, currency: str) -> str:
    """A date as a receipt from that currency's country would print it."""
    m, d, y = day.month, day.day, day.year
    mon, month = _MONTHS[m - 1], _MONTHS_LONG[m - 1]
    if currency == "USD":
        options = [
            f"{m:02d}/{d:02d}/{y}",
            f"{m:02d}/{d:02d}/{y % 100:02d}",
            f"{mon} {d}, {y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{month} {d}, {y}",
            f"{mon.upper()} {d:02d} {y}",
        ]
    elif currency == "EUR":
        options = [
            f"{d:02d}.{m:02d}.{y}",
            f"{d:02d}/{m:02d}/{y}",
            f"{d} {mon} {y}",
            f"{y}-{m:02d}-{d:02d}",
        ]
    else:
        options = [f"{d:02d}/{m:02d}/{y}", f"{d} {month} {y}", f"{d:02d}-{mon}-{y}"]
    return rng.choice(options)


def _name(rng: random.Random, parts: tuple[list[str], list[str]]) -> str:
    return f"{rng.choice(parts[0])} {rng.choice(parts[1])}"


def _address(rng: random.Random, currency: str) -> list[str]:
    city = rng.choice({"USD": _CITIES, "EUR": _EU_CITIES, "GBP": _UK_CITIES}[currency])
    phone = f"({rng.randint(200, 989)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
    if currency != "USD":
        code = 44 if currency == "GBP" else rng.choice([49, 33, 43])
        phone = f"+{code} {rng.randint(20, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    lines = [f"{rng.randint(10, 9999)} {rng.choice(_STREETS)}", city]
    lines.append(rng.choice([f"Tel: {phone}", phone, f"www.{rng.choice(_STREETS).split()[0]}.com"]))
    return lines


def _items(rng: random.Random, names: list[str], lo: int, hi: int) -> list[tuple[str, int]]:
    picked = rng.sample(names, rng.randint(lo, hi))
    return [(name, rng.randint(150, 4500)) for name in picked]


def _tax(subtotal: int, rate: str) -> int:
    return _cents(Decimal(subtotal) / 100 * Decimal(rate))


def build(rng: random.Random, layout: str, name: str) -> tuple[list[_Line], Truth, bool]:
    """The text lines of a receipt and its truth; the flag says "render as a page"."""
    currency = rng.choices(["USD", "EUR", "GBP"], weights=[70, 15, 15])[0]
    comma = currency == "EUR" and rng.random() < 0.6
    day = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 1000))
    date_text = format_date(rng, day, currency)
    time_text = f"{rng.randint(7, 22):02d}:{rng.randint(0, 59):02d}"

    def m(cents: int, symbol: bool = True) -> str:
        return money(cents, currency, symbol=symbol, comma=comma)

    lines: list[_Line] = []
    subtotal: int | None
    tax: int | None
    if layout == "invoice":
        vendor = _name(rng, _INVOICE)
        lines += [_Line(vendor, "INVOICE", bold=True, big=True)]
        lines += [_Line(a) for a in _address(rng, currency)]
        lines += [_Line(""), _Line(f"Invoice #: INV-{day.year}-{rng.randint(100, 9999):04d}")]
        due = format_date(rng, day + dt.timedelta(days=rng.choice([14, 30])), currency)
        lines += [_Line(f"Invoice date: {date_text}"), _Line(f"Due date: {due}"), _Line("")]
        lines += [_Line("Bill To:", bold=True), _Line(f"{rng.choice(_RETAIL[0])} Holdings")]
        lines += [_Line(_address(rng, currency)[0]), _Line("")]
        lines += [_Line("Description", "Amount", bold=True)]
        items = _items(rng, _SERVICES, 1, 4)
        items = [(n, c * rng.randint(2, 12)) for n, c in items]
        lines += [_Line(n, m(c)) for n, c in items]
        subtotal = sum(c for _, c in items)
        rate = "0.20" if currency != "USD" else rng.choice(["0", "0.0625", "0.08"])
        tax = _tax(subtotal, rate)
        label = f"VAT ({Decimal(rate) * 100:.0f}%)" if currency != "USD" else "Sales tax"
        total = subtotal + tax
        lines += [_Line(""), _Line("Subtotal", m(subtotal)), _Line(label, m(tax))]
        lines += [_Line(rng.choice(["Amount Due", "Balance Due", "Total"]), m(total), bold=True)]
        lines += [_Line(""), _Line("Thank you for your business!")]
        return (
            lines,
            Truth(name, layout, vendor, day.isoformat(), subtotal, tax, total, currency),
            True,
        )

    if layout == "restaurant":
        vendor = _name(rng, _RESTAURANT)
        items = _items(rng, _FOOD, 2, 6)
        rate = rng.choice(["0.07", "0.0825", "0.0875", "0.10"])
    elif layout == "retail":
        vendor = _name(rng, _RETAIL)
        items = [(f"{n} {rng.randint(10000, 99999)}", c) for n, c in _items(rng, _GOODS, 2, 7)]
        rate = rng.choice(["0.0625", "0.07", "0.0825", "0.0875"])
    else:
        vendor = _name(rng, _GAS)
        gallons = Decimal(rng.randint(5000, 18000)) / 1000
        price = Decimal(rng.randint(2899, 4999)) / 1000
        fuel = _cents(gallons * price)
        items = [(f"Pump # {rng.randint(1, 12):02d}", 0), ("UNLEADED", 0)]
        items += [(f"{gallons:.3f} GAL @ {_SYMBOL[currency]}{price}/GAL", 0)]
        items += [("FUEL SALE", fuel)]
        rate = "0"
    if rng.random() < 0.25:
        lines.append(_Line("WELCOME TO", center=True))
    store = f" #{rng.randint(100, 9999)}" if layout == "gas" and rng.random() < 0.5 else ""
    lines.append(
        _Line(
            (vendor + store).upper() if rng.random() < 0.7 else vendor,
            center=True,
            bold=True,
            big=True,
        )
    )
    lines += [_Line(a, center=True) for a in _address(rng, currency)]
    date_line = f"{date_text}  {time_text}" if rng.random() < 0.5 else f"Date: {date_text}"
    lines += [_Line(""), _Line(date_line, "" if rng.random() < 0.5 else time_text)]
    if layout == "restaurant":
        lines += [
            _Line(
                f"Server: {rng.choice(['Ana', 'Sam', 'Luis', 'Mei'])}",
                f"Table {rng.randint(1, 30)}",
            )
        ]
    else:
        lines += [_Line(f"Trans #{rng.randint(10000, 99999)}", f"Reg {rng.randint(1, 9)}")]
    lines.append(_Line("-" * 32))
    for item, cents in items:
        lines.append(_Line(item, m(cents, False) if cents else ""))
    lines.append(_Line("-" * 32))
    subtotal = sum(c for _, c in items)
    tax = _tax(subtotal, rate)
    total = subtotal + tax
    if layout == "gas":
        subtotal = tax = None
    else:
        pct = f" {Decimal(rate) * 100:.2f}%" if rng.random() < 0.5 else ""
        label = {"USD": "SALES TAX", "EUR": "MwSt", "GBP": "VAT"}[currency]
        lines += [_Line("SUBTOTAL", m(subtotal)), _Line(f"{label}{pct}", m(tax))]
    lines.append(
        _Line(rng.choice(["TOTAL", "TOTAL", "GRAND TOTAL", "AMOUNT DUE"]), m(total), bold=True)
    )
    if layout == "restaurant":
        lines += [_Line(""), _Line("TIP", "________"), _Line("TOTAL", "________"), _Line("")]
        for pct_tip in (18, 20, 22):
            tip = _cents(Decimal(total) / 100 * pct_tip / 100)
            lines.append(_Line(f"{pct_tip}% tip {m(tip)}", f"= {m(total + tip)}"))
    elif rng.random() < 0.5:
        card = rng.choice(["VISA", "MASTERCARD", "AMEX", "DEBIT"])
        lines += [_Line(f"{card} ****{rng.randint(0, 9999):04d}", m(total))]
        lines += [_Line("AUTH CODE", f"{rng.randint(100000, 999999)}")]
    else:
        tendered = (total // 1000 + 1) * 1000
        lines += [_Line("CASH", m(tendered)), _Line("CHANGE", m(tendered - total))]
    goodbye = rng.choice(["THANK YOU!", "Thank you, come again", "Have a nice day"])
    lines += [_Line(""), _Line(goodbye, center=True)]
    truth = Truth(name, layout, vendor, day.isoformat(), subtotal, tax, total, currency)
    return lines, truth, False


def render(rng: random.Random, lines: list[_Line], page: bool) -> Image.Image:
    """Clean render: a thermal slip (monospaced or condensed) or a page (proportional fonts)."""
    if page:
        regular, bold = rng.choice([SANS, SERIF])
        size, width, margin = rng.randint(22, 28), 1240, 90
    else:
        regular, bold = rng.choice([MONO, MONO, CONDENSED])
        size, width, margin = rng.randint(20, 26), rng.randint(560, 680), 30
    gap = int(size * 0.45)
    height = margin * 2 + sum(int(size * (1.5 if ln.big else 1)) + gap for ln in lines)
    paper = rng.randint(232, 252)
    ink = rng.randint(10, 70)
    img = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(img)
    y = margin
    for ln in lines:
        f = font(bold if ln.bold or ln.big else regular, int(size * (1.5 if ln.big else 1)))
        if ln.center:
            w = draw.textlength(ln.left, font=f)
            draw.text(((width - w) / 2, y), ln.left, font=f, fill=ink)
        else:
            draw.text((margin, y), ln.left, font=f, fill=ink)
        if ln.right:
            w = draw.textlength(ln.right, font=f)
            draw.text((width - margin - w, y), ln.right, font=f, fill=ink)
        y += int(f.size) + gap
    return img


def degrade(rng: random.Random, img: Image.Image, strength: float = 1.0) -> Image.Image:
    """A phone photo of it: lighting gradient, noise, blur, rotation, downscale (JPEG later)."""
    if strength <= 0:
        return img.convert("RGB")
    arr = np.asarray(img, dtype=np.float32)
    h, w = arr.shape
    gy = np.linspace(1.0, rng.uniform(0.8, 1.0), h, dtype=np.float32)[:, None]
    gx = np.linspace(rng.uniform(0.88, 1.0), 1.0, w, dtype=np.float32)[None, :]
    arr = arr * gy * gx
    nprng = np.random.default_rng(rng.randint(0, 2**31))
    arr += nprng.normal(0, rng.uniform(2, 9) * strength, arr.shape).astype(np.float32)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if rng.random() < 0.6:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9) * strength))
    angle = rng.uniform(-3, 3) * min(1.0, strength)
    background = rng.randint(200, 225)
    out = out.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=background)
    scale = rng.uniform(0.55 / strength, 1.0 / strength**0.5) if strength >= 1 else 1.0
    if scale < 0.98:
        size = (int(out.width * scale), int(out.height * scale))
        out = out.resize(size, Image.Resampling.LANCZOS)
    tint = (rng.randint(0, 12), rng.randint(0, 8), 0)
    rgb = Image.merge("RGB", [out.point(lambda v, t=t: max(0, v - t)) for t in tint])
    return rgb


def make_receipt(
    rng: random.Random, name: str, layout: str | None = None, *, strength: float = 1.0
) -> tuple[Image.Image, Truth]:
    """One receipt image (RGB) and its truth; ``strength`` 0 gives a clean, straight render."""
    layout = layout or rng.choice(LAYOUTS)
    lines, truth, page = build(rng, layout, name)
    return degrade(rng, render(rng, lines, page), strength), truth


def generate(
    out_dir: Path, n: int, seed: int = 0, *, strength: float = 1.0, layouts: tuple[str, ...] = ()
) -> list[tuple[Path, Truth]]:
    """Write ``n`` receipts as JPEG (random quality 35–85) plus ``truth.json``; returns both.

    ``strength`` 1 is the standard set; above 1 the noise and blur grow, the photos get smaller
    and the JPEG quality lower (a harder set); 0 renders clean, straight receipts."""
    import json

    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    result: list[tuple[Path, Truth]] = []
    for i in range(n):
        layout = layouts[i % len(layouts)] if layouts else LAYOUTS[i % len(LAYOUTS)]
        img, truth = make_receipt(rng, f"receipt_{i:03d}.jpg", layout, strength=strength)
        path = out_dir / truth.name
        quality = rng.randint(max(15, int(35 / strength)), 85) if strength >= 1 else 92
        img.save(path, "JPEG", quality=quality)
        result.append((path, truth))
    truths = [t.as_dict() for _, t in result]
    (out_dir / "truth.json").write_text(json.dumps(truths, indent=2) + "\n")
    return result
