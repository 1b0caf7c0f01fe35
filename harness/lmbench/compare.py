"""Statistics and verdicts: summaries with spread, confidence intervals, and run comparison.

``lmbench compare A B`` pairs the points of two runs or two sweeps (groups), and for every
numeric result they share gives the relative change, a bootstrap confidence interval where
repeats exist (several seeds, or timing samples in a measurement), and a verdict:

* ``better`` / ``worse``: the 95% interval of the relative change excludes zero (or, without
  repeats, the change exceeds ``tolerance``), the change is at least ``tolerance``, and the
  metric has a known direction (see :data:`DIRECTION_RULES`);
* ``changed``: the same, for a metric without a known direction (``steps``, ``params``);
* ``within noise``: otherwise.

:func:`Comparison.regressions` lists the ``worse`` metrics whose change exceeds a threshold:
what ``--fail-on regression --threshold 0.1`` gates on. Only numpy is imported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import LmbenchError, UnknownNameError
from .store import RunRecord, Store, content_id

HIGHER, LOWER, NEUTRAL = 1, -1, 0

#: Direction of a metric by key pattern, first match wins: +1 higher is better, -1 lower is better.
DIRECTION_RULES: list[tuple[str, int]] = [
    (r"(^|_)(params|trainable_params|steps|seed|n|count|tokens|epochs)$", NEUTRAL),
    (r"(tokens_per_s|samples_per_s|_per_s$|throughput|speedup)", HIGHER),
    (r"(accuracy|(^|_)acc($|_)|f1|chrf|bleu|rouge|exact_match|(^|_)mfu($|_)|recall|precision|auc|score)", HIGHER),
    (r"(loss|ppl|perplexity|bits_per_byte|bpb|error|mse|mae|rmse|nll)", LOWER),
    (r"(_ms$|_s$|_us$|_seconds$|time|latency|ttft|memory|_bytes$|(^|_)mem($|_)|flops_per_token)", LOWER),
]


def direction(key: str) -> int:
    """+1 if higher is better for ``key``, -1 if lower is better, 0 when unknown."""
    for pattern, sign in DIRECTION_RULES:
        if re.search(pattern, key):
            return sign
    return NEUTRAL


# -- summaries ------------------------------------------------------------------------------
# two-sided 95% quantiles of Student's t for 1..30 degrees of freedom
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def t_quantile95(dof: int) -> float:
    """The two-sided 95% quantile of Student's t with ``dof`` degrees of freedom."""
    if dof < 1:
        return math.nan
    if dof <= 30:
        return _T95[dof - 1]
    return 1.960 + 2.4 / dof  # within 0.2% of the exact value past 30


@dataclass
class Summary:
    """A set of repeated values (seeds or timing samples) summarised with its spread."""

    n: int
    mean: float
    std: float
    median: float
    p10: float
    p90: float
    ci_low: float
    ci_high: float

    @property
    def value(self) -> float:
        """The central value shown in tables: the mean of seeds, the value of a single run."""
        return self.mean

    @property
    def half_ci(self) -> float:
        """Half the width of the 95% interval (NaN for a single value)."""
        return (self.ci_high - self.ci_low) / 2 if self.n > 1 else math.nan

    def to_dict(self) -> dict[str, float]:
        """The fields as a plain dict (for JSON)."""
        return dict(self.__dict__)


def summarize(values: Sequence[float]) -> Summary | None:
    """Mean, std (ddof=1), median, p10, p90 and a t-based 95% CI of the mean; None when empty."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return None
    mean = float(arr.mean())
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    half = t_quantile95(arr.size - 1) * std / math.sqrt(arr.size) if arr.size > 1 else math.nan
    p10, med, p90 = (float(x) for x in np.percentile(arr, [10, 50, 90]))
    return Summary(int(arr.size), mean, std, med, p10, p90, mean - half, mean + half)


def bootstrap_ratio_ci(a: Sequence[float], b: Sequence[float], *, stat: str = "mean", n_boot: int = 2000,
                       level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat(b) / stat(a) - 1`` (relative change from a to b).

    Each side is resampled with replacement; a side with one value contributes no variance.
    """
    rng = np.random.default_rng(seed)
    fn = np.median if stat == "median" else np.mean
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)

    def draws(x: np.ndarray) -> np.ndarray:
        if x.size == 1:
            return np.full(n_boot, x[0])
        return fn(rng.choice(x, size=(n_boot, x.size), replace=True), axis=1)

    da, db = draws(a_arr), draws(b_arr)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = db / da - 1.0
    rel = rel[np.isfinite(rel)]
    if rel.size == 0:
        return math.nan, math.nan
    alpha = (1 - level) / 2
    low, high = np.quantile(rel, [alpha, 1 - alpha])
    return float(low), float(high)


