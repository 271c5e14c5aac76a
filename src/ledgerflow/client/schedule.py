"""The polling schedule, shared with the React hook: 1 s ×5, 1.5 s ×5, 2.25 s ×5, … up to 5 s."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """``initial`` seconds for ``per_step`` polls, then ``factor`` times longer per step,
    never more than ``maximum``."""

    initial: float = 1.0
    factor: float = 1.5
    per_step: int = 5
    maximum: float = 5.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.per_step < 1 or self.maximum <= 0:
            raise ValueError("Backoff needs initial > 0, factor >= 1, per_step >= 1, maximum > 0")

    def delay(self, index: int) -> float:
        """Seconds to wait after poll number ``index`` (0-based) before the next one."""
        step = index // self.per_step
        return float(min(self.initial * self.factor**step, self.maximum))

    def __iter__(self) -> Iterator[float]:
        return (self.delay(i) for i in itertools.count())
