"""The non-money fields of a receipt: currency, date, vendor; and "is it a restaurant?"."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import Counter
from collections.abc import Sequence

from .extract import amounts, letters

# -- currency ----------------------------------------------------------------------------------
SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
CODES = ("USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY", "SEK", "NOK", "DKK", "MXN", "INR")
DOLLAR_COUNTRIES = ("USD", "CAD", "AUD", "NZD", "MXN", "SGD", "HKD")
_CODE = re.compile(rf"(?<![A-Z])({'|'.join(CODES)})(?![A-Z])")
# OCR reads the 1 of "M1 1AE" as l or I often enough to allow it.
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}[\dlI][A-Z\d]?\s?\d[A-Z]{2}\b")
_EU_CITY = re.compile(r"^\s*\d{4,5}\s*[A-ZÀ-Ý][a-zà-ÿ]+(?:[\s-][A-ZÀ-Ý][a-zà-ÿ]+)?\s*$")
_EU_PHONE = re.compile(r"\+(?:49|33|43|39|34|31|32)(?=[\s\d(])")
_EU_HINTS = ("MWST", "TVA", "IVA", "UST", "USTID", "NETTO", "SUMME", "GESAMT", "TTC")


def find_currency(lines: Sequence[str], default: str) -> tuple[str, float]:
    """ISO code and confidence: explicit codes, then symbols, then country hints, then the
    company's currency."""
    text = "\n".join(lines)
    codes = Counter(m.group(1) for m in _CODE.finditer(text.upper()))
    if codes:
        return codes.most_common(1)[0][0], 0.95
    symbols = Counter(SYMBOLS[ch] for ch in text if ch in SYMBOLS)
    if symbols:
        code = symbols.most_common(1)[0][0]
        if code == "USD" and default in DOLLAR_COUNTRIES:
            return default, 0.9 if default == "USD" else 0.7
        return code, 0.9
    # No symbol read (some engines drop € and £): the country, from what else the receipt says.
    upper = text.upper()
    key = letters(text)
    if "+44" in text or any(_UK_POSTCODE.search(ln) for ln in lines[:12]):
        return "GBP", 0.6
    if any(h in key for h in _EU_HINTS) or _EU_PHONE.search(text):
        return "EUR", 0.6
    for prev, line in itertools.pairwise(lines[:12]):  # a street, then "10115 Berlin"
        if _EU_CITY.match(line) and not _STREET.search(line) and _STREET.search(prev):
            return "EUR", 0.5
    decimal_commas = sum(1 for ln in lines for _ in re.finditer(r"\d,\d{2}(?!\d)", ln))
    if decimal_commas >= 2 and default in (*DOLLAR_COUNTRIES, "GBP"):
        return "EUR", 0.5
    if re.search(r"(?<![A-Z])VAT(?![A-Z])", upper) and default in DOLLAR_COUNTRIES:
        return "GBP", 0.4  # VAT and decimal points: the UK more often than not
    return default, 0.4


