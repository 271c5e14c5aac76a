"""Train the transaction-category model and write it in the shipped, pickle-free format.

Only the `train` split of data/training/transactions.csv is read. Its merchants are split into
7 folds; two of them are each scored by a model fit on the other six (merchant-disjoint, like
the real test split), and the softmax temperature is fit on those out-of-fold scores, so that a
confidence of 0.9 means "right about 90 % of the time" on merchants the model has not seen. The
final weights are then fit on the whole train split and shipped with that temperature.

Usage:
  python scripts/train_classifier.py                       # full run → src/.../classifier/model/
  python scripts/train_classifier.py --sample 2000 --out /tmp/m   # quick smoke run
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.linear_model import SGDClassifier

from ledgerflow.books.classifier.categories import CATEGORIES
from ledgerflow.books.classifier.features import FeatureConfig, featurize
from ledgerflow.books.classifier.model import CategoryModel, softmax

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "training" / "transactions.csv"
OUT = ROOT / "src" / "ledgerflow" / "books" / "classifier" / "model"
FOLDS = 7
CALIBRATION_FOLDS = 2
SEED = 7
ALPHA = 5e-6
EPOCHS = 12
# Weights smaller than this are dropped from the shipped file; a hashed row of such weights
# moves any score by well under 1 % of a typical margin.
PRUNE = 0.02


def read_rows(path: Path, sample: int | None, seed: int) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "train"]
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


def fit_linear(
    x: sparse.csr_matrix, y: npt.NDArray[np.int64], seed: int, epochs: int = EPOCHS
) -> SGDClassifier:
    clf = SGDClassifier(
        loss="log_loss",
        alpha=ALPHA,
        max_iter=epochs,
        tol=None,
        random_state=seed,
        average=True,
    )
    clf.fit(x, y)
    return clf


def dense_weights(clf: SGDClassifier, n_features: int) -> tuple[Any, Any]:
    """(n_features, n_categories) weights and intercepts, zero for classes absent from y."""
    weights = np.zeros((n_features, len(CATEGORIES)), dtype=np.float32)
    intercept = np.full(len(CATEGORIES), -10.0, dtype=np.float32)
    for j, cls in enumerate(clf.classes_):
        weights[:, cls] = clf.coef_[j]
        intercept[cls] = clf.intercept_[j]
    return weights, intercept


def fit_temperature(scores: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> float:
    """Temperature minimising validation log-loss (1-D search in log space)."""

    def nll(t: float) -> float:
        p = softmax(scores / t)
        return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))))

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 60))
    best = min(grid, key=nll)
    lo, hi = best / 1.2, best * 1.2
    for _ in range(40):  # golden-section refinement
        a, b = hi - (hi - lo) / 1.618, lo + (hi - lo) / 1.618
        lo, hi = (lo, b) if nll(a) < nll(b) else (a, hi)
    return float((lo + hi) / 2)


def report(name: str, proba: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> dict[str, float]:
    top = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    right = top == y
    stats = {"accuracy": float(right.mean())}
    for t in (0.8, 0.9, 0.95):
        sure = conf >= t
        stats[f"precision@{t}"] = float(right[sure].mean()) if sure.any() else float("nan")
        stats[f"coverage@{t}"] = float(sure.mean())
    print(f"{name}: " + ", ".join(f"{k}={v:.4f}" for k, v in stats.items()))
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the transaction categorizer.")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--sample", type=int, default=None, help="train on N random train rows")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="SGD passes (smoke runs: 2)")
    args = parser.parse_args()
    started = time.perf_counter()
    cfg = FeatureConfig()
    rows = read_rows(args.data, args.sample, args.seed)
    cat_index = {c: i for i, c in enumerate(CATEGORIES)}
    descriptions = [r["description"] for r in rows]
    amounts = [int(r["amount_cents"]) for r in rows]
    y = np.array([cat_index[r["category"]] for r in rows], dtype=np.int64)
    x = design_matrix(descriptions, amounts, cfg)

    # Out-of-fold scores for the temperature: merchants are split into FOLDS groups and the
    # first CALIBRATION_FOLDS groups are each scored by a model fit on all other groups, so the
    # scores look like those of test-split merchants (never seen) from a model trained on almost
    # as much data as the shipped one (fewer, smaller folds would bias the temperature up).
    merchants = sorted({r["merchant_id"] for r in rows})
    order = np.random.default_rng(args.seed).permutation(len(merchants)) % FOLDS
    fold_of = dict(zip(merchants, order.tolist(), strict=True))
    fold = np.array([fold_of[r["merchant_id"]] for r in rows])
    scored = fold < CALIBRATION_FOLDS
    oof = np.zeros((len(rows), len(CATEGORIES)), dtype=np.float32)
    for k in range(CALIBRATION_FOLDS):
        held = fold == k
        clf = fit_linear(x[~held], y[~held], args.seed, args.epochs)
        weights, intercept = dense_weights(clf, cfg.n_features)
        oof[held] = x[held] @ weights + intercept
    oof, y_oof = oof[scored], y[scored]
    temperature = fit_temperature(oof, y_oof)
    print(f"temperature={temperature:.4f} (fit on out-of-fold scores of {len(y_oof)} rows)")
    val_stats = report("out-of-fold", softmax(oof / temperature), y_oof)

    clf = fit_linear(x, y, args.seed, args.epochs)
    weights, intercept = dense_weights(clf, cfg.n_features)
    meta = {
        "trained_rows": len(rows),
        "calibration": (
            f"temperature on out-of-fold scores of {CALIBRATION_FOLDS} of {FOLDS} merchant folds"
        ),
        "calibration_rows": len(y_oof),
        "out_of_fold": val_stats,
        "trainer": (
            f"sklearn SGDClassifier(log_loss, alpha={ALPHA}, epochs={args.epochs}, averaged)"
        ),
        "data": "data/training/transactions.csv split=train (synthetic, see docs/classifier.md)",
    }
    model = CategoryModel(CATEGORIES, cfg, weights, intercept, temperature, meta)
    model.save(args.out, min_abs_weight=PRUNE)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f}s")
    print(json.dumps({"temperature": temperature, **val_stats}))


if __name__ == "__main__":
    main()
