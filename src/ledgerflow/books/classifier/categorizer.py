"""Company memory first, then the global model.

The company's own approved history is the best evidence there is about its books, so a
confident memory answer wins. When memory and model agree, the two independent signals together
are surer than either (noisy-or). When they disagree and memory is unsure (a merchant booked two
ways), the more confident one wins and the other stays among the alternatives for review.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledgerflow.books.classifier.memory import MerchantMemory
from ledgerflow.books.classifier.model import CategoryModel
from ledgerflow.books.classifier.prediction import Prediction

DEFAULT_MEMORY_THRESHOLD = 0.9
_MAX_CONFIDENCE = 0.999


def _merge_alternatives(
    first: Prediction, second: Prediction, chosen: str, confidence: float
) -> list[tuple[str, float]]:
    best: dict[str, float] = {}
    for cat, p in [*first.alternatives, *second.alternatives]:
        best[cat] = max(best.get(cat, 0.0), p)
    best[chosen] = confidence
    others = sorted(
        ((c, p) for c, p in best.items() if c != chosen), key=lambda cp: (-cp[1], cp[0])
    )
    return [(chosen, confidence), *others[:2]]


def combine(model_pred: Prediction, memory_pred: Prediction | None, threshold: float) -> Prediction:
    """Decide between one row's model prediction and its memory lookup."""
    if memory_pred is None:
        return model_pred
    if memory_pred.category == model_pred.category:
        both = 1.0 - (1.0 - memory_pred.confidence) * (1.0 - model_pred.confidence)
        confidence = round(min(_MAX_CONFIDENCE, both), 6)
        alts = _merge_alternatives(memory_pred, model_pred, memory_pred.category, confidence)
        return Prediction(memory_pred.category, confidence, alts, "memory")
    if memory_pred.confidence >= threshold or memory_pred.confidence > model_pred.confidence:
        alts = _merge_alternatives(
            memory_pred, model_pred, memory_pred.category, memory_pred.confidence
        )
        return Prediction(memory_pred.category, memory_pred.confidence, alts, "memory")
    alts = _merge_alternatives(model_pred, memory_pred, model_pred.category, model_pred.confidence)
    return Prediction(model_pred.category, model_pred.confidence, alts, "model")


class Categorizer:
    def __init__(
        self,
        model: CategoryModel,
        memory: MerchantMemory | None = None,
        memory_threshold: float = DEFAULT_MEMORY_THRESHOLD,
    ) -> None:
        self.model = model
        self.memory = memory
        self.memory_threshold = memory_threshold

    def predict(
        self, descriptions: Sequence[str], amounts_cents: Sequence[int]
    ) -> list[Prediction]:
        model_preds = self.model.predict(descriptions, amounts_cents)
        if self.memory is None or len(self.memory) == 0:
            return model_preds
        return [
            combine(pred, self.memory.lookup(d, a), self.memory_threshold)
            for pred, d, a in zip(model_preds, descriptions, amounts_cents, strict=True)
        ]
