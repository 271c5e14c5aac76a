"""Build the labeled training set of the transaction categorizer.

No openly licensed set of real, labeled bank transactions can be had, so this script *generates*
statement lines from a hand-curated vocabulary (`data/training/vocabulary.json`): real merchant and
payee names as they show up on US bank and card statements, bank-generated line kinds (fees,
transfers, interest), and patterns for local businesses built from common US surnames, first names
and place words. Every line then gets the noise real statements carry: processor prefixes, bank
wrappers ("PURCHASE AUTHORIZED ON 04/12 …"), store numbers, city/state, dates, card tails,
reference numbers, ACH trailers, truncation, case changes and typos; amounts follow per-category
log-normal distributions with the sign a bank would show (expenses negative, refunds positive).

The split is by merchant: all rows of one merchant are in `train` or all in `test` (~20 % of each
category's rows), so the test split measures how the model does on merchants it never saw. The
vocabulary's `anchors` (the "obvious" merchants the docs and tests use) are always in `train`.

Usage: python scripts/build_training_set.py [--out data/training/transactions.csv] [--seed 20240412]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VOCAB = ROOT / "data" / "training" / "vocabulary.json"
DEFAULT_OUT = ROOT / "data" / "training" / "transactions.csv"
TEST_SHARE = 0.2

PROCESSORS_MEALS = ["TST* ", "TST *", "SQ *", "SQ*", "SQ *", "CLK*", "TST* "]
PROCESSORS = ["SQ *", "SQ*", "PAYPAL *", "PP*", "SP ", "IN *", "SQU*", "WPY*"]
ACH_DESC_OUT = [
    "PAYMENT",
    "PMT",
    "ACH PMT",
    "WEB PMT",
    "AUTOPAY",
    "EPAY",
    "ONLINE PMT",
    "BILLPAY",
    "DEBIT",
    "PREM",
    "ACH",
]
ACH_DESC_IN = ["DEPOSIT", "PAYOUT", "TRANSFER", "CREDIT", "SETTLEMENT", "PAYMENTS", "ACH CR"]
# Written to the CSV so that the bench can report accuracy per kind of merchant.
KIND_LABEL = {"brand": "brand", "local": "local", "kind": "bank_line", "mixed": "mixed"}
BANK_WORDS = {"ZELLE", "VENMO", "CHECK"}
REFUND_WORDS = [" REFUND", " RETURN", " CREDIT", " REVERSAL", ""]


@dataclass
class Merchant:
    mid: str
    spellings: list[str]
    kind: str  # brand | local | kind | mixed
    category: str
    mix: dict[str, float] | None
    sign: int
    channel: str
    median: float
    sigma: float
    fixed: bool
    refund: float
    rows: int
    template: bool = False  # placeholders are filled per row, not per merchant
    extras: dict[str, Any] = field(default_factory=dict)


class Gen:
    def __init__(self, vocab: dict[str, Any], seed: int) -> None:
        self.v = vocab
        self.common = vocab["common"]
        self.rng = random.Random(seed)

    # -- small random helpers -------------------------------------------------------------------
    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def alnum(self, n: int) -> str:
        return "".join(self.rng.choice(string.ascii_uppercase + string.digits) for _ in range(n))

    def mmdd(self) -> str:
        return f"{self.rng.randint(1, 12):02d}/{self.rng.randint(1, 28):02d}"

    def city(self) -> str:
        return str(self.rng.choice(self.common["cities"]))

    def fill(self, pattern: str, noun: str = "", noun2: str = "") -> str:
        r, c = self.rng, self.common
        city = self.city()
        values = {
            "surname": r.choice(c["surnames"]),
            "first": r.choice(c["first_names"]),
            "place": r.choice(c["places"]),
            "noun": noun,
            "noun2": noun2,
            "city": city.rsplit(" ", 1)[0].title(),
            "st": r.choice(c["state_codes"]),
            "state": r.choice(c["states"]),
            "county": r.choice(c["counties"]),
            "bank": r.choice(c["banks"]),
        }
        # Two {surname}s in one pattern ("Smith & Jones") should differ.
        out = pattern
        while "{surname}" in out:
            out = out.replace("{surname}", r.choice(c["surnames"]), 1)
        return out.format(**values)

    # -- merchants ------------------------------------------------------------------------------
    def merchants(self) -> list[Merchant]:
        r = self.rng
        out: list[Merchant] = []
        seen: set[str] = set()
        anchors = set(self.v["anchors"])
        for cat, spec in self.v["categories"].items():
            base = dict(
                category=cat,
                mix=None,
                channel=spec["channel"],
                sigma=spec["amount"][1],
                fixed=bool(spec.get("fixed", False)),
                refund=spec["refund"],
            )

            def add(
                kind: str,
                entry: str,
                rows: int,
                template: bool = False,
                spec: dict[str, Any] = spec,
                base: dict[str, Any] = base,
            ) -> bool:
                sign = spec["sign"]
                if entry[:1] in "+-":
                    sign = 1 if entry[0] == "+" else -1
                spellings = [s.lstrip("+-") for s in entry.split("|")]
                if spellings[0].upper() in seen:
                    return False
                seen.add(spellings[0].upper())
                median = spec["amount"][0] * math.exp(r.gauss(0, 0.45))
                out.append(
                    Merchant(
                        f"m{len(out):05d}",
                        spellings,
                        kind,
                        sign=sign,
                        median=median,
                        rows=rows,
                        template=template,
                        extras={"anchor": entry in anchors},
                        **base,
                    )
                )
                return True

            for entry in spec["brands"]:
                add("brand", entry, max(6, min(90, int(r.lognormvariate(math.log(22), 0.6)))))
            for entry in spec["kinds"]:
                add(
                    "kind",
                    entry,
                    max(10, min(90, int(r.lognormvariate(math.log(30), 0.5)))),
                    template=True,
                )
            local = spec.get("local")
            if local:
                made = 0
                for _ in range(local["count"] * 3):
                    if made >= local["count"]:
                        break
                    pattern = r.choice(local["patterns"])
                    noun = r.choice(local["nouns"]) if local["nouns"] else ""
                    noun2 = r.choice(local.get("nouns2", [""]))
                    made += add("local", self.fill(pattern, noun, noun2), r.randint(2, 12))
        for spec in self.v["mixed"]:
            first = max(spec["mix"], key=spec["mix"].get)
            out.append(
                Merchant(
                    f"m{len(out):05d}",
                    spec["names"].split("|"),
                    "mixed",
                    first,
                    spec["mix"],
                    -1,
                    "card",
                    spec["amount"][0],
                    spec["amount"][1],
                    False,
                    0.03,
                    spec["rows"],
                )
            )
        return out

    # -- rendering one statement line ----------------------------------------------------------
    def typo(self, s: str) -> str:
        if len(s) < 5:
            return s
        i = self.rng.randint(1, len(s) - 2)
        op = self.rng.random()
        if op < 0.35:
            return s[:i] + s[i + 1 :]
        if op < 0.7:
            return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        return s[:i] + s[i] + s[i:]

    def card_line(self, m: Merchant, name: str) -> str:
        r = self.rng
        if m.kind == "local" and r.random() < 0.45:
            name = r.choice(PROCESSORS_MEALS if m.category == "Meals" else PROCESSORS) + name
        elif m.kind == "brand" and r.random() < 0.04:
            name = "PAYPAL *" + name
        if m.kind in ("brand", "mixed") and r.random() < 0.55:
            name += r.choice(
                [
                    " #" + self.digits(r.randint(3, 5)),
                    " " + self.digits(4),
                    " STORE " + self.digits(4),
                    " T" + self.digits(4),
                    " " + self.digits(r.randint(5, 10)),
                    self.digits(r.randint(6, 10)),  # glued: "GOOGLE *ADS1234567890"
                ]
            )
        if len(name) > 25 and r.random() < 0.6:
            name = name[: r.randint(22, 25)]
        if r.random() < 0.65:
            name = f"{name} {self.city()}"
        elif r.random() < 0.2:
            name += " " + r.choice(
                [
                    "800-" + self.digits(3) + "-" + self.digits(4),
                    "888" + self.digits(7),
                    "WWW.SITE.COM",
                ]
            ).replace("WWW.SITE.COM", name.split()[0].strip("*#") + ".COM")
        recurring = m.fixed and r.random() < 0.4
        style = r.random()
        if recurring:
            card = f"S{self.digits(9)} CARD {self.digits(4)}"
            return f"RECURRING PAYMENT AUTHORIZED ON {self.mmdd()} {name} {card}"
        if style < 0.40:
            return name
        if style < 0.55:
            card = f"S{self.digits(15)} CARD {self.digits(4)}"
            return f"PURCHASE AUTHORIZED ON {self.mmdd()} {name} {card}"
        if style < 0.65:
            return f"CHECKCARD {self.mmdd().replace('/', '')} {name} {self.digits(23)}"
        if style < 0.73:
            return f"DEBIT CARD PURCHASE XXXX{self.digits(4)} {name}"
        if style < 0.78:
            return f"POS DEBIT {name}"
        if style < 0.82:
            return f"POS PURCHASE {name}"
        if style < 0.86:
            return f"DBT CRD {self.digits(4)} {self.mmdd()}/24 {name}"
        if style < 0.94:
            return f"{name} {self.mmdd()}"
        if style < 0.97:
            return f"VISA DDA PUR {self.digits(6)} {name}"
        return f"{name} CARD {self.digits(4)}"

    def ach_line(self, m: Merchant, name: str, sign: int) -> str:
        r = self.rng
        desc = r.choice(ACH_DESC_IN if sign > 0 else ACH_DESC_OUT)
        if "DES:" in name:
            name, desc = name.split("DES:", 1)
            name = name.strip()
        suffix = r.choice(["LLC", "INC", "CO", "STUDIO LLC", "GROUP"])
        company = f"{r.choice(self.common['surnames']).upper()} {suffix}"
        style = r.random()
        if style < 0.25:
            sec = r.choice(["CCD", "PPD", "WEB"])
            ids = f"ID:{self.alnum(8)} INDN:{company} CO ID:{self.digits(10)} {sec}"
            return f"{name} DES:{desc} {ids}"
        if style < 0.38:
            d = f"24{self.digits(4)}"
            return (
                f"ORIG CO NAME:{name} ORIG ID:{self.digits(10)} DESC DATE:{d} "
                f"CO ENTRY DESCR:{desc} SEC:CCD TRACE#:{self.digits(15)} EED:{d} "
                f"IND ID:{self.alnum(9)} IND NAME:{company}"
            )
        if style < 0.58:
            return f"{name} {desc} PPD ID: {self.digits(10)}"
        if style < 0.72:
            return f"ACH {'CREDIT' if sign > 0 else 'DEBIT'} {name} {desc}"
        if style < 0.82:
            return f"{name} {desc} {self.digits(6)}"
        if style < 0.87 and sign < 0:
            return f"PREAUTHORIZED DEBIT {name}"
        if style < 0.93 and sign < 0:
            return self.card_line(m, name)
        return name

    def bank_line(self, name: str) -> str:
        r = self.rng
        if name in ("CHECK", "CHECK PAID", "CHECK DEPOSIT"):
            return f"{name} {'#' if r.random() < 0.4 else ''}{self.digits(4)}"
        style = r.random()
        if "TRANSFER" in name or "SWEEP" in name:
            tail = r.choice(
                [f" XXXXXX{self.digits(4)}", f" ...{self.digits(4)}", f" {self.digits(4)}", ""]
            )
            extra = r.choice(
                [
                    f" REF #{self.alnum(6)} ON {self.mmdd()}/24",
                    f" CONFIRMATION# {self.digits(10)}",
                    f" {self.mmdd()}",
                    "",
                ]
            )
            return name + tail + extra
        if style < 0.55:
            return name
        if style < 0.7:
            return f"{name} {self.mmdd()}"
        if style < 0.8:
            return f"{name} REF #{self.alnum(8)}"
        if style < 0.9:
            return f"{name} {self.mmdd()}/24 {self.digits(6)}"
        return f"{r.choice(self.common['banks'])} {name}"

    def amount(self, m: Merchant, base: float, sign: int, refund: bool) -> int:
        r = self.rng
        if m.fixed and r.random() < 0.85:
            dollars = base
        else:
            dollars = math.exp(r.gauss(math.log(max(base, 0.5)), m.sigma))
        if refund:
            dollars *= r.uniform(0.1, 1.0)
        cents = max(1, round(dollars * 100))
        if m.fixed and cents > 300 and r.random() < 0.5:
            cents = cents // 100 * 100 - 1  # $49.99-style price points
        return sign * cents

    def rows(self, m: Merchant) -> list[tuple[str, int, str]]:
        r = self.rng
        out = []
        base = round(m.median, 2)
        cats, weights = (list(m.mix), list(m.mix.values())) if m.mix else ([m.category], [1.0])
        for _ in range(m.rows):
            category = r.choices(cats, weights)[0]
            spelling = r.choice(m.spellings)
            if m.template:
                spelling = self.fill(spelling)
            if r.random() < 0.03:
                spelling = self.typo(spelling)
            refund = m.sign < 0 and r.random() < m.refund
            sign = -m.sign if refund else m.sign
            if spelling.split(" ", 1)[0].upper() in BANK_WORDS:
                text = self.bank_line(spelling)  # person-to-person and checks never go through ACH
            elif m.channel == "card" or (
                m.channel == "ach" and m.kind == "local" and r.random() < 0.3
            ):
                text = self.card_line(m, spelling)
            elif m.channel == "ach":
                text = self.ach_line(m, spelling, sign)
            else:
                text = self.bank_line(spelling)
            if refund:
                text += r.choice(REFUND_WORDS)
            case = r.random()
            text = text.upper() if case < 0.72 else text.title() if case < 0.86 else text
            if r.random() < 0.1:
                text = text[: r.randint(32, 40)].rstrip()
            out.append((text, self.amount(m, base, sign, refund), category))
        return out


def assign_split(merchants: list[Merchant], rng: random.Random) -> dict[str, str]:
    """Hold out ~TEST_SHARE of each category's rows, whole merchants at a time."""
    split: dict[str, str] = {}
    by_cat: dict[str, list[Merchant]] = {}
    for m in merchants:
        by_cat.setdefault("mixed" if m.mix else m.category, []).append(m)
    for group in by_cat.values():
        rng.shuffle(group)
        total = sum(m.rows for m in group)
        test_rows = 0
        for m in group:
            held = not m.extras.get("anchor") and test_rows + m.rows / 2 < TEST_SHARE * total
            split[m.mid] = "test" if held else "train"
            test_rows += m.rows if held else 0
    return split


def build(seed: int) -> list[dict[str, Any]]:
    vocab = json.loads(VOCAB.read_text(encoding="utf-8"))
    all_spellings = {
        e for spec in vocab["categories"].values() for e in spec["brands"] + spec["kinds"]
    }
    missing = set(vocab["anchors"]) - all_spellings
    if missing:
        raise SystemExit(f"anchors not in the vocabulary: {sorted(missing)}")
    gen = Gen(vocab, seed)
    merchants = gen.merchants()
    split = assign_split(merchants, random.Random(seed + 1))
    records = []
    for m in merchants:
        for text, cents, category in gen.rows(m):
            records.append(
                {
                    "description": text,
                    "amount_cents": cents,
                    "category": category,
                    "split": split[m.mid],
                    "merchant_id": m.mid,
                    "merchant_kind": KIND_LABEL[m.kind],
                }
            )
    random.Random(seed + 2).shuffle(records)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=20240412)
    args = parser.parse_args()
    records = build(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    n_test = sum(r["split"] == "test" for r in records)
    print(f"wrote {len(records)} rows ({n_test} test, {n_test / len(records):.1%}) to {args.out}")


if __name__ == "__main__":
    main()