# -- comparison -------------------------------------------------------------------------------
@dataclass
class MetricComparison:
    """One metric of one pair of points: both sides, relative change, interval and verdict."""

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

    @property
    def worse_by(self) -> float:
        """How much worse b is than a, as a positive fraction (0 when not worse)."""
        if self.direction == NEUTRAL or not math.isfinite(self.rel_change):
            return 0.0
        return max(0.0, -self.direction * self.rel_change)


@dataclass
class Comparison:
    """The result of comparing A with B: one :class:`MetricComparison` per shared metric and point."""

    a_name: str
    b_name: str
    metrics: list[MetricComparison] = field(default_factory=list)
    unpaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def regressions(self, threshold: float = 0.0) -> list[MetricComparison]:
        """Metrics whose verdict is ``worse`` and that got worse by more than ``threshold``."""
        return [m for m in self.metrics if m.verdict == "worse" and m.worse_by > threshold]


def verdict_for(a: Sequence[float], b: Sequence[float], key: str, *, stat: str = "mean", tolerance: float = 0.02,
                n_boot: int = 2000, seed: int = 0) -> tuple[float, tuple[float, float] | None, str]:
    """Relative change of ``stat`` from a to b, its bootstrap CI (None without repeats), and the verdict."""
    fn = np.median if stat == "median" else np.mean
    a_value, b_value = float(fn(a)), float(fn(b))
    if a_value == 0:
        rel = 0.0 if b_value == 0 else math.copysign(math.inf, b_value)
    else:
        rel = b_value / a_value - 1.0
    ci = None
    if len(a) > 1 or len(b) > 1:
        ci = bootstrap_ratio_ci(a, b, stat=stat, n_boot=n_boot, seed=seed)
        significant = math.isfinite(ci[0]) and (ci[0] > 0 or ci[1] < 0)
    else:
        significant = True  # no noise estimate: the tolerance alone decides
    sign = direction(key)
    if not significant or abs(rel) < tolerance or (a_value == b_value):
        verdict = "within noise"
    elif sign == NEUTRAL:
        verdict = "changed"
    else:
        verdict = "better" if rel * sign > 0 else "worse"
    return rel, ci, verdict


def compare_samples(point: str, metric: str, a: Sequence[float], b: Sequence[float], *, stat: str = "mean",
                    tolerance: float = 0.02, seed: int = 0) -> MetricComparison:
    """Compare two sets of repeated values of one metric (the building block of :func:`compare`)."""
    a = [float(x) for x in a if x is not None and math.isfinite(x)]
    b = [float(x) for x in b if x is not None and math.isfinite(x)]
    if not a or not b:
        raise LmbenchError(f"cannot compare {metric}: one side has no finite values")
    rel, ci, verdict = verdict_for(a, b, metric, stat=stat, tolerance=tolerance, seed=seed)
    fn = np.median if stat == "median" else np.mean
    return MetricComparison(point, metric, a, b, stat, float(fn(a)), float(fn(b)), rel, ci, direction(metric), verdict)


def resolve_side(store: Store, name: str) -> tuple[str, list[RunRecord]]:
    """A run id (or unique prefix), or a sweep/group name or id: its display name and runs."""
    try:
        record = store.get(name)
        return run_name(record), [record]
    except UnknownNameError:
        pass
    try:
        group, records = store.group(name)
    except UnknownNameError:
        raise LmbenchError(f"no run or sweep named '{name}' in {store.path}; see `lmbench list runs` "
                           "or pass a run id or sweep name") from None
    if not records:
        raise LmbenchError(f"sweep '{name}' has no runs")
    return group.get("name") or group["id"], records


_SEED_LABEL = re.compile(r"[\s,_-]*seed[=_]?-?\d+")


def run_name(record: RunRecord) -> str:
    """A run's display name: its label, its model/attention names, else its recipe's name."""
    name = record.name
    if name == record.id:
        recipe = record.spec.get("recipe", {}).get("name")
        return str(recipe) if recipe else record.id
    return name


