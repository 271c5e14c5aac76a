"""Finished jobs over time: counts per bucket (minute or hour) and run-time histograms.

Buckets are counted from ``finished_at``; run times go into a log-spaced histogram (bins 15%
wide), so percentiles can be read off any sum of buckets. A bucket that ended
``SETTLE_SECONDS`` ago no longer changes, so each process keeps it in memory: a request reads
only the last few minutes from the database.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import ConfigurationError

Histogram = npt.NDArray[np.int64]
MINUTE, HOUR = 60, 3600
WINDOWS: dict[str, tuple[int, int]] = {"hour": (MINUTE, 60), "day": (HOUR, 24)}
SETTLE_SECONDS = 120.0  # a bucket this long past its end is final (late writes, clock skew)
RATIO = 1.15  # run-time histogram: each bin is 15% wider than the one before
_K = 1 / math.log(RATIO)
BINS = 1 + int(math.log(86_400_000) * _K)  # 1 ms .. 1 day; longer runs count in the last bin
SERIES = (
    "SELECT task, status, floor((finished_at - :start) / :width),"
    " CASE WHEN status = 'cancelled' OR started_at IS NULL THEN NULL"
    " WHEN finished_at - started_at < 0.001 THEN 0"
    " ELSE floor(ln((finished_at - started_at) * 1000) * :k) END, count(*)"
    " FROM lf_jobs WHERE finished_at >= :start AND finished_at < :end GROUP BY 1, 2, 3, 4"
)


@dataclass(slots=True)
class TaskRuns:
    """One task's jobs finished in one bucket: counts, and a histogram of run times."""

    complete: int = 0
    failed: int = 0
    cancelled: int = 0
    bins: Histogram = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))


def merge(parts: Iterable[TaskRuns]) -> TaskRuns:
    """The sum of several buckets' (or tasks') runs."""
    runs = list(parts)
    if not runs:
        return TaskRuns()
    return TaskRuns(
        sum(r.complete for r in runs),
        sum(r.failed for r in runs),
        sum(r.cancelled for r in runs),
        np.sum([r.bins for r in runs], axis=0, dtype=np.int64),
    )


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    start: float
    complete: int
    failed: int
    cancelled: int
    failure_rate: float | None  # failed / (complete + failed)
    p50: float | None  # run-time percentiles (seconds) of jobs that completed or failed
    p95: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class Series:
    window: str
    bucket_seconds: int
    points: list[SeriesPoint]
    by_task: dict[str, TaskRuns]


@dataclass
class _Buckets:
    """Final buckets of one database, by (width, start); shared by the process's requests."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: dict[tuple[int, float], dict[str, TaskRuns]] = field(default_factory=dict)


_BUCKETS: dict[str, _Buckets] = {}
_BUCKETS_LOCK = threading.Lock()


def percentiles(bins: Histogram, qs: Sequence[float]) -> list[float | None]:
    """Quantiles (seconds) of a run-time histogram, each interpolated inside its bin."""
    total = int(bins.sum())
    if not total:
        return [None] * len(qs)
    cumulative = np.cumsum(bins)
    found: list[float | None] = []
    for q in qs:
        target = max(q * total, 1e-9)
        b = int(np.searchsorted(cumulative, target))  # the first bin reaching the target
        seen = int(cumulative[b] - bins[b])
        found.append(math.exp((b + (target - seen) / int(bins[b])) / _K) / 1000)
    return found


class RunSeries:
    """The time series of one database; its final buckets are shared by the process."""

    def __init__(self, url: str, rows: Callable[[str, Mapping[str, Any]], list[Any]]) -> None:
        self._rows = rows
        with _BUCKETS_LOCK:
            self._buckets = _BUCKETS.setdefault(url, _Buckets())

    def series(
        self, window: str = "hour", now: float | None = None, task: str | None = None
    ) -> Series:
        """Throughput, failure rate and run-time percentiles per minute (hour) or hour (day)."""
        if window not in WINDOWS:
            raise ConfigurationError(f"window must be one of {sorted(WINDOWS)}")
        width, count = WINDOWS[window]
        now = time.time() if now is None else now
        first = (now // width - count + 1) * width
        starts = [first + i * width for i in range(count)]
        buckets = self._bucket_runs(width, starts, now)
        self._prune(now)
        points: list[SeriesPoint] = []
        for start in starts:
            total = merge(r for name, r in buckets[start].items() if task in (None, name))
            ended = total.complete + total.failed
            p50, p95, p99 = percentiles(total.bins, (0.5, 0.95, 0.99))
            points.append(
                SeriesPoint(
                    start, total.complete, total.failed, total.cancelled,
                    total.failed / ended if ended else None, p50, p95, p99,
                )
            )  # fmt: skip
        names = {name for bucket in buckets.values() for name in bucket}
        by_task = {n: merge(b[n] for b in buckets.values() if n in b) for n in sorted(names)}
        return Series(window, width, points, by_task)

    def _bucket_runs(
        self, width: int, starts: list[float], now: float
    ) -> dict[float, dict[str, TaskRuns]]:
        cache = self._buckets
        final = [s for s in starts if s + width <= now - SETTLE_SECONDS]
        with cache.lock:
            missing = [s for s in final if (width, s) not in cache.done]
        if missing:
            fetched = self._fetch(width, missing[0], missing[-1] + width)
            with cache.lock:
                for s in missing:
                    cache.done[(width, s)] = fetched.get(s, {})
        with cache.lock:
            result = {s: cache.done[(width, s)] for s in final}
        live = [s for s in starts if s not in result]
        if live and width == MINUTE:
            result.update(self._fetch(width, live[0], live[-1] + width))
        elif live:  # an hour still filling up: the sum of its minutes
            for s in live:
                minutes = [float(m) for m in range(int(s), int(s + width), MINUTE) if m <= now]
                parts = self._bucket_runs(MINUTE, minutes, now).values()
                names = {name for part in parts for name in part}
                result[s] = {n: merge(p[n] for p in parts if n in p) for n in names}
        for s in starts:
            result.setdefault(s, {})
        return result

    def _fetch(self, width: int, start: float, end: float) -> dict[float, dict[str, TaskRuns]]:
        params = {"start": start, "end": end, "width": float(width), "k": _K}
        found: dict[float, dict[str, TaskRuns]] = {}
        for name, status, index, run_bin, n in self._rows(SERIES, params):
            runs = found.setdefault(start + int(index) * width, {}).setdefault(name, TaskRuns())
            if status == "complete":
                runs.complete += n
            elif status == "failed":
                runs.failed += n
            else:
                runs.cancelled += n
            if run_bin is not None:
                runs.bins[min(int(run_bin), BINS - 1)] += n
        return found

    def _prune(self, now: float) -> None:
        with self._buckets.lock:
            for key in [k for k in self._buckets.done if k[1] < now - 2 * WINDOWS["day"][1] * HOUR]:
                del self._buckets.done[key]
