"""Receipt fields from OCR lines: vendor, date, subtotal, tax, total, currency, each with a
confidence in 0–1, and the raw text.

Money is integer cents parsed through ``Decimal``, never float. The heuristics expect OCR
noise: keywords are matched on the letters of a line only (``T0TAL``, ``SUB TOTAL`` and
``SUBTOTAL`` are the same), amounts are the rightmost money token of a line (or the next line's
when a label stands alone), and a total that equals subtotal + tax is trusted most.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

FIELDS = ("vendor", "date", "subtotal", "tax", "total", "currency")

# -- money -------------------------------------------------------------------------------------
_NUM = r"\d{1,3}(?:,\d{3})+\.\d{2}|\d{1,3}(?:\.\d{3})+,\d{2}|\d+[.,]\d{2}"
MONEY = re.compile(
    rf"(?<![\d.,/])(?P<neg>-\s?)?(?P<sym>[$€£¥]|USD|EUR|GBP)?\s?(?P<num>{_NUM})"
    r"(?![\d%]|[.,/-]\d)(?:\s?(?P<sym2>[$€£¥]|EUR|USD|GBP))?"
)
_OCR_DIGIT = str.maketrans({"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1"})
_OCR_LETTER = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B", "|": "I", "$": "S"})


def parse_cents(text: str) -> int | None:
    """``1,234.56`` / ``1.234,56`` / ``12,50`` → cents; the last separator is the decimal one."""
    text = text.strip().replace(" ", "")
    if not re.fullmatch(r"\d[\d.,]*[.,]\d{2}", text):
        return None
    whole, frac = text[:-3], text[-2:]
    whole = re.sub(r"[.,]", "", whole)
    try:
        return int(Decimal(f"{whole}.{frac}") * 100)
    except InvalidOperation:
        return None


def _fix_digits(line: str) -> str:
    """Letters OCR puts inside numbers: ``1O.5O`` → ``10.50``, ``S12.50`` → ``$12.50``."""
    line = re.sub(r"(?<=\d)[OoDlI|](?=[\d.,])|(?<=[\d][.,])[Oo]|(?<=\d[.,]\d)[Oo]", _digit, line)
    return re.sub(r"(?<![A-Za-z])S(?=\d{1,4}[.,]\d{2}\b)", "$", line)


def _digit(m: re.Match[str]) -> str:
    return m.group(0).translate(_OCR_DIGIT)


@dataclass
class Money:
    cents: int
    start: int
    symbol: str | None


def amounts(line: str) -> list[Money]:
    out = []
    for m in MONEY.finditer(_fix_digits(line)):
        cents = parse_cents(m.group("num"))
        if cents is not None:
            sign = -1 if m.group("neg") else 1
            out.append(Money(sign * cents, m.start(), m.group("sym") or m.group("sym2")))
    return out


def letters(text: str) -> str:
    """The letters of a label, with digits OCR likes to put for letters read back as letters."""
    return re.sub(r"[^A-Z]", "", text.upper().translate(_OCR_LETTER))


# -- line kinds --------------------------------------------------------------------------------
_TOTAL_WORDS = [
    ("GRANDTOTAL", 1.0), ("AMOUNTDUE", 1.0), ("BALANCEDUE", 1.0), ("TOTALDUE", 1.0),
    ("TOTALTOPAY", 1.0), ("AMOUNTPAYABLE", 1.0), ("TOTALPAYABLE", 1.0), ("TOTALAMOUNT", 0.95),
    ("TOTALINCL", 0.95), ("TOTALTTC", 0.95), ("TOTALEUR", 0.95), ("TOTALUSD", 0.95),
    ("TOTALGBP", 0.95), ("TOTAL", 0.9), ("GESAMT", 0.85), ("SUMME", 0.8), ("TOTALE", 0.85),
    ("BALANCE", 0.6), ("AMOUNT", 0.5), ("FUELSALE", 0.45), ("SALE", 0.35),
]  # fmt: skip
_NOT_TOTAL = ("SUBTOTAL", "SUBTOT", "TIP", "GRATUITY", "CHANGE", "CASH", "TENDER", "SAVING",
              "DISCOUNT", "ITEMS", "QTY", "POINTS", "PREVIOUS", "NUMBEROF", "COUPON", "REWARD",
              "BEFORETAX", "EXCL")  # fmt: skip
_SUBTOTAL_WORDS = ("SUBTOTAL", "SUBTOT", "NETAMOUNT", "NETTOTAL", "TOTALEXCL", "TOTALNET",
                   "ZWISCHENSUMME", "SOUSTOTAL", "TOTALHT", "TOTALBEFORETAX", "NETTO")  # fmt: skip
_TAX_WORDS = ("TAX", "VAT", "GST", "HST", "PST", "QST", "MWST", "UST", "TVA", "IVA")
_NOT_TAX = ("TAXID", "TAXNO", "TAXINVOICE", "TAXREG", "VATNO", "VATREG", "VATID", "NUMBER")


def total_weight(label: str) -> float:
    key = letters(label)
    if any(word in key for word in _NOT_TOTAL):
        return 0.0
    if any(key.startswith(w) or key.endswith(w) for w in _TAX_WORDS) and "TOTAL" not in key:
        return 0.0
    if re.search(r"(TOTAL)?TAX(TOTAL)?$", key) and "INCL" not in key:
        return 0.0
    for word, weight in _TOTAL_WORDS:
        if word in key and (len(key) <= len(word) + 14):
            return weight
    return 0.0


def is_subtotal(label: str) -> bool:
    key = letters(label)
    return any(word in key for word in _SUBTOTAL_WORDS) or key in {"NET", "NETT"}


def is_tax(label: str) -> bool:
    key = letters(label)
    if any(word in key for word in _NOT_TAX) or "TOTAL" in key or "INCL" in key:
        return False
    return any(key.startswith(w) or w in key[:12] for w in _TAX_WORDS)


# -- result ------------------------------------------------------------------------------------
@dataclass
class ReceiptFields:
    vendor: str | None = None
    date: dt.date | None = None
    subtotal_cents: int | None = None
    tax_cents: int | None = None
    total_cents: int | None = None
    currency: str | None = None
    confidence: dict[str, float] = field(default_factory=dict)
    raw_text: str = ""
    tip_likely: bool = False  # a restaurant-like receipt: the charge may include a tip

    def as_dict(self) -> dict[str, object]:
        return {
            "vendor": self.vendor,
            "date": self.date.isoformat() if self.date else None,
            "subtotal_cents": self.subtotal_cents,
            "tax_cents": self.tax_cents,
            "total_cents": self.total_cents,
            "currency": self.currency,
            "confidence": dict(self.confidence),
        }


@dataclass
class _Labeled:
    index: int
    label: str
    cents: int
    conf: float


def extract_fields(
    lines: Sequence[str],
    line_confidences: Sequence[float] | None = None,
    *,
    default_currency: str = "USD",
    today: dt.date | None = None,
) -> ReceiptFields:
    """All fields from a receipt's OCR lines (top to bottom)."""
    from .fields import find_currency, find_date, find_vendor, tip_likely

    # NFKC: the full-width "，" and "：" some models emit become "," and ":".
    lines = [re.sub(r"\s+", " ", unicodedata.normalize("NFKC", ln)).strip() for ln in lines]
    confs = list(line_confidences or []) + [0.9] * (len(lines) - len(line_confidences or []))
    out = ReceiptFields(raw_text="\n".join(lines))
    currency, currency_conf = find_currency(lines, default_currency)
    out.currency, out.confidence["currency"] = currency, currency_conf
    day, day_conf = find_date(lines, currency, today or dt.date.today())
    out.date, out.confidence["date"] = day, day_conf * _mean(confs)
    vendor, vendor_index, vendor_conf = find_vendor(lines)
    out.vendor = vendor
    out.confidence["vendor"] = vendor_conf * (confs[vendor_index] if vendor else 0.0)
    _money_fields(out, lines, confs)
    out.tip_likely = tip_likely(vendor, lines)
    out.confidence = {k: round(out.confidence.get(k, 0.0), 3) for k in FIELDS}
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _labeled(lines: list[str], confs: list[float]) -> list[_Labeled]:
    """(label, amount) pairs: the rightmost amount of a line, or the next line's amount when a
    label stands alone and the next line is only an amount."""
    out = []
    for i, line in enumerate(lines):
        found = amounts(line)
        if found:
            label = line[: found[0].start]
            if not letters(label) and i > 0 and not amounts(lines[i - 1]):
                label = lines[i - 1]  # the amount sits below its label
            out.append(_Labeled(i, label, found[-1].cents, confs[i]))
    return out


