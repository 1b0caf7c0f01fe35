"""Classification metrics: scikit-learn's own functions, nothing re-implemented."""

from __future__ import annotations

from typing import Any, Sequence


class F1Macro:
    """``sklearn.metrics.f1_score(average="macro")``."""

    input = "class_label"
    produces = ("f1_macro",)

    def __init__(self, config: Any = None, **_: Any):
        self.config = config

    def compute(self, predictions: Sequence[int], references: Sequence[int]) -> dict[str, float]:
        from sklearn.metrics import f1_score

        return {"f1_macro": float(f1_score(list(references), list(predictions), average="macro", zero_division=0))}


class Accuracy:
    """``sklearn.metrics.accuracy_score``."""

    input = "class_label"
    produces = ("accuracy",)

    def __init__(self, config: Any = None, **_: Any):
        self.config = config

    def compute(self, predictions: Sequence[int], references: Sequence[int]) -> dict[str, float]:
        from sklearn.metrics import accuracy_score

        return {"accuracy": float(accuracy_score(list(references), list(predictions)))}


def classification_metrics(predictions: Sequence[int], references: Sequence[int]) -> dict[str, float]:
    """F1-macro and accuracy together."""
    return {**F1Macro().compute(predictions, references), **Accuracy().compute(predictions, references)}
