"""Transaction fingerprints: the key that makes re-importing a bank file insert nothing new.

``lf_transactions`` is UNIQUE on ``(company_id, fingerprint)`` and imports insert with
"on conflict do nothing", so the fingerprint decides what counts as the same transaction:

* With a bank-assigned id (OFX ``FITID``, ``external_id``) that id is the identity: banks keep
  it stable across downloads, while descriptions and even posting dates sometimes change.
* Without one (CSV), identity is date + amount + normalized description + **occurrence**: the
  0-based count of earlier rows in the same file with that same date, amount and description.
  Two genuinely identical rows (two $5 coffees on one day) get occurrences 0 and 1, so both are
  kept; importing the file again yields the same occurrences, so neither is inserted twice. A
  later, overlapping statement that shows a third coffee gives it occurrence 2: it is new.

The bank account is part of the key (the same FITID in two accounts is two transactions), and
the key is versioned so the recipe can change without colliding with old fingerprints.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Protocol

VERSION = "v1"
_SPACE = re.compile(r"\s+")


class FingerprintRow(Protocol):
    @property
    def date(self) -> dt.date: ...
    @property
    def amount_cents(self) -> int: ...
    @property
    def description(self) -> str: ...
    @property
    def external_id(self) -> str | None: ...


def normalize_description(description: str) -> str:
    """Case, Unicode form and runs of whitespace vary between exports of the same row."""
    text = unicodedata.normalize("NFKC", description).casefold()
    return _SPACE.sub(" ", text).strip()


def transaction_fingerprint(
    bank_account_id: str,
    date: dt.date,
    amount_cents: int,
    description: str,
    external_id: str | None,
    occurrence: int = 0,
) -> str:
    """A 32-character base32 digest (160 bits of SHA-256) identifying one bank-account row."""
    _check_amount(amount_cents)
    if occurrence < 0:
        raise ValueError("occurrence must be >= 0")
    normalized = normalize_description(description)
    return _digest(bank_account_id, date, amount_cents, normalized, external_id, occurrence)


def _check_amount(amount_cents: object) -> None:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise TypeError(f"amount_cents must be an int, not {type(amount_cents).__name__}")


def _digest(
    bank_account_id: str,
    date: dt.date,
    amount_cents: int,
    normalized: str,
    external_id: str | None,
    occurrence: int,
) -> str:
    """The digest of a row: by its bank's own id when it has one, else by its contents."""
    external = (external_id or "").strip()
    if external:
        parts = [VERSION, "ext", bank_account_id, external]
    else:
        parts = [
            VERSION,
            "row",
            bank_account_id,
            date.isoformat(),
            str(amount_cents),
            normalized,
            str(occurrence),
        ]
    # A separator that cannot appear in any part keeps ("a|b", "c") and ("a", "b|c") apart.
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return base64.b32encode(digest[:20]).decode().lower()


class FileFingerprinter:
    """Fingerprints for one file's rows, in file order, counting occurrences as described above.

    Counts are kept per date, only for dates met in the last ``window`` rows: identical rows sit
    close together in a statement, and a file of any length then needs bounded memory.
    """

    def __init__(self, bank_account_id: str, window: int = 20_000) -> None:
        self._bank_account_id = bank_account_id
        self._window = window
        self._counts: dict[dt.date, Counter[tuple[int, str]]] = {}
        self._last_row: dict[dt.date, int] = {}
        self._rows = 0

    def __call__(self, row: FingerprintRow) -> str:
        self._rows += 1
        if self._rows % self._window == 0:
            stale = [d for d, n in self._last_row.items() if n < self._rows - self._window]
            for date in stale:
                del self._counts[date], self._last_row[date]
        _check_amount(row.amount_cents)
        normalized = normalize_description(row.description)
        key = (row.amount_cents, normalized)
        counts = self._counts.setdefault(row.date, Counter())
        occurrence = counts[key]
        counts[key] += 1
        self._last_row[row.date] = self._rows
        # The description is normalized once per row, for the count and the digest alike.
        return _digest(
            self._bank_account_id,
            row.date,
            row.amount_cents,
            normalized,
            row.external_id,
            occurrence,
        )


def file_fingerprints(bank_account_id: str, rows: Iterable[FingerprintRow]) -> list[str]:
    """Fingerprints for all the rows of one file, in order."""
    fingerprint = FileFingerprinter(bank_account_id)
    return [fingerprint(row) for row in rows]
