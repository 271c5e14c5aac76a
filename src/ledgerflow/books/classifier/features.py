"""Hashed features of a transaction, shared by training and prediction.

The same code turns (description, amount) into sparse feature indices at training time and at run
time, so there is no vocabulary to ship and no sklearn/scipy object to unpickle: the model file is
just a weight matrix indexed by these hashes. Hashes are computed with fixed integer arithmetic
(numpy uint64 and zlib.crc32), so they are the same on every platform, Python and numpy version.

Feature groups (each normalised so that long descriptions do not dominate):
- character 3–6-grams of " normalized description " (vectorised in numpy: this is the hot path);
- word unigrams and bigrams, processor tags, and word×sign conjunctions (a Zelle *to* vs *from*,
  "interest paid" on a credit vs a debit);
- amount: sign, log2 magnitude bucket × sign, round-dollar and .99 price-point flags.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from ledgerflow.books.classifier.normalize import split_description

U64 = np.uint64
_MIX1 = U64(0xBF58476D1CE4E5B9)
_MIX2 = U64(0x94D049BB133111EB)
_ROLL = U64(0x100000001B3)  # FNV-1a 64-bit prime
_SALT_WORD = 0x9E3779B1
_SALT_SIGNED_WORD = 0x85EBCA77
_SALT_AMOUNT = 0xC2B2AE3D


@dataclass(frozen=True)
class FeatureConfig:
    n_features: int = 1 << 18
    ngram_min: int = 3
    ngram_max: int = 6
    max_chars: int = 48
    char_weight: float = 1.0
    word_weight: float = 1.0
    amount_weight: float = 0.5

    def to_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, float | int]) -> FeatureConfig:
        return cls(
            n_features=int(data["n_features"]),
            ngram_min=int(data["ngram_min"]),
            ngram_max=int(data["ngram_max"]),
            max_chars=int(data["max_chars"]),
            char_weight=float(data["char_weight"]),
            word_weight=float(data["word_weight"]),
            amount_weight=float(data["amount_weight"]),
        )


@dataclass
class FeatureGroup:
    """Row-ordered sparse entries: row i owns indices[starts[i]:starts[i+1]]. All entries of one
    row carry the same value (1/√entries, times the group weight), which lets prediction sum the
    weight rows first and scale once per row."""

    indices: npt.NDArray[np.int64]
    values: npt.NDArray[np.float32]
    starts: npt.NDArray[np.int64]


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser: spreads rolling-hash bits so `% n_features` is uniform."""
    h = h ^ (h >> U64(30))
    h = h * _MIX1
    h = h ^ (h >> U64(27))
    h = h * _MIX2
    return h ^ (h >> U64(31))


def _char_group(texts: Sequence[str], cfg: FeatureConfig) -> FeatureGroup:
    n, width = len(texts), cfg.max_chars
    padded = [(" " + t + " ")[:width].encode("ascii", "ignore") for t in texts]
    lengths = np.fromiter((len(b) for b in padded), dtype=np.int64, count=n)
    buf = np.frombuffer(b"".join(b.ljust(width, b"\0") for b in padded), dtype=np.uint8)
    chars = buf.reshape(n, width).astype(np.uint64)
    idx_parts, row_counts = [], np.zeros(n, dtype=np.int64)
    rolling = chars.copy()
    positions = np.arange(width)
    for size in range(2, cfg.ngram_max + 1):
        # rolling[:, p] hashes chars[p : p + size]
        rolling = (rolling[:, :-1] * _ROLL) ^ chars[:, size - 1 :]
        if size < cfg.ngram_min:
            continue
        valid = positions[None, : width - size + 1] + size <= lengths[:, None]
        hashed = _mix(rolling ^ U64(size)) % U64(cfg.n_features)
        idx_parts.append((hashed, valid))
        row_counts += valid.sum(axis=1)
    # Interleave groups row by row so that each row's entries are contiguous.
    all_idx = np.concatenate([h for h, _ in idx_parts], axis=1)
    all_valid = np.concatenate([v for _, v in idx_parts], axis=1)
    indices = all_idx[all_valid].astype(np.int64)
    per_row = cfg.char_weight / np.sqrt(np.maximum(row_counts, 1))
    values = np.repeat(per_row, row_counts).astype(np.float32)
    starts = np.concatenate([[0], np.cumsum(row_counts)])
    return FeatureGroup(indices, values, starts)


