"""Header names the CSV importer recognizes, as matching keys (see :func:`key`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import AccountKind

_PUNCTUATION = re.compile(r"[^\w#]+|_")


def key(name: str) -> str:
    """A header name for matching: lower case, punctuation except '#' folded to spaces."""
    return " ".join(_PUNCTUATION.sub(" ", name.lower()).split())


def keys_of(*names: str) -> tuple[str, ...]:
    return tuple(key(name) for name in names)


DATE_NAMES = keys_of(
    "transaction date", "trans date", "txn date", "date", "posting date", "post date",
    "posted date", "date posted", "posted", "booking date", "value date", "effective date",
    "datum", "buchungsdatum", "buchungstag", "fecha", "date opération",
)  # fmt: skip
DESCRIPTION_NAMES = keys_of(
    "description", "payee", "narrative", "details", "transaction details", "name", "merchant",
    "merchant name", "transaction", "particulars", "beschreibung", "verwendungszweck",
    "buchungstext", "concepto", "libellé", "omschrijving", "memo",
)  # fmt: skip
AMOUNT_NAMES = keys_of(
    "amount", "transaction amount", "value", "amt", "sum", "betrag", "importe", "montant",
    "bedrag", "importo",
)  # fmt: skip
DEBIT_NAMES = keys_of(
    "debit", "debits", "debit amount", "withdrawal", "withdrawals", "withdrawal amount",
    "money out", "paid out", "outflow", "out", "amount debit", "debit amt", "soll",
)  # fmt: skip
CREDIT_NAMES = keys_of(
    "credit", "credits", "credit amount", "deposit", "deposits", "deposit amount", "money in",
    "paid in", "inflow", "in", "amount credit", "credit amt", "haben",
)  # fmt: skip
TYPE_NAMES = keys_of(
    "type", "transaction type", "dr/cr", "cr/dr", "debit/credit", "credit/debit", "d/c", "c/d",
    "direction", "sign", "indicator",
)  # fmt: skip
MEMO_NAMES = keys_of("memo", "notes", "note", "extended details", "additional information")
ID_NAMES = keys_of(
    "transaction id", "id", "reference", "reference number", "ref", "ref no", "check number",
    "check no", "check #", "cheque number", "check or slip #", "fitid", "transaction reference",
)  # fmt: skip
CURRENCY_NAMES = keys_of(
    "currency", "currency code", "ccy", "curr", "währung", "waehrung", "devise", "moneda", "valuta"
)
TYPE_OUT = frozenset({"debit", "dr", "d", "db", "withdrawal", "out"})
TYPE_IN = frozenset({"credit", "cr", "c", "deposit", "in"})
HEADER_CURRENCY = re.compile(r"[(\[]\s*([A-Za-z]{3}|[$€£¥])\s*[)\]]")
CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}


@dataclass(frozen=True, slots=True)
class KnownLayout:
    name: str
    account_kind: AccountKind
    required: tuple[str, ...]
    any_of: tuple[str, ...]
    date: str
    amount: str | None = None
    debit: str | None = None
    credit: str | None = None
    memo: str | None = None
    external_id: str | None = None
    invert: bool = False


KNOWN_LAYOUTS = (
    KnownLayout(
        "chase_checking", "bank",
        keys_of("details", "posting date", "description", "amount", "type", "balance"), (),
        date=key("posting date"), amount="amount", external_id=key("check or slip #"),
    ),
    KnownLayout(
        "chase_card", "credit_card",
        keys_of("transaction date", "post date", "description", "category", "type", "amount"), (),
        date=key("transaction date"), amount="amount", memo="memo",
    ),
    KnownLayout(
        "capital_one", "credit_card",
        keys_of("transaction date", "posted date", "card no.", "description", "debit", "credit"),
        (), date=key("transaction date"), debit="debit", credit="credit",
    ),
    KnownLayout(
        "boa_checking", "bank", keys_of("date", "description", "amount", "running bal."), (),
        date="date", amount="amount",
    ),
    KnownLayout(
        "amex", "credit_card", keys_of("date", "description", "amount"),
        keys_of("card member", "account #", "extended details", "appears on your statement as"),
        date="date", amount="amount", memo=key("extended details"), external_id="reference",
        invert=True,
    ),
)  # fmt: skip
US_LAYOUTS = frozenset({layout.name for layout in KNOWN_LAYOUTS} | {"wells_fargo"})