# -- dates -------------------------------------------------------------------------------------
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_MON = (
    r"(?<![A-Za-z])(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|"
    r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_END = r"(?!\d(?!\d?[:.]\d\d))"  # a year may run into a time: "29/06/202620:50"
_YEAR = r"(?P<y>\d{4}|\d{2})"
_SEP_Y = r"(?:\s*[,.]\s*|\s+|(?<=\d\d)(?=(?:19|20)\d\d))"  # "Nov 3, 2026", "MAY082025"
_DATES = [
    re.compile(
        r"(?<![\d.,])(?P<y>(?:19|20)\d{2})\s?[-/.]\s?(?P<m>\d{1,2})\s?[-/.]\s?(?P<d>\d{1,2})" + _END
    ),
    re.compile(
        r"(?<![\d.,])(?P<a>\d{1,2})\s?(?P<sep>[/.-])\s?(?P<b>\d{1,2})\s?(?P=sep)\s?" + _YEAR + _END
    ),
    re.compile(rf"{_MON}\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?{_SEP_Y}{_YEAR}{_END}", re.I),
    re.compile(rf"(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[\s.-]*{_MON}[\s,.-]*{_YEAR}{_END}", re.I),
]
_MDY = ("USD",)
_NOT_DATE = ("DUE", "EXPIR", "VALID", "RETURN", "SHIP", "DELIVER", "PAYBY", "UNTIL", "BEFORE",
             "NEXT", "PERIOD", "FROM", "BIRTH")  # fmt: skip


def _year(text: str) -> int:
    y = int(text)
    return 2000 + y if y < 100 else y


def _date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _variants(digits: str) -> list[tuple[float, str]]:
    """``digits`` and, for a dotted or slashed zero misread as 6, 8 or 9, each one-digit fix."""
    out: list[tuple[float, str]] = [(0, digits)]
    out += [(1, digits[:i] + "0" + digits[i + 1 :]) for i, c in enumerate(digits) if c in "689"]
    return out


def _build(y: str, m: str, d: str, latest: int, glued: bool = False) -> tuple[dt.date, bool] | None:
    """The date, else the one needing the fewest zero fixes; the flag says "repaired".
    ``glued``: a time follows the year without a space ("2620:50" = 26, 20:50)."""
    years = _variants(y) + ([(0.5, y[:2])] if glued and len(y) == 4 else [])
    best: tuple[float, dt.date] | None = None
    for (cy, vy), (cm, vm), (cd, vd) in itertools.product(years, _variants(m), _variants(d)):
        year = _year(vy)
        day = _date(year, int(vm), int(vd)) if 2000 <= year <= latest else None
        if day is not None and (best is None or cy + cm + cd < best[0]):
            best = (cy + cm + cd, day)
    return (best[1], best[0] > 0) if best else None


def dates_in(line: str, currency: str, latest: int = 2099) -> list[tuple[int, dt.date, bool]]:
    """(position, date, uncertain) for each date in a line; ``uncertain``: day and month could
    be swapped, or a digit was repaired."""
    line = re.sub(r"(?<=\d)[Oo](?=\d)|(?<=\d)[Oo](?=[/.-])|(?<=[/.-])[Oo](?=\d)", "0", line)
    line = re.sub(r"(?<![\dA-Za-z])0(?=ct)", "O", line, flags=re.I)  # "0ctober"
    found: list[tuple[int, dt.date, bool]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in enumerate(_DATES):
        for m in pattern.finditer(line):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            g = m.groupdict()
            glued = bool(re.match(r"[:.]\d\d", line[m.end() :]))
            swapped = False
            if kind == 0:
                built = _build(g["y"], g["m"], g["d"], latest)
            elif kind == 1:
                a, b = g["a"], g["b"]
                day_first = g["sep"] == "." or int(a) > 12
                day_first = day_first or (int(b) <= 12 and currency not in _MDY)
                swapped = int(a) <= 12 and int(b) <= 12 and a != b and g["sep"] != "."
                first, second = ((b, a), (a, b)) if day_first else ((a, b), (b, a))
                built = _build(g["y"], *first, latest, glued) or _build(
                    g["y"], *second, latest, glued
                )
            else:
                month = str(_MONTHS[g["mon"][:3].upper()])
                built = _build(g["y"], month, g["d"], latest, glued)
            if built is not None:
                found.append((m.start(), built[0], built[1] or swapped))
                taken.append((m.start(), m.end()))
    return sorted(found, key=lambda f: f[0])


def find_date(lines: Sequence[str], currency: str, today: dt.date) -> tuple[dt.date | None, float]:
    scored: list[tuple[float, int, dt.date, bool]] = []
    for i, line in enumerate(lines):
        key = letters(line)
        for _, day, ambiguous in dates_in(line, currency, today.year + 1):
            if not dt.date(2000, 1, 1) <= day <= today + dt.timedelta(days=31):
                continue
            score = 1.0
            if "DATE" in key or "DATUM" in key:
                score += 0.5
            if any(word in key for word in _NOT_DATE):
                score -= 1.0
            if day > today:
                score -= 0.4
            scored.append((score, -i, day, ambiguous))
    if not scored:
        return None, 0.0
    scored.sort(reverse=True)
    score, _, day, ambiguous = scored[0]
    conf = 0.95 if score >= 1.5 else 0.85 if score >= 1.0 else 0.5
    rivals = {d for s, _, d, _ in scored if s == score and d != day}
    if rivals:
        conf -= 0.25
    if ambiguous:
        conf -= 0.15
    return day, conf


# -- vendor ------------------------------------------------------------------------------------
_PHONE = re.compile(r"(?:\+\d{1,3}[\s.-]?)?\(?\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]?\d{3,4}")
_URL = re.compile(r"(?i)www\.|https?:|\.(?:com|net|org|co\.uk|de|fr|io)\b|@")
_STREET = re.compile(
    r"(?i)^\s*\d+[\w-]*\s*[A-Za-z].*?(?:st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|"
    r"ln|lane|way|hwy|highway|pl|place|ct|court|pkwy|sq|square|str|straße|strasse|rue)\.?\b"
)
_CITY = re.compile(r"\b[A-Z]{2}\s*\d{5}(?:-\d{4})?\b|^\s*\d{4,5}\s+[A-Za-zÀ-ÿ]")
_SKIP = ("WELCOME", "RECEIPT", "CUSTOMERCOPY", "MERCHANTCOPY", "DUPLICATE", "STORE", "TEL",
         "PHONE", "FAX", "VATNO", "VATREG", "ORDER", "TRANS", "THANK", "CASHIER", "SERVER",
         "TABLE", "GUEST", "DATE", "TIME", "REG", "TAXINVOICE", "SALESRECEIPT", "OPEN")  # fmt: skip
_STOP = ("BILLTO", "SOLDTO", "SHIPTO", "CUSTOMER", "DESCRIPTION", "QTY", "ITEM")
_DROP_WORDS = re.compile(
    r"(?i)\s*\b(?:tax\s+invoice|invoice|receipt|sales\s+receipt)\b\s*$|"
    r"\s*(?:#|no\.?|store)\s*\d+\s*$|^\s*welcome\s*(?:to\b|to(?=[A-Z]))?\s*"
)


def clean_vendor(line: str) -> str:
    text = re.sub(r"(?<=[A-Za-z])0|0(?=[A-Za-z])", "O", line)  # "PETR0" → "PETRO"
    for _ in range(3):
        text = _DROP_WORDS.sub("", text).strip()
    return re.sub(r"\s{2,}", " ", text).strip(" .,:;-*=#")


def is_address_like(line: str) -> bool:
    return bool(
        _STREET.search(line)
        or _CITY.search(line)
        or _URL.search(line)
        or _UK_POSTCODE.search(line.upper())
        or (_PHONE.search(line) and sum(c.isdigit() for c in line) >= 7)
    )


def find_vendor(lines: Sequence[str]) -> tuple[str | None, int, float]:
    """(name, line index, confidence) from the top of the receipt: the first line that is not
    an address, phone, URL, date or boilerplate."""
    for i, line in enumerate(lines[:10]):
        key = letters(line)
        if any(key.startswith(stop) for stop in _STOP) or amounts(line):
            break
        if key.startswith("WELCOME"):
            name = clean_vendor(line)  # "WELCOME TO JOE'S" names it; "WELCOME TO" alone not
        elif len(key) < 3 or is_address_like(line) or any(key.startswith(w) for w in _SKIP):
            continue
        else:
            name = clean_vendor(line)
        if sum(ch.isalpha() for ch in name) < 3:
            continue
        return name, i, 0.9 if i <= 1 else 0.75 if i <= 3 else 0.55
    return None, 0, 0.0


# -- kind of business --------------------------------------------------------------------------
_FOOD = ("CAFE", "COFFEE", "RESTAURANT", "BISTRO", "GRILL", "KITCHEN", "DINER", "TRATTORIA",
         "TAQUERIA", "SUSHI", "PIZZ", "BAR", "PUB", "TAVERN", "BAKERY", "EATERY", "BBQ", "BURGER",
         "BRASSERIE", "STEAK", "NOODLE", "RAMEN", "DELI", "CANTINA")  # fmt: skip
_SERVICE = ("TIP", "GRATUITY", "SERVER", "TABLE", "GUESTS", "COVERS")


def tip_likely(vendor: str | None, lines: Sequence[str]) -> bool:
    """Restaurant-like: the card charge may exceed the printed total by a tip."""
    if vendor and any(word in letters(vendor) for word in _FOOD):
        return True
    return any(any(letters(line).startswith(w) for w in _SERVICE) for line in lines)
