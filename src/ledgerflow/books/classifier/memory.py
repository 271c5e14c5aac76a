"""Company memory: what this company's bookkeeper already decided for a merchant.

A global model cannot know that *this* company books Costco as Meals or that "ZELLE TO J SMITH"
is its contractor. The memory keeps, per merchant key and per sign (money in vs out), how often
each category was approved, and answers with the majority category and a confidence that grows
with how many rows agree (5 of 5 → 0.99, 1 of 1 → 0.95, 3 of 4 → 0.74).

Lookup is exact on the merchant key first, then fuzzy (character-trigram Jaccard over an
inverted index, or a long common prefix since banks truncate) for keys that differ by a
truncation or a typo. A fuzzy hit is evidence about a *similar* key, not about this merchant
("ELECTRONIC WITHDRAWAL" approved as Uncategorized says little about "ELECTRONIC WITHDRAWAL
GUSTO"), so its confidence is multiplied by its similarity: it stays below the categorizer's
memory threshold and wins only where the model is less sure.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Iterator

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
        self._sorted: list[str] = []  # keys in order, for "starts with" look-ups
        # Which stored key a query key matches depends only on the stored keys: remember it
        # until a new key arrives (a statement repeats its merchants many times).
        self._match_cache: dict[str, tuple[str, float] | None] = {}

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
            bisect.insort(self._sorted, key)
            self._match_cache.clear()
        self._counts[key][amount_cents >= 0][category] += 1

    def _prefix_matches(self, key: str) -> Iterator[str]:
        """Stored keys that are a prefix of `key`, or that `key` is a prefix of (truncation)."""
        for end in range(_PREFIX_MIN_CHARS, len(key)):
            if key[:end] in self._counts:
                yield key[:end]
        if len(key) >= _PREFIX_MIN_CHARS:
            i = bisect.bisect_right(self._sorted, key)
            while i < len(self._sorted) and self._sorted[i].startswith(key):
                yield self._sorted[i]
                i += 1

    def _jaccard_matches(self, key: str) -> Iterator[tuple[str, float]]:
        """Stored keys with trigram Jaccard >= threshold, found by prefix filtering: such a key
        must share one of the query's (|A| - ceil(t·|A|) + 1) rarest trigrams."""
        grams = _trigrams(key)
        need = math.ceil(self.fuzzy_threshold * len(grams))
        rarest = sorted(grams, key=lambda g: (len(self._index.get(g, ())), g))
        candidates: set[str] = set()
        for gram in rarest[: len(grams) - need + 1]:
            candidates.update(self._index.get(gram, ()))
        for candidate in candidates:
            other = self._grams[candidate]
            # Jaccard >= t needs t·|A| <= |B| <= |A|/t.
            if not need <= len(other) <= len(grams) / self.fuzzy_threshold:
                continue
            shared = len(grams & other)
            yield candidate, shared / (len(grams) + len(other) - shared)

    def _match(self, key: str) -> tuple[str, float] | None:
        if key in self._counts:
            return key, 1.0
        if key not in self._match_cache:
            self._match_cache[key] = self._fuzzy_match(key)
        return self._match_cache[key]

    def _fuzzy_match(self, key: str) -> tuple[str, float] | None:
        found = {c: _PREFIX_SIMILARITY for c in self._prefix_matches(key)}
        for candidate, sim in self._jaccard_matches(key):
            if sim >= self.fuzzy_threshold:
                found[candidate] = max(sim, found.get(candidate, 0.0))
        if not found:
            return None
        # Best similarity; ties go to the alphabetically first key so answers are reproducible.
        return min(found.items(), key=lambda kv: (-kv[1], kv[0]))

    def lookup(self, description: str, amount_cents: int) -> Prediction | None:
        found = self.evidence(description, amount_cents)
        return None if found is None else found[0]

    def evidence(
        self, description: str, amount_cents: int
    ) -> tuple[Prediction, dict[str, float]] | None:
        """The memory's answer and the approved rows behind it, per category, weighted like the
        confidence (a fuzzy or opposite-sign match counts for less than a row)."""
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
            factor *= similarity
        total = sum(counts.values())
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        alternatives = [(cat, round(_consistency(n, total) * factor, 6)) for cat, n in ranked]
        category, confidence = alternatives[0]
        rows = {cat: n * factor for cat, n in counts.items()}
        return Prediction(category, confidence, alternatives, "memory"), rows
