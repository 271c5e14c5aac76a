"""The shipped transaction-category model: hashed features × a linear layer → calibrated softmax.

The model is stored as plain arrays (`weights.npz`, loaded with allow_pickle=False) plus a JSON
file with the categories, the feature configuration and the calibration temperature, so loading
runs no code from the file and does not depend on the sklearn version that trained it. Prediction
is numpy only: gather the weight rows of each row's hashed features, sum, add the bias, softmax.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ledgerflow.books.classifier.features import FeatureConfig, featurize
from ledgerflow.books.classifier.prediction import Prediction

# The shipped files live in the data directory `model/` next to this module (no __init__.py: it
# is package data, and a package of that name would shadow this module).
PACKAGE = "ledgerflow.books.classifier"
MODEL_DIR = "model"
WEIGHTS_FILE = "weights.npz"
META_FILE = "model.json"
FORMAT_VERSION = 1
TOP_K = 3
# Rows per chunk: bounds the temporary (entries × categories) gather array to a few tens of MB.
_CHUNK = 2048

_cached: CategoryModel | None = None


class CategoryModel:
    def __init__(
        self,
        categories: Sequence[str],
        config: FeatureConfig,
        weights: npt.NDArray[np.float32],
        intercept: npt.NDArray[np.float32],
        temperature: float,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if weights.shape != (config.n_features, len(categories)):
            raise ValueError(f"weights shape {weights.shape} does not match the config")
        self.categories = tuple(categories)
        self.config = config
        self.weights = weights
        self.intercept = intercept.astype(np.float32)
        self.temperature = float(temperature)
        self.meta = meta or {}

    # -- persistence ----------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: str | Path | None = None) -> CategoryModel:
        """Load a model directory; without an argument, the shipped model (cached)."""
        global _cached
        if directory is not None:
            d = Path(directory)
            return cls._from_files((d / META_FILE).read_bytes(), d / WEIGHTS_FILE)
        if _cached is None:
            root = resources.files(PACKAGE).joinpath(MODEL_DIR)
            with resources.as_file(root / WEIGHTS_FILE) as weights_path:
                _cached = cls._from_files((root / META_FILE).read_bytes(), weights_path)
        return _cached

    @classmethod
    def _from_files(cls, meta_bytes: bytes, weights_path: Path) -> CategoryModel:
        meta = json.loads(meta_bytes)
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported model format {meta.get('format_version')!r}")
        config = FeatureConfig.from_dict(meta["features"])
        with np.load(weights_path, allow_pickle=False) as data:
            rows = data["rows"].astype(np.int64)
            coef = data["coef"].astype(np.float32) * np.float32(meta["coef_scale"])
            intercept = data["intercept"].astype(np.float32)
        # Only feature rows that carry weight are stored; the rest of the table is zero.
        weights = np.zeros((config.n_features, len(meta["categories"])), dtype=np.float32)
        weights[rows] = coef
        return cls(meta["categories"], config, weights, intercept, meta["temperature"], meta)

    def save(self, directory: str | Path, min_abs_weight: float = 0.0) -> None:
        """Write weights.npz and model.json; weights are stored as float16, rows with no weight
        above `min_abs_weight` are dropped (they never move a score noticeably)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        keep = np.flatnonzero(np.abs(self.weights).max(axis=1) > min_abs_weight)
        coef = self.weights[keep]
        scale = float(np.abs(coef).max()) if coef.size else 1.0
        np.savez_compressed(
            d / WEIGHTS_FILE,
            rows=keep.astype(np.uint32),
            coef=(coef / scale).astype(np.float16),
            intercept=self.intercept.astype(np.float32),
        )
        meta = dict(self.meta)
        meta.update(
            format_version=FORMAT_VERSION,
            categories=list(self.categories),
            features=self.config.to_dict(),
            temperature=self.temperature,
            coef_scale=scale,
        )
        (d / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")

    # -- prediction -----------------------------------------------------------------------------
    def decision_scores(
        self, descriptions: Sequence[str], amounts_cents: Sequence[int]
    ) -> npt.NDArray[np.float32]:
        """Raw linear scores, shape (rows, categories), before temperature and softmax."""
        n = len(descriptions)
        out = np.empty((n, len(self.categories)), dtype=np.float32)
        for lo in range(0, n, _CHUNK):
            hi = min(n, lo + _CHUNK)
            block = np.broadcast_to(self.intercept, (hi - lo, len(self.categories))).copy()
            for group in featurize(descriptions[lo:hi], amounts_cents[lo:hi], self.config):
                # reduceat gives a row with no entries its neighbour's value, not zero, so sum
                # over the rows that have entries only (an empty description has no n-grams).
                filled = np.diff(group.starts) > 0
                if filled.any():
                    starts = group.starts[:-1][filled]
                    sums = np.add.reduceat(self.weights[group.indices], starts, axis=0)
                    # One value per row within a group (see FeatureGroup): scale the sums.
                    block[filled] += sums * group.values[starts][:, None]
            out[lo:hi] = block
        return out

    def predict_proba(
        self, descriptions: Sequence[str], amounts_cents: Sequence[int]
    ) -> npt.NDArray[np.float32]:
        """Calibrated class probabilities, shape (rows, categories)."""
        return softmax(self.decision_scores(descriptions, amounts_cents) / self.temperature)

    def predict(
        self, descriptions: Sequence[str], amounts_cents: Sequence[int]
    ) -> list[Prediction]:
        if len(descriptions) == 0:
            return []
        proba = self.predict_proba(descriptions, amounts_cents)
        top = np.argsort(-proba, axis=1, kind="stable")[:, :TOP_K]
        top_p = np.take_along_axis(proba, top, axis=1).astype(float)
        # One flat pass over all rows' alternatives, then a slice per row: far fewer Python
        # calls than a loop per row (round() is kept: numpy's rounding may differ in the last
        # digit).
        cats = self.categories
        pairs = [
            (cats[i], round(p, 6))
            for i, p in zip(top.ravel().tolist(), top_p.ravel().tolist(), strict=True)
        ]
        k = top.shape[1]
        return [
            Prediction(pairs[r][0], pairs[r][1], pairs[r : r + k], "model")
            for r in range(0, len(pairs), k)
        ]


def softmax(scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: npt.NDArray[np.float32] = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return result