@lru_cache(maxsize=100_000)
def _word_hashes(text: str, tags: tuple[str, ...]) -> tuple[int, ...]:
    tokens = text.split()
    grams = [f"w:{t}" for t in tokens]
    grams += [f"b:{a} {b}" for a, b in itertools.pairwise(tokens)]
    grams += [f"t:{t}" for t in tags]
    grams.append(f"n:{min(len(tokens), 6)}")  # every row has at least this one entry
    return tuple(zlib.crc32(g.encode()) for g in grams)


def _word_group(
    texts: Sequence[str],
    tags: Sequence[tuple[str, ...]],
    signs: npt.NDArray[np.int64],
    cfg: FeatureConfig,
) -> FeatureGroup:
    hashes = [_word_hashes(t, g) for t, g in zip(texts, tags, strict=True)]
    counts = np.fromiter((len(h) for h in hashes), dtype=np.int64, count=len(hashes))
    flat = np.fromiter((x for h in hashes for x in h), dtype=np.uint64, count=int(counts.sum()))
    row_sign = np.repeat(signs, counts).astype(np.uint64)
    plain = _mix(flat ^ U64(_SALT_WORD)) % U64(cfg.n_features)
    signed = _mix(flat ^ U64(_SALT_SIGNED_WORD) ^ (row_sign << U64(33))) % U64(cfg.n_features)
    # Each row: its plain entries then its signed entries, kept contiguous.
    starts = np.concatenate([[0], np.cumsum(counts)])
    order = np.empty(2 * len(flat), dtype=np.int64)
    row_of = np.repeat(np.arange(len(counts)), counts)
    offset_in_row = np.arange(len(flat)) - starts[row_of]
    order[2 * starts[row_of] + offset_in_row] = np.arange(len(flat))
    order[2 * starts[row_of] + counts[row_of] + offset_in_row] = np.arange(len(flat)) + len(flat)
    indices = np.concatenate([plain, signed])[order].astype(np.int64)
    per_row = cfg.word_weight / np.sqrt(np.maximum(2 * counts, 1))
    values = np.repeat(per_row, 2 * counts).astype(np.float32)
    return FeatureGroup(indices, values, 2 * starts)


def _amount_group(amounts: npt.NDArray[np.int64], cfg: FeatureConfig) -> FeatureGroup:
    n = len(amounts)
    sign = (amounts >= 0).astype(np.uint64)  # 1 = money in
    dollars = np.abs(amounts) / 100.0
    bucket = np.minimum(np.floor(np.log2(dollars + 1.0)), 20).astype(np.uint64)
    cents = np.abs(amounts) % 100
    feats = np.stack(
        [
            sign,
            U64(8) + sign * U64(32) + bucket,
            U64(100) + sign * U64(2) + (cents == 0).astype(np.uint64),
            U64(110) + sign * U64(2) + (cents == 99).astype(np.uint64),
        ],
        axis=1,
    )
    indices = (_mix(feats ^ U64(_SALT_AMOUNT)) % U64(cfg.n_features)).astype(np.int64).ravel()
    values = np.full(indices.shape, cfg.amount_weight, dtype=np.float32)
    return FeatureGroup(indices, values, np.arange(n + 1, dtype=np.int64) * feats.shape[1])


def featurize(
    descriptions: Sequence[str], amounts_cents: Sequence[int], cfg: FeatureConfig
) -> list[FeatureGroup]:
    """Feature groups for a batch; rows are aligned across groups."""
    if len(descriptions) != len(amounts_cents):
        raise ValueError("descriptions and amounts_cents differ in length")
    split = [split_description(d) for d in descriptions]
    texts = [s[0] for s in split]
    tags = [s[1] for s in split]
    amounts = np.asarray(amounts_cents, dtype=np.int64)
    signs = (amounts >= 0).astype(np.int64)
    return [
        _char_group(texts, cfg),
        _word_group(texts, tags, signs, cfg),
        _amount_group(amounts, cfg),
    ]