def _money_fields(out: ReceiptFields, lines: list[str], confs: list[float]) -> None:
    pairs = _labeled(lines, confs)
    subtotals = [p for p in pairs if is_subtotal(p.label)]
    taxes = [p for p in pairs if is_tax(p.label) and not is_subtotal(p.label)]
    keyed = [(w, p) for p in pairs if not is_subtotal(p.label) and (w := total_weight(p.label))]
    sub = subtotals[0] if subtotals else None
    # Other witnesses of the total: the same amount on a card line, cash − change.
    witnesses = [p.cents for p in pairs] + _cash_minus_change(pairs)
    best: _Labeled | None = None
    if keyed:
        top = max(w for w, _ in keyed)
        cands = [p for w, p in keyed if w == top]
        if sub is not None:
            cands = [p for p in cands if p.cents >= sub.cents] or cands
        best = max(cands, key=lambda p: (witnesses.count(p.cents), -p.index))

    total, conf, tax = best, 0.0, None
    if best is not None:
        conf = total_weight(best.label) * (0.9 if witnesses.count(best.cents) > 1 else 0.8)
    if sub is not None and taxes:
        sums = {sub.cents + t.cents: t.cents for t in taxes}
        sums.setdefault(sub.cents + sum(t.cents for t in taxes), sum(t.cents for t in taxes))
        exact = [p for _, p in keyed if p.cents in sums]
        later = [p for p in pairs if p.index > sub.index and p.cents in sums]
        later = [p for p in later if not _excluded(p.label)]
        if exact or later:
            total = exact[0] if exact else later[0]
            conf, tax = (0.97 if exact else 0.85), sums[total.cents]
        elif best is not None:
            near = [s for s in sums if _one_digit_apart(s, best.cents)]
            if near:  # one digit misread: in the total, or in the tax?
                s = near[0]
                tax_line = max(taxes, key=lambda t: t.cents)
                if witnesses.count(s) > witnesses.count(best.cents) - 1 or (
                    witnesses.count(best.cents) == 1 and best.conf < tax_line.conf
                ):
                    total = _Labeled(best.index, best.label, s, best.conf)
                    tax = sums[s]
                conf = 0.6
            else:
                conf *= 0.7
    if total is None:
        loose = [p for p in pairs if total_weight(p.label) == 0 and not _excluded(p.label)]
        if not loose:
            return
        total, conf = max(loose, key=lambda p: p.cents), 0.3
    _store(out, total, conf, sub, tax, taxes)


