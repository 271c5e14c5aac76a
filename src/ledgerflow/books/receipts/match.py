"""Match a receipt to one of its company's bank transactions.

Candidates are money-out transactions (``amount_cents < 0``) whose amount is the receipt's
total exactly, or — for a restaurant-like receipt — up to ``TIP_TOLERANCE`` more (the tip is
added after the receipt is printed), dated within ``DATE_WINDOW`` days of the receipt. Each gets
a score in 0–1:

- amount: 0.50 exact; 0.35 with a plausible tip (10–25 %), 0.25 with another tip up to 30 %;
- date: 0.30 on the same day, falling linearly to 0.05 at ``DATE_WINDOW`` days;
- vendor: 0.20 × the best rapidfuzz similarity of the vendor to the description or merchant.

The receipt is attached when the best candidate scores at least ``ATTACH_SCORE`` and beats the
runner-up by ``ATTACH_MARGIN``; otherwise the ranked candidates are listed for a person to pick.
Transactions another receipt is already attached to are not offered again.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Receipt, Transaction
from .extract import ReceiptFields

DATE_WINDOW = 5
TIP_TOLERANCE = 0.30
ATTACH_SCORE = 0.6
ATTACH_MARGIN = 0.15
MAX_CANDIDATES = 5
_BANK_NOISE = re.compile(
    r"(?i)\b(?:pos|debit|credit|card|purchase|visa|mastercard|checkcard|recurring|payment|"
    r"sq|tst|sp|pp|paypal|ach|www|com|inc|llc|ltd|co)\b|[^a-z\s]"
)


@dataclass
class MatchResult:
    transaction_id: str | None
    candidates: list[dict[str, Any]] = field(default_factory=list)


def vendor_similarity(vendor: str, *texts: str | None) -> float:
    """0–1: token-set similarity of the cleaned names, or — for OCR that drops spaces
    ("REDWOODPETRO") — partial similarity of their letters alone."""
    v = _clean(vendor)
    if len(v.replace(" ", "")) < 3:
        return 0.0
    best = 0.0
    for text in texts:
        if not text:
            continue
        t = _clean(text)
        if not t.strip():
            continue
        compact_v, compact_t = v.replace(" ", ""), t.replace(" ", "")
        score = max(
            fuzz.token_set_ratio(v, t),
            fuzz.partial_ratio(compact_v, compact_t) if len(compact_t) >= 4 else 0.0,
        )
        best = max(best, score / 100)
    return best


def _clean(text: str) -> str:
    text = _BANK_NOISE.sub(" ", text.casefold())
    return re.sub(r"\s+", " ", text).strip()


def _amount_score(total: int, paid: int) -> tuple[float, str]:
    if paid == total:
        return 0.5, "amount exact"
    extra = (paid - total) / total
    return (0.35 if 0.10 <= extra <= 0.25 else 0.25), f"amount with a {extra:.0%} tip"


def match_receipt(
    session: Session,
    company_id: str,
    fields: ReceiptFields,
    *,
    exclude_receipt_id: str | None = None,
) -> MatchResult:
    """Rank ``company_id``'s transactions against the receipt; attach the clear winner."""
    total = fields.total_cents
    if total is None or total <= 0:
        return MatchResult(None, [])
    high = math.ceil(total * (1 + TIP_TOLERANCE)) if fields.tip_likely else total
    taken = select(Receipt.matched_transaction_id).where(
        Receipt.company_id == company_id,
        Receipt.matched_transaction_id.is_not(None),
    )
    if exclude_receipt_id is not None:
        taken = taken.where(Receipt.id != exclude_receipt_id)
    query = select(Transaction).where(
        Transaction.company_id == company_id,
        Transaction.amount_cents <= -total,
        Transaction.amount_cents >= -high,
        Transaction.id.not_in(taken),
    )
    if fields.date is not None:
        window = dt.timedelta(days=DATE_WINDOW)
        query = query.where(Transaction.date.between(fields.date - window, fields.date + window))
    if fields.currency and fields.confidence.get("currency", 0.0) >= 0.6:
        query = query.where(Transaction.currency == fields.currency)
    rows = session.scalars(query.order_by(Transaction.date, Transaction.id).limit(200)).all()

    scored: list[tuple[float, str, list[str]]] = []
    for txn in rows:
        score, reason = _amount_score(total, -txn.amount_cents)
        reasons = [reason]
        if fields.date is not None:
            days = abs((txn.date - fields.date).days)
            score += 0.3 * (1 - days / (DATE_WINDOW + 1))
            reasons.append("same day" if days == 0 else f"{days} day{'s' * (days > 1)} apart")
        if fields.vendor:
            similarity = vendor_similarity(fields.vendor, txn.merchant, txn.description)
            score += 0.2 * similarity
            reasons.append(f"vendor {similarity:.0%} similar")
        scored.append((round(score, 3), txn.id, reasons))
    scored.sort(key=lambda c: (-c[0], c[1]))
    top = scored[:MAX_CANDIDATES]
    candidates = [{"transaction_id": t, "score": s, "reasons": r} for s, t, r in top]
    if not top:
        return MatchResult(None, [])
    runner_up = top[1][0] if len(top) > 1 else 0.0
    if top[0][0] >= ATTACH_SCORE and top[0][0] - runner_up >= ATTACH_MARGIN:
        return MatchResult(top[0][1], candidates)
    return MatchResult(None, candidates)
