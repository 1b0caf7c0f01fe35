"""Feeding the spec's metrics batch by batch: what a recipe uses to honour ``[metrics]``.

A recipe gets a :class:`MetricFeed` from ``run.metric_feed(kind)`` holding the spec's metrics of
that input kind (:data:`lmbench.plugin.components.INPUT_KINDS`), gives it each evaluation batch with
``feed.update(predictions, references)`` and reads ``feed.result()`` once. How batches combine
depends on the metric (see :class:`lmbench.plugin.components.Metric`):

- a streaming metric (``update``/``result``) accumulates itself;
- a ``next_token`` or ``regression`` metric returns per-item means, combined here by the mean
  weighted by the batch's item count;
- any other metric (F1, chrF) gets every item in one ``compute`` call at the end.
"""

from __future__ import annotations

from typing import Any

from ..plugin.components import NEXT_TOKEN, REGRESSION

__all__ = ["MetricFeed"]

_MEAN_KINDS = (NEXT_TOKEN, REGRESSION)


class MetricFeed:
    """The spec's metrics of one input kind, fed batch by batch; ``bool(feed)`` is False when empty."""

    def __init__(self, kind: str, metrics: dict[str, Any]):
        self.kind = kind
        self.metrics = metrics
        self._sums: dict[str, dict[str, float]] = {name: {} for name in metrics}
        self._counts: dict[str, float] = {name: 0.0 for name in metrics}
        self._held: dict[str, tuple[list[Any], list[Any]]] = {name: ([], []) for name in metrics}

    def __bool__(self) -> bool:
        return bool(self.metrics)

    def update(self, predictions: Any, references: Any) -> None:
        """One batch: predictions and references of this feed's kind (shapes in ``INPUT_KINDS``)."""
        n = _length(references)
        for name, metric in self.metrics.items():
            if callable(getattr(metric, "update", None)) and callable(getattr(metric, "result", None)):
                metric.update(predictions, references)
            elif self.kind in _MEAN_KINDS:
                if n == 0:
                    continue
                for key, value in metric.compute(predictions, references).items():
                    self._sums[name][key] = self._sums[name].get(key, 0.0) + float(value) * n
                self._counts[name] += n
            else:
                preds, refs = self._held[name]
                preds.extend(_items(predictions))
                refs.extend(_items(references))

    def result(self) -> dict[str, float]:
        """Every metric's results, merged (keys as each metric names them)."""
        out: dict[str, float] = {}
        for name, metric in self.metrics.items():
            if callable(getattr(metric, "update", None)) and callable(getattr(metric, "result", None)):
                out.update(metric.result())
            elif self.kind in _MEAN_KINDS:
                count = self._counts[name]
                out.update({k: v / count for k, v in self._sums[name].items()} if count else {})
            else:
                preds, refs = self._held[name]
                if refs:
                    out.update(metric.compute(preds, refs))
        return {k: float(v) if isinstance(v, (int, float)) else v for k, v in out.items()}


def _length(values: Any) -> int:
    shape = getattr(values, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) else 1
    return len(values)


def _items(values: Any) -> list[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)