def point_label(record: RunRecord) -> str:
    """A run's name with its seed part removed: the name of the point its seeds share."""
    name = run_name(record)
    return _SEED_LABEL.sub("", name).strip() or name


def point_key(record: RunRecord) -> str:
    """The identity of a run apart from its seed: its spec without ``run.seed`` / ``run.label``."""
    spec = {k: v for k, v in record.spec.items() if k != "run"}
    run = {k: v for k, v in record.spec.get("run", {}).items() if k not in ("seed", "label")}
    return content_id(spec, run, point_label(record))


def group_points(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs that differ only in their seed, together, by point label, in first-seen order.

    Runs whose specs differ in more than the seed are never pooled: a label shared by two such
    points gets the first run's id appended (``lstm [3fa2c1]``).
    """
    by_key: dict[str, list[RunRecord]] = {}
    for record in records:
        by_key.setdefault(point_key(record), []).append(record)
    labels = [point_label(runs[0]) for runs in by_key.values()]
    points: dict[str, list[RunRecord]] = {}
    for label, runs in zip(labels, by_key.values()):
        if labels.count(label) > 1:
            short = f"{label} [{runs[0].id[:6]}]"
            label = short if short not in points else f"{label} [{runs[0].id}]"
        points[label] = runs
    return points


def _timing_samples(store: Store, records: Sequence[RunRecord]) -> dict[str, list[float]]:
    """Timing measurements with raw samples, pooled over the point's runs: name -> samples."""
    out: dict[str, list[float]] = {}
    for record in records:
        for name, data in store.measurements(record.id).items():
            samples = data.get("samples") if isinstance(data, dict) else None
            if isinstance(samples, list) and len(samples) > 1 and all(isinstance(s, (int, float)) for s in samples):
                out.setdefault(f"{name}_s", []).extend(float(x) for x in samples)
    return out


def _result_values(records: Sequence[RunRecord]) -> dict[str, list[float]]:
    values: dict[str, list[float]] = {}
    for record in records:
        if not record.ok:
            continue
        for key, value in record.results.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                values.setdefault(key, []).append(float(value))
    return values


def compare(store: Store, a: str, b: str, *, tolerance: float = 0.02, seed: int = 0) -> Comparison:
    """Compare runs or sweeps ``a`` and ``b`` in ``store`` metric by metric (see module docstring)."""
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
    for label, a_runs, b_runs in pairs:
        for side, runs in (("A", a_runs), ("B", b_runs)):
            failed = [r for r in runs if not r.ok]
            if failed:
                comparison.notes.append(f"{side} {label}: {len(failed)} run(s) not done "
                                        f"({', '.join(sorted({r.status for r in failed}))}) left out")
        a_vals, b_vals = _result_values(a_runs), _result_values(b_runs)
        for key in [k for k in a_vals if k in b_vals]:
            comparison.metrics.append(compare_samples(label, key, a_vals[key], b_vals[key], stat="mean",
                                                      tolerance=tolerance, seed=seed))
        a_t, b_t = _timing_samples(store, a_runs), _timing_samples(store, b_runs)
        for key in [k for k in a_t if k in b_t]:
            comparison.metrics.append(compare_samples(label, key, a_t[key], b_t[key], stat="median",
                                                      tolerance=tolerance, seed=seed))
    if not comparison.metrics:
        comparison.notes.append("no numeric result is shared by both sides")
    return comparison


def format_change(rel: float) -> str:
    """``+12.3%`` / ``-4.0%``."""
    if not math.isfinite(rel):
        return "n/a"
    return f"{rel * 100:+.1f}%"


def comparison_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """Rows for display or JSON: point, metric, A, B, change, CI, verdict, n."""
    from .report.tables import fmt_number

    rows = []
    for m in comparison.metrics:
        ci = f"[{format_change(m.ci[0])}, {format_change(m.ci[1])}]" if m.ci else "n=1"
        rows.append({"point": m.point, "metric": m.metric, "a": fmt_number(m.a_value), "b": fmt_number(m.b_value),
                     "change": format_change(m.rel_change), "ci95": ci, "verdict": m.verdict,
                     "n": f"{len(m.a)}/{len(m.b)}", "stat": m.stat})
    return rows