def _store(
    out: ReceiptFields,
    total: _Labeled,
    conf: float,
    sub: _Labeled | None,
    tax: int | None,
    taxes: list[_Labeled],
) -> None:
    out.total_cents = total.cents
    out.confidence["total"] = conf * (0.5 + 0.5 * total.conf)
    if sub is not None and sub.cents <= total.cents:
        out.subtotal_cents = sub.cents
        consistent = tax is not None and sub.cents + tax == total.cents
        out.confidence["subtotal"] = (0.95 if consistent else 0.6) * (0.5 + 0.5 * sub.conf)
        if consistent:
            out.tax_cents = tax
            out.confidence["tax"] = 0.95 * (0.5 + 0.5 * sub.conf)
        elif total.cents - sub.cents <= sub.cents * 0.3:
            out.tax_cents = total.cents - sub.cents  # derived: total − subtotal
            out.confidence["tax"] = 0.5
    elif taxes and 0 <= sum(t.cents for t in taxes) < total.cents:
        out.tax_cents = sum(t.cents for t in taxes)
        out.subtotal_cents = total.cents - out.tax_cents
        out.confidence["tax"] = 0.6 * (0.5 + 0.5 * taxes[0].conf)
        out.confidence["subtotal"] = 0.5


def _cash_minus_change(pairs: list[_Labeled]) -> list[int]:
    cash = [p.cents for p in pairs if letters(p.label).startswith(("CASH", "TENDER"))]
    change = [p.cents for p in pairs if letters(p.label).startswith("CHANGE")]
    return [cash[0] - change[0]] if cash and change else []


def _one_digit_apart(a: int, b: int) -> bool:
    x, y = str(a), str(b)
    return len(x) == len(y) and sum(c != d for c, d in zip(x, y, strict=True)) == 1


def _excluded(label: str) -> bool:
    key = letters(label)
    return any(word in key for word in ("CASH", "CHANGE", "TENDER", "TIP", "GRATUITY", "SAVING"))
