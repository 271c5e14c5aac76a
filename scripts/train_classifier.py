"""Train the transaction-category model and write it in the shipped, pickle-free format.

Only training rows of data/training/transactions.csv are read: `split == "train"` for the shipped
(production) model, `strict_split == "train"` with `--split strict` for the merchant-disjoint
evaluation model (which bench/categorize_accuracy.py trains into a temporary directory).

Calibration: the training rows are cut into 7 folds the way the matching test split is held out,
and two folds are each scored by a model fit on the other six. For the production model, local
merchants are folded by merchant (never seen) and brands, bank lines and mixed merchants by row
(known merchant, new line); for the strict model every kind is folded by merchant. The softmax
temperature is fit (minimum log-loss) on those out-of-fold scores, each kind of merchant weighted
to its share of the production test split (TEST_MIX in build_training_set.py), so that a
confidence of 0.9 means "right about 90 % of the time" on that mix. The final weights are fit on
all training rows and shipped with that temperature.

Targets: a merchant whose training rows carry different labels (Costco bought for supplies and
for meals) gets its label *distribution* as the target of each of its rows (the row is repeated
once per label, weighted by that label's share), so the model learns "60 % / 40 %" instead of
memorizing which noisy line had which label. Merchants are grouped by `merchant_key` and sign,
the same grouping the company memory uses; only training labels are looked at.

Usage:
  python scripts/train_classifier.py                       # full run → src/.../classifier/model/
  python scripts/train_classifier.py --split strict --out /tmp/strict   # evaluation model
  python scripts/train_classifier.py --sample 2000 --epochs 2 --out /tmp/m   # quick smoke run
"""

from __future__ import annotations

import argparse
import csv
import json
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from build_training_set import KIND_LABEL, TEST_MIX  # scripts/ is sys.path[0] when run
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from ledgerflow.books.classifier.categories import CATEGORIES
from ledgerflow.books.classifier.features import FeatureConfig, featurize
from ledgerflow.books.classifier.model import CategoryModel, softmax
from ledgerflow.books.classifier.normalize import merchant_key

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "training" / "transactions.csv"
OUT = ROOT / "src" / "ledgerflow" / "books" / "classifier" / "model"
FOLDS = 7
CALIBRATION_FOLDS = 2
SEED = 7
# Multinomial (softmax) logistic regression: inverse L2 strength and SAGA passes over the data.
C = 64.0
EPOCHS = 40
# A merchant key with at least SOFT_MIN_ROWS training rows whose most common label has less than
# SOFT_MAX_SHARE of them is trained on its label distribution (see the module docstring).
SOFT_MIN_ROWS = 4
SOFT_MAX_SHARE = 0.95
# Weights smaller than this are dropped from the shipped file; a hashed row of such weights
# moves any score by well under 1 % of a typical margin.
PRUNE = 0.02


SPLIT_COLUMN = {"production": "split", "strict": "strict_split"}
# Calibration weight per kind of merchant: its share of the production test split.
KIND_WEIGHT = {KIND_LABEL[k]: share for k, share in TEST_MIX.items()}


def read_rows(
    path: Path, sample: int | None, seed: int, split: str = "production"
) -> list[dict[str, str]]:
    column = SPLIT_COLUMN[split]
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r[column] == "train"]
    if sample is not None and sample < len(rows):
        pick = np.random.default_rng(seed).choice(len(rows), size=sample, replace=False)
        rows = [rows[i] for i in sorted(pick)]
    return rows


def design_matrix(
    descriptions: list[str], amounts: list[int], cfg: FeatureConfig
) -> sparse.csr_matrix:
    n = len(descriptions)
    total = sparse.csr_matrix((n, cfg.n_features), dtype=np.float32)
    for g in featurize(descriptions, amounts, cfg):
        total = total + sparse.csr_matrix(
            (g.values, g.indices, g.starts), shape=(n, cfg.n_features)
        )
    return total.tocsr()


