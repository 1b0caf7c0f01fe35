"""The comparison of two runs or two sweeps: change, interval and verdict per shared result.

``lmbench compare A B`` pairs the points of two runs or sweeps (:mod:`lmbench.points`), and for
every numeric result they share gives the relative change, a bootstrap confidence interval where
repeats exist (several seeds, or timing samples in a measurement; :mod:`lmbench.stats`), and a
verdict:

* ``better`` / ``worse``: the 95% interval of the relative change excludes zero (or, without
  repeats, the change exceeds ``tolerance``), the change is at least ``tolerance``, and the
  result has a direction (declared, :mod:`lmbench.results`; or guessed for undeclared keys,
  which the comparison marks);
* ``changed``: the same, for a result without a direction (``steps``, ``params``);
* ``within noise``: otherwise.

Old result names (``train_time_s``) are read under their declared new names, so runs of labs
that return the shared cost vocabulary line up. When the two sides come from different plugins
(``lm.train`` against ``looped.train``), only keys whose meaning both share are compared: the
core's cost vocabulary and keys nobody declared; one lab's ``val_loss`` is not another's.
:func:`Comparison.regressions` lists the ``worse`` results whose change exceeds a threshold:
what ``--fail-on regression --threshold 0.1`` gates on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import LmbenchError
from .numbers import fmt_number, format_change, is_number
from .points import group_points, recipe_plugin, resolve_side
from .results import NEUTRAL, Renamed, ResultRegistry, canonical_results, vocabulary
from .stats import bootstrap_ratio_ci, center, relative_change, summarize
from .store import RunRecord, Store

__all__ = ["Comparison", "MetricComparison", "compare", "compare_samples", "comparison_rows", "verdict_for",
           "shared_meaning", "group_points", "summarize"]  # the last two: kept importable from here for callers

KIND_ORDER = {"quality": 0, "cost": 1, "info": 2}


@dataclass
class MetricComparison:
    """One result of one pair of points: both sides, relative change, interval and verdict."""

    point: str
    metric: str
    a: list[float]
    b: list[float]
    stat: str
    a_value: float
    b_value: float
    rel_change: float
    ci: tuple[float, float] | None
    direction: int
    verdict: str
    kind: str = "info"
    guessed: bool = False

    @property
    def worse_by(self) -> float:
        """How much worse b is than a, as a positive fraction (0 when not worse)."""
        if self.direction == NEUTRAL or not math.isfinite(self.rel_change):
            return 0.0
        return max(0.0, -self.direction * self.rel_change)


@dataclass
class Comparison:
    """The result of comparing A with B: one :class:`MetricComparison` per shared result and point."""

    a_name: str
    b_name: str
    metrics: list[MetricComparison] = field(default_factory=list)
    unpaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def regressions(self, threshold: float = 0.0) -> list[MetricComparison]:
        """Results whose verdict is ``worse`` and that got worse by more than ``threshold``."""
        return [m for m in self.metrics if m.verdict == "worse" and m.worse_by > threshold]


def verdict_for(a: Sequence[float], b: Sequence[float], sign: int, *, stat: str = "mean", tolerance: float = 0.02,
                n_boot: int = 2000, seed: int = 0) -> tuple[float, tuple[float, float] | None, str]:
    """Relative change of ``stat`` from a to b, its bootstrap CI (None without repeats), and the
    verdict for a result whose better direction is ``sign`` (+1, -1, or 0 for none)."""
    a_value, b_value = center(a, stat), center(b, stat)
    rel = relative_change(a_value, b_value)
    ci = None
    if len(a) > 1 or len(b) > 1:
        ci = bootstrap_ratio_ci(a, b, stat=stat, n_boot=n_boot, seed=seed)
        significant = math.isfinite(ci[0]) and (ci[0] > 0 or ci[1] < 0)
    else:
        significant = True  # no noise estimate: the tolerance alone decides
    if not significant or abs(rel) < tolerance or (a_value == b_value):
        verdict = "within noise"
    elif sign == NEUTRAL:
        verdict = "changed"
    else:
        verdict = "better" if rel * sign > 0 else "worse"
    return rel, ci, verdict


def compare_samples(point: str, metric: str, a: Sequence[float], b: Sequence[float], *, stat: str = "mean",
                    tolerance: float = 0.02, seed: int = 0, vocab: ResultRegistry | None = None,
                    plugin: str | None = None) -> MetricComparison:
    """Compare two sets of repeated values of one result (the building block of :func:`compare`)."""
    a = [float(x) for x in a if x is not None and math.isfinite(x)]
    b = [float(x) for x in b if x is not None and math.isfinite(x)]
    if not a or not b:
        raise LmbenchError(f"cannot compare {metric}: one side has no finite values")
    spec = (vocab or vocabulary()).spec(metric, plugin)
    rel, ci, verdict = verdict_for(a, b, spec.sign, stat=stat, tolerance=tolerance, seed=seed)
    return MetricComparison(point, metric, a, b, stat, center(a, stat), center(b, stat), rel, ci, spec.sign, verdict,
                            spec.kind, spec.guessed)


def _timing_samples(store: Store, records: Sequence[RunRecord]) -> dict[str, list[float]]:
    """Timing measurements with raw samples, pooled over the point's runs: name -> samples (seconds)."""
    out: dict[str, list[float]] = {}
    for record in records:
        for name, data in store.measurements(record.id).items():
            samples = data.get("samples") if isinstance(data, dict) else None
            if isinstance(samples, list) and len(samples) > 1 and all(isinstance(s, (int, float)) for s in samples):
                out.setdefault(f"{name}_s", []).extend(float(x) for x in samples)
    return out


