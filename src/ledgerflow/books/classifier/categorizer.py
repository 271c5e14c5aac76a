"""Company memory first, then the global model.

The company's own approved history is the best evidence there is about its books, so a
confident memory answer wins over a confident model. When memory and model agree and the model
is sure, the two signals together are surer than either (noisy-or). When they disagree and
memory is unsure (a merchant booked two ways), the more confident one wins and the other stays
among the alternatives for review.

When the model is *unsure* (below the threshold: a merchant it does not know, or one it knows
is booked several ways, such as Costco), its distribution is a prior worth `prior_rows` approved
rows and the memory's rows are counted on top: confidence (n_c + k·p_c) / (n + k). Three
approved rows of a merchant the model puts at 60/40 then give 0.84 (review), six give 0.90,
while three rows of a merchant the model merely does not know yet (p_c ≈ 0.8) give 0.92.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledgerflow.books.classifier.categories import CATEGORIES
from ledgerflow.books.classifier.memory import MerchantMemory
from ledgerflow.books.classifier.model import CategoryModel
from ledgerflow.books.classifier.prediction import Prediction

DEFAULT_MEMORY_THRESHOLD = 0.9
DEFAULT_PRIOR_ROWS = 2.0
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


def combine(
    model_pred: Prediction,
    memory_pred: Prediction | None,
    threshold: float,
    memory_rows: dict[str, float] | None = None,
    prior_rows: float = DEFAULT_PRIOR_ROWS,
) -> Prediction:
    """Decide between one row's model prediction and its memory lookup. `memory_rows` (approved
    rows per category behind the memory's answer) enables the counting rule for an unsure model;
    without it an unsure model is treated like a sure one."""
    if memory_pred is None:
        return model_pred
    if memory_rows and prior_rows > 0 and model_pred.confidence < threshold:
        return _counted(model_pred, memory_pred, memory_rows, prior_rows)
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


def _counted(
    model_pred: Prediction,
    memory_pred: Prediction,
    memory_rows: dict[str, float],
    prior_rows: float,
) -> Prediction:
    """(n_c + k·p_c) / (n + k): the model's distribution as a prior worth k approved rows. The
    model's probabilities outside its top 3 are spread evenly over the other categories."""
    model_p = dict(model_pred.alternatives)
    rest = max(0.0, 1.0 - sum(model_p.values()))
    unlisted = rest / max(1, len(CATEGORIES) - len(model_p))
    total = sum(memory_rows.values()) + prior_rows
    posterior = {
        cat: (memory_rows.get(cat, 0.0) + prior_rows * model_p.get(cat, unlisted)) / total
        for cat in {*model_p, *memory_rows}
    }
    ranked = sorted(posterior.items(), key=lambda cp: (-cp[1], cp[0]))[:3]
    alts = [(cat, round(min(_MAX_CONFIDENCE, p), 6)) for cat, p in ranked]
    category, confidence = alts[0]
    source = "memory" if category == memory_pred.category else "model"
    return Prediction(category, confidence, alts, source)


class Categorizer:
    def __init__(
        self,
        model: CategoryModel,
        memory: MerchantMemory | None = None,
        memory_threshold: float = DEFAULT_MEMORY_THRESHOLD,
        prior_rows: float = DEFAULT_PRIOR_ROWS,
    ) -> None:
        self.model = model
        self.memory = memory
        self.memory_threshold = memory_threshold
        self.prior_rows = prior_rows

    def predict(
        self, descriptions: Sequence[str], amounts_cents: Sequence[int]
    ) -> list[Prediction]:
        model_preds = self.model.predict(descriptions, amounts_cents)
        if self.memory is None or len(self.memory) == 0:
            return model_preds
        out = []
        for pred, d, a in zip(model_preds, descriptions, amounts_cents, strict=True):
            found = self.memory.evidence(d, a)
            if found is None:
                out.append(pred)
            else:
                memory_pred, rows = found
                out.append(combine(pred, memory_pred, self.memory_threshold, rows, self.prior_rows))
        return out
