"""The result type shared by the model, the company memory and the categorizer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Prediction:
    """A category with the probability that it is right.

    `alternatives` holds the top candidates (at most 3), best first, the chosen category
    included, each with its probability. `source` says which component decided: "model" (the
    global learned model) or "memory" (this company's own approved history).
    """

    category: str
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    source: str = "model"
