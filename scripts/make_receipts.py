"""Render synthetic receipts with their ground truth (for tests, benchmarks and demos).

Writes ``receipt_NNN.jpg`` files and ``truth.json`` (vendor, ISO date, subtotal/tax/total in
cents, currency, layout per receipt) into OUT. Layouts rotate through restaurant (with a tip
line), retail (items and sales tax), gas station and online invoice; fonts are DejaVu (Debian
``fonts-dejavu-core``). The same seed gives the same receipts. ``--pdf`` also writes each
receipt as a one-page scanned PDF (no text layer) next to its JPEG.

Usage: python scripts/make_receipts.py OUT [--n 20] [--seed 0] [--strength 1.0]
       [--layouts restaurant,retail,gas,invoice] [--pdf]
The implementation lives in ``ledgerflow.books.receipts.synth``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from ledgerflow.books.receipts.samples import image_pdf
from ledgerflow.books.receipts.synth import LAYOUTS, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--strength", type=float, default=1.0, help="photo damage: 0 clean, 1 standard, 1.5 hard"
    )
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--pdf", action="store_true", help="also write each one as a PDF scan")
    args = parser.parse_args()
    layouts = tuple(name.strip() for name in args.layouts.split(",") if name.strip())
    unknown = set(layouts) - set(LAYOUTS)
    if unknown:
        parser.error(f"unknown layouts: {', '.join(sorted(unknown))}")
    written = generate(args.out, args.n, args.seed, strength=args.strength, layouts=layouts)
    if args.pdf:
        for path, _ in written:
            with Image.open(path) as img:
                path.with_suffix(".pdf").write_bytes(image_pdf(img))
    print(f"wrote {len(written)} receipts and truth.json to {args.out}")


if __name__ == "__main__":
    main()