def _result_values(records: Sequence[RunRecord], vocab: ResultRegistry, renamed: Renamed) -> dict[str, list[float]]:
    values: dict[str, list[float]] = {}
    for record in records:
        if not record.ok:
            continue
        for key, value in canonical_results(record.results, vocab, renamed).items():
            if is_number(value):
                values.setdefault(key, []).append(float(value))
    return values


def _plugins(records: Sequence[RunRecord]) -> set[str]:
    return {p for p in (recipe_plugin(r) for r in records) if p}


def shared_meaning(key: str, vocab: ResultRegistry, a_plugins: set[str], b_plugins: set[str]) -> bool:
    """Whether ``key`` means the same on both sides: same plugins, a core key, or a key no plugin declares."""
    if a_plugins == b_plugins:
        return True
    owners = set(vocab.declared_by(key))
    return not owners or "core" in owners


def compare(store: Store, a: str, b: str, *, tolerance: float = 0.02, seed: int = 0, host: Any = None) -> Comparison:
    """Compare runs or sweeps ``a`` and ``b`` in ``store`` result by result (see module docstring)."""
    vocab = vocabulary(host)
    a_name, a_records = resolve_side(store, a)
    b_name, b_records = resolve_side(store, b)
    comparison = Comparison(a_name, b_name)
    a_points, b_points = group_points(a_records), group_points(b_records)
    if len(a_points) == 1 and len(b_points) == 1:
        pairs = [(f"{next(iter(a_points))} vs {next(iter(b_points))}", *a_points.values(), *b_points.values())]
    else:
        pairs = [(label, a_points[label], b_points[label]) for label in a_points if label in b_points]
        comparison.unpaired = [f"A: {p}" for p in a_points if p not in b_points] + \
                              [f"B: {p}" for p in b_points if p not in a_points]
        if not pairs:
            raise LmbenchError(f"'{a}' and '{b}' share no points (labels differ: {', '.join(list(a_points)[:4])} vs "
                               f"{', '.join(list(b_points)[:4])}); compare single runs by id")
    renamed, left_out = Renamed(), set()
    for label, a_runs, b_runs in pairs:
        for side, runs in (("A", a_runs), ("B", b_runs)):
            failed = [r for r in runs if not r.ok]
            if failed:
                comparison.notes.append(f"{side} {label}: {len(failed)} run(s) not done "
                                        f"({', '.join(sorted({r.status for r in failed}))}) left out")
        a_plugins, b_plugins = _plugins(a_runs), _plugins(b_runs)
        plugin = next(iter(a_plugins)) if len(a_plugins) == 1 else None
        a_vals, b_vals = _result_values(a_runs, vocab, renamed), _result_values(b_runs, vocab, renamed)
        for key in [k for k in a_vals if k in b_vals]:
            if not shared_meaning(key, vocab, a_plugins, b_plugins):
                left_out.add(key)
                continue
            comparison.metrics.append(compare_samples(label, key, a_vals[key], b_vals[key], stat="mean",
                                                      tolerance=tolerance, seed=seed, vocab=vocab, plugin=plugin))
        a_t, b_t = _timing_samples(store, a_runs), _timing_samples(store, b_runs)
        for key in [k for k in a_t if k in b_t]:
            comparison.metrics.append(compare_samples(label, key, a_t[key], b_t[key], stat="median",
                                                      tolerance=tolerance, seed=seed, vocab=vocab, plugin=plugin))
    plugin = next(iter(_plugins(a_records)), None)
    comparison.metrics.sort(key=lambda m: (KIND_ORDER.get(m.kind, 3), m.guessed, vocab.position(m.metric, plugin)))
    if left_out:
        comparison.notes.append("declared differently by the two sides' plugins, not compared: "
                                + ", ".join(sorted(left_out)))
    if renamed.note():
        comparison.notes.append(renamed.note())
    if any(m.guessed for m in comparison.metrics):
        comparison.notes.append("* undeclared result: its direction is guessed from its name")
    if not comparison.metrics:
        comparison.notes.append("no numeric result is shared by both sides")
    return comparison


def comparison_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """Rows for display or JSON: point, metric, kind, A, B, change, CI, verdict, n."""
    rows = []
    for m in comparison.metrics:
        ci = f"[{format_change(m.ci[0])}, {format_change(m.ci[1])}]" if m.ci else "n=1"
        rows.append({"point": m.point, "metric": m.metric, "guessed": m.guessed, "kind": m.kind,
                     "a": fmt_number(m.a_value), "b": fmt_number(m.b_value), "change": format_change(m.rel_change),
                     "ci95": ci, "verdict": m.verdict, "n": f"{len(m.a)}/{len(m.b)}", "stat": m.stat})
    return rows