def soft_targets(
    keys: list[tuple[str, bool]], y: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(row index, label, weight) triples: one per row, or one per label seen for the row's
    merchant key when that key's labels disagree (weights = the labels' shares)."""
    counts: dict[tuple[str, bool], Counter[int]] = defaultdict(Counter)
    for key, label in zip(keys, y.tolist(), strict=True):
        counts[key][label] += 1
    rows, labels, weights = [], [], []
    for i, (key, label) in enumerate(zip(keys, y.tolist(), strict=True)):
        seen = counts[key]
        n = sum(seen.values())
        if n >= SOFT_MIN_ROWS and max(seen.values()) < SOFT_MAX_SHARE * n:
            for other, count in sorted(seen.items()):
                rows.append(i)
                labels.append(other)
                weights.append(count / n)
        else:
            rows.append(i)
            labels.append(label)
            weights.append(1.0)
    return np.array(rows), np.array(labels), np.array(weights)


def fit_linear(
    x: sparse.csr_matrix,
    y: npt.NDArray[np.int64],
    keys: list[tuple[str, bool]],
    seed: int,
    epochs: int = EPOCHS,
) -> LogisticRegression:
    rows, labels, weights = soft_targets(keys, y)
    clf = LogisticRegression(C=C, solver="saga", max_iter=epochs, tol=1e-4, random_state=seed)
    with warnings.catch_warnings():
        # A fixed number of passes is the point (reproducible, bounded time), not convergence.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x[rows], labels, sample_weight=weights)
    return clf


def dense_weights(clf: LogisticRegression, n_features: int) -> tuple[Any, Any]:
    """(n_features, n_categories) weights and intercepts; classes absent from y get a very low
    intercept (and no weights) so they are never predicted."""
    weights = np.zeros((n_features, len(CATEGORIES)), dtype=np.float32)
    intercept = np.full(len(CATEGORIES), -10.0, dtype=np.float32)
    coef, bias = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # binary fit: one score z, i.e. softmax logits (-z/2, z/2)
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        bias = np.array([-bias[0] / 2, bias[0] / 2])
    for j, cls in enumerate(clf.classes_):
        weights[:, cls] = coef[j]
        intercept[cls] = bias[j]
    return weights, intercept


def fit_temperature(
    scores: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64] | None = None,
) -> float:
    """Temperature minimising (weighted) validation log-loss (1-D search in log space)."""
    w = np.ones(len(y)) if weights is None else weights

    def nll(t: float) -> float:
        p = softmax(scores / t)
        return float(-np.average(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)), weights=w))

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 60))
    best = min(grid, key=nll)
    lo, hi = best / 1.2, best * 1.2
    for _ in range(40):  # golden-section refinement
        a, b = hi - (hi - lo) / 1.618, lo + (hi - lo) / 1.618
        lo, hi = (lo, b) if nll(a) < nll(b) else (a, hi)
    return float((lo + hi) / 2)


def report(
    name: str,
    proba: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64] | None = None,
) -> dict[str, float]:
    """Accuracy, precision and coverage, rows weighted like the test mix when `weights` given."""
    w = np.ones(len(y)) if weights is None else weights
    top = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    right = top == y
    stats = {"accuracy": float(np.average(right, weights=w))}
    for t in (0.8, 0.9, 0.95):
        sure = conf >= t
        stats[f"precision@{t}"] = (
            float(np.average(right[sure], weights=w[sure])) if sure.any() else float("nan")
        )
        stats[f"coverage@{t}"] = float(np.average(sure, weights=w))
    print(f"{name}: " + ", ".join(f"{k}={v:.4f}" for k, v in stats.items()))
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the transaction categorizer.")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--sample", type=int, default=None, help="train on N random train rows")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="SAGA passes (smoke runs: 2)")
    parser.add_argument(
        "--split",
        choices=sorted(SPLIT_COLUMN),
        default="production",
        help="which split's training rows (strict: the merchant-disjoint evaluation model)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    cfg = FeatureConfig()
    rows = read_rows(args.data, args.sample, args.seed, args.split)
    cat_index = {c: i for i, c in enumerate(CATEGORIES)}
    descriptions = [r["description"] for r in rows]
    amounts = [int(r["amount_cents"]) for r in rows]
    y = np.array([cat_index[r["category"]] for r in rows], dtype=np.int64)
    x = design_matrix(descriptions, amounts, cfg)
    keys = [(merchant_key(d), a >= 0) for d, a in zip(descriptions, amounts, strict=True)]

    # Out-of-fold scores for the temperature: rows are cut into FOLDS groups the way the matching
    # test split holds them out, and the first CALIBRATION_FOLDS groups are each scored by a model
    # fit on all other groups, so the scores look like those of the test split from a model
    # trained on almost as much data as the shipped one (fewer, smaller folds would bias the
    # temperature up). Production: local merchants by merchant, every other row on its own.
    by_merchant = args.split == "strict"
    groups = [
        r["merchant_id"] if by_merchant or r["merchant_kind"] == "local" else f"row{i}"
        for i, r in enumerate(rows)
    ]
    names = sorted(set(groups))
    order = np.random.default_rng(args.seed).permutation(len(names)) % FOLDS
    fold_of = dict(zip(names, order.tolist(), strict=True))
    fold = np.array([fold_of[g] for g in groups])
    scored = fold < CALIBRATION_FOLDS
    kind_weight = np.array([KIND_WEIGHT[r["merchant_kind"]] for r in rows])
    kind_rows = {k: sum(r["merchant_kind"] == k for r in rows) for k in KIND_WEIGHT}
    row_weight = kind_weight / np.array([max(kind_rows[r["merchant_kind"]], 1) for r in rows])
    oof = np.zeros((len(rows), len(CATEGORIES)), dtype=np.float32)
    for k in range(CALIBRATION_FOLDS):
        held = fold == k
        train_keys = [k for k, h in zip(keys, held.tolist(), strict=True) if not h]
        clf = fit_linear(x[~held], y[~held], train_keys, args.seed, args.epochs)
        weights, intercept = dense_weights(clf, cfg.n_features)
        oof[held] = x[held] @ weights + intercept
    oof, y_oof, w_oof = oof[scored], y[scored], row_weight[scored]
    temperature = fit_temperature(oof, y_oof, w_oof)
    print(f"temperature={temperature:.4f} (fit on out-of-fold scores of {len(y_oof)} rows)")
    val_stats = report("out-of-fold (test-mix weighted)", softmax(oof / temperature), y_oof, w_oof)

    clf = fit_linear(x, y, keys, args.seed, args.epochs)
    weights, intercept = dense_weights(clf, cfg.n_features)
    meta = {
        "trained_rows": len(rows),
        "split": args.split,
        "calibration": (
            f"temperature on out-of-fold scores of {CALIBRATION_FOLDS} of {FOLDS} folds "
            + ("by merchant" if by_merchant else "(local merchants by merchant, other rows by row)")
            + ", kinds weighted to the production test mix"
        ),
        "calibration_rows": len(y_oof),
        "out_of_fold": val_stats,
        "trainer": (
            f"sklearn LogisticRegression(multinomial, saga, C={C}, passes={args.epochs}); "
            f"label distribution as target for merchant keys with mixed labels"
        ),
        "data": (
            f"data/training/transactions.csv {SPLIT_COLUMN[args.split]}=train"
            " (synthetic, see docs/classifier.md)"
        ),
    }
    model = CategoryModel(CATEGORIES, cfg, weights, intercept, temperature, meta)
    model.save(args.out, min_abs_weight=PRUNE)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f}s")
    print(json.dumps({"temperature": temperature, **val_stats}))


if __name__ == "__main__":
    main()
