"""Company memory: what this company's bookkeeper already decided for a merchant.

A global model cannot know that *this* company books Costco as Meals or that "ZELLE TO J SMITH"
is its contractor. The memory keeps, per merchant key and per sign (money in vs out), how often
each category was approved, and answers with the majority category and a confidence that grows
with how many rows agree (5 of 5 → 0.99, 1 of 1 → 0.95, 3 of 4 → 0.74).

Lookup is exact on the merchant key first, then fuzzy (character-trigram Jaccard over an
inverted index, or a long common prefix since banks truncate) for keys that differ by a
truncation or a typo; a fuzzy hit is discounted by its similarity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ledgerflow.books.classifier.normalize import merchant_key
from ledgerflow.books.classifier.prediction import Prediction

# A fuzzy match must share this much of its trigrams with the query key.
DEFAULT_FUZZY_THRESHOLD = 0.6
# A history of only opposite-sign rows (a refund from a merchant we only ever paid) says less.
OPPOSITE_SIGN_FACTOR = 0.7
_PREFIX_MIN_CHARS = 8
_PREFIX_SIMILARITY = 0.9


def _trigrams(key: str) -> frozenset[str]:
    padded = f"  {key} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def _consistency(top: int, total: int) -> float:
    """Share of rows in the top category, shrunk a little when the history is short."""
    return (top / total) * (1.0 - 0.05 / total)


class MerchantMemory:
    def __init__(self, fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD) -> None:
        self.fuzzy_threshold = fuzzy_threshold
        self._counts: dict[str, dict[bool, Counter[str]]] = {}
        self._grams: dict[str, frozenset[str]] = {}
        self._index: dict[str, set[str]] = {}

    @classmethod
    def from_history(
        cls,
        rows: Iterable[tuple[str, int, str]],
        fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
    ) -> MerchantMemory:
        """Build from approved (description, amount_cents, category) rows."""
        memory = cls(fuzzy_threshold)
        for description, amount_cents, category in rows:
            memory.add(description, amount_cents, category)
        return memory

    def __len__(self) -> int:
        return len(self._counts)

    def add(self, description: str, amount_cents: int, category: str) -> None:
        key = merchant_key(description)
        if not key:
            return
        if key not in self._counts:
            self._counts[key] = {True: Counter(), False: Counter()}
            grams = _trigrams(key)
            self._grams[key] = grams
            for gram in grams:
                self._index.setdefault(gram, set()).add(key)
        self._counts[key][amount_cents >= 0][category] += 1

    def _match(self, key: str) -> tuple[str, float] | None:
        if key in self._counts:
            return key, 1.0
        grams = _trigrams(key)
        shared: Counter[str] = Counter()
        for gram in grams:
            shared.update(self._index.get(gram, ()))
        best: tuple[str, float] | None = None
        # Jaccard >= t needs n_shared >= t * |grams|; a prefix match needs all but the last
        # trigram of the shorter key. Cheap integer tests skip most candidates.
        need = min(self.fuzzy_threshold * len(grams), len(grams) - 1)
        for candidate, n_shared in shared.items():
            other = len(self._grams[candidate])
            if n_shared < need and n_shared < other - 1:
                continue
            sim = n_shared / (len(grams) + other - n_shared)
            short, long_ = sorted((key, candidate), key=len)
            if len(short) >= _PREFIX_MIN_CHARS and long_.startswith(short):
                sim = max(sim, _PREFIX_SIMILARITY)
            # Ties go to the alphabetically first key: set order varies between runs.
            if sim >= self.fuzzy_threshold and (
                best is None or (sim, best[0]) > (best[1], candidate)
            ):
                best = (candidate, sim)
        return best

    def lookup(self, description: str, amount_cents: int) -> Prediction | None:
        key = merchant_key(description)
        if not key:
            return None
        match = self._match(key)
        if match is None:
            return None
        matched, similarity = match
        by_sign = self._counts[matched]
        counts, factor = by_sign[amount_cents >= 0], 1.0
        if not counts:
            counts, factor = by_sign[amount_cents < 0], OPPOSITE_SIGN_FACTOR
        if similarity < 1.0:
            factor *= 0.5 + 0.5 * similarity
        total = sum(counts.values())
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        alternatives = [(cat, round(_consistency(n, total) * factor, 6)) for cat, n in ranked]
        category, confidence = alternatives[0]
        return Prediction(category, confidence, alternatives, "memory")
