"""Receipt OCR accuracy and speed, per engine, on generated receipts.

Generates N receipts (``ledgerflow.books.receipts.synth``: restaurant, retail, gas station and
online-invoice layouts in turn; DejaVu fonts; noise, blur, ±3° rotation, downscaling, JPEG
quality 35–85; seeded) and runs the whole reading path (load → preprocess → OCR → extract) with
each engine. Prints, per engine, the share of receipts whose field equals the truth:

- vendor: equal after case-folding and dropping everything but letters and digits
  (``vendor≈``: rapidfuzz ratio ≥ 85 on the same normalization);
- date, total, subtotal, tax (``None`` must be ``None``: gas receipts print no subtotal/tax),
  currency: exact;
- s/receipt: wall-clock seconds per receipt (the engine's model load is excluded).

Usage: python bench/ocr.py [--n 60] [--seed 7] [--engines tesseract,rapidocr] [--json OUT]
       [--keep DIR] [--verbose]
There are no real receipts to add: none can be shipped (see docs/ocr.md).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from ledgerflow.books.receipts.extract import ReceiptFields, extract_fields
from ledgerflow.books.receipts.images import load_pages, preprocess
from ledgerflow.books.receipts.ocr import ENGINES, get_engine
from ledgerflow.books.receipts.synth import Truth, generate

FIELDS = ("vendor", "vendor≈", "date", "total", "subtotal", "tax", "currency")


def norm(text: str | None) -> str:
    return re.sub(r"[^0-9a-z]", "", (text or "").casefold())


def score(got: ReceiptFields, truth: Truth) -> dict[str, bool]:
    return {
        "vendor": norm(got.vendor) == norm(truth.vendor),
        "vendor≈": fuzz.ratio(norm(got.vendor), norm(truth.vendor)) >= 85,
        "date": (got.date.isoformat() if got.date else None) == truth.date,
        "total": got.total_cents == truth.total_cents,
        "subtotal": got.subtotal_cents == truth.subtotal_cents,
        "tax": got.tax_cents == truth.tax_cents,
        "currency": got.currency == truth.currency,
    }


def read(path: Path, engine_name: str) -> ReceiptFields:
    engine = get_engine(engine_name)
    lines: list[str] = []
    confs: list[float] = []
    for page in load_pages(path):
        prepared = preprocess(page.image)
        text = engine.read(prepared.pick(engine.image_kind))
        lines += text.lines
        confs += text.line_confidences
    return extract_fields(lines, confs)


def run(engine_name: str, receipts: list[tuple[Path, Truth]], verbose: bool) -> dict[str, Any]:
    get_engine(engine_name).read(preprocess(load_pages(receipts[0][0])[0].image).gray)  # warm up
    hits: dict[str, int] = defaultdict(int)
    by_layout: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    start = time.perf_counter()
    for path, truth in receipts:
        got = read(path, engine_name)
        result = score(got, truth)
        for name, ok in result.items():
            hits[name] += ok
            by_layout[truth.layout][name] += ok
        by_layout[truth.layout]["n"] += 1
        if verbose and not all(result.values()):
            wrong = [k for k, ok in result.items() if not ok]
            print(f"  {engine_name} {path.name} [{truth.layout}] wrong: {', '.join(wrong)}")
            print(f"    got   {got.as_dict()}")
            print(f"    truth {truth.as_dict()}")
    elapsed = time.perf_counter() - start
    n = len(receipts)
    return {
        "engine": engine_name,
        "n": n,
        "accuracy": {k: hits[k] / n for k in FIELDS},
        "seconds_per_receipt": elapsed / n,
        "by_layout": {
            layout: {k: v / counts["n"] for k, v in counts.items() if k != "n"}
            for layout, counts in sorted(by_layout.items())
        },
    }


def table(results: list[dict[str, Any]]) -> str:
    head = f"| {'engine':<10}|" + "".join(f" {f:>8} |" for f in FIELDS) + " s/receipt |"
    rule = "|" + "-" * 11 + "|" + "".join("-" * 10 + ":|" for _ in FIELDS) + "-" * 10 + ":|"
    rows = [head, rule]
    for r in results:
        cells = "".join(f" {100 * r['accuracy'][f]:>7.1f}% |" for f in FIELDS)
        rows.append(f"| {r['engine']:<10}|{cells} {r['seconds_per_receipt']:>9.2f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--strength", type=float, default=1.0, help="damage: 1 standard, 1.5 hard")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="write the receipts here and keep them")
    parser.add_argument("--verbose", action="store_true", help="print every wrong receipt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        receipts = generate(out, args.n, seed=args.seed, strength=args.strength)
        print(f"{args.n} generated receipts (seed {args.seed}, strength {args.strength}) in {out}")
        results = [run(e.strip(), receipts, args.verbose) for e in args.engines.split(",")]
    print(table(results))
    for r in results:
        print(f"\n{r['engine']} by layout:")
        for layout, acc in r["by_layout"].items():
            print(f"  {layout:<11}" + " ".join(f"{k} {100 * v:.0f}%" for k, v in acc.items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
