"""The comparison of two runs or two sweeps: change, interval, p-value and verdict per shared result.

``lmbench compare A B`` pairs the points of two runs or sweeps (:mod:`lmbench.stats.points`) and, for
every numeric result they share, picks the strongest design the stored runs allow (``basis``):

1. ``paired by seed``: at least two seeds ran on both sides; a paired BCa bootstrap interval of
   ``mean(B) / mean(A) - 1`` over the seeds and a paired t test.
2. ``paired by example``: one run a side, and both stored per-example scores for the result
   (the ``per_example`` measurement, below); a paired bootstrap over examples and a paired t test,
   McNemar's exact test when the scores are right/wrong (0/1), sacrebleu's paired bootstrap when
   they are hypotheses with references (chrF++).
3. ``unpaired``: several runs on a side but no pairing; an unpaired BCa interval and Welch's t test
   (timing samples of a measurement: the medians' interval and a Mann-Whitney U test).
4. ``single run: no interval``: one value a side; only the tolerance decides.

The p-values of one comparison are adjusted together (Benjamini-Hochberg), and the verdict is

* ``better`` / ``worse``: adjusted p < 0.05 and the interval excludes zero (single runs: always),
  the change is at least the tolerance, and the result has a direction (declared,
  :mod:`lmbench.plugin.results`; guessed for undeclared keys, which the comparison marks);
* ``changed``: the same, for a result without a direction (``steps``, ``params``);
* ``within noise``: otherwise.

The tolerance is ``--tolerance`` when given, else the measured noise floor of the kind of run
(:mod:`lmbench.stats.noise`), else 2%; each row says which. Per-example scores are a measurement named
``per_example`` whose data maps a result name to a list aligned by example index: numbers
(a loss per evaluation batch or document, 0/1 correctness), or ``{"hypotheses": [...],
"references": [...]}`` for a text metric. Old result names are read under their declared new
names; when the sides come from different plugins only keys whose meaning both share are compared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import LmbenchError
from .noise import floor_key, load_noise, run_kind
from ..numbers import fmt_number, format_change
from .points import group_points, recipe_plugin, resolve_side
from ..plugin.results import NEUTRAL, Renamed, ResultRegistry, vocabulary
from . import (BOOTSTRAP_FROM, bh_adjust, bootstrap_ratio_ci, center, chrf_paired_pvalue, mcnemar_pvalue,
               paired_ratio_ci, paired_t_pvalue, relative_change, summarize, t_ratio_ci, welch_pvalue)
from ..store import RunRecord, Store
from .sides import by_seed, per_example, timing_samples

__all__ = ["Comparison", "MetricComparison", "compare", "compare_samples", "compare_examples", "comparison_rows",
           "verdict_for", "shared_meaning", "group_points", "summarize", "same_weights", "one_seed_fix",
           "DEFAULT_TOLERANCE", "ALPHA", "NO_VERDICT"]

KIND_ORDER = {"quality": 0, "cost": 1, "info": 2}
DEFAULT_TOLERANCE = 0.02
ALPHA = 0.05
SINGLE = "single run: no interval"
#: The verdict of a training change seen on one seed a side without a measured noise floor.
NO_VERDICT = "no verdict"
#: Interval methods, printed beside each interval.
T_INTERVAL, BCA = "t", "BCa bootstrap"


@dataclass
class MetricComparison:
    """One result of one pair of points: both sides, relative change, interval, p-value and verdict."""

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
    basis: str = SINGLE
    p_value: float = math.nan
    p_adjusted: float = math.nan
    tolerance: float = DEFAULT_TOLERANCE
    tolerance_source: str = "default 2%"
    interval: str = ""  # how ``ci`` was computed: "t" (n < 10), "BCa bootstrap", "sacrebleu bootstrap"
    judged_on: str = ""  # the base quantity whose verdict this row shares (val_ppl -> val_loss)
    log_scale: bool = False  # judge the change of log(value) against the tolerance (a perplexity alone)
    seeds: list = field(default_factory=list)  # the seed of each (a[i], b[i]) pair, when paired by seed

    @property
    def worse_by(self) -> float:
        """How much worse b is than a, as a positive fraction (0 when not worse)."""
        if self.direction == NEUTRAL or not math.isfinite(self.rel_change):
            return 0.0
        return max(0.0, -self.direction * self.rel_change)

    def decide(self, alpha: float = ALPHA) -> str:
        """Set and return the verdict from the (adjusted) p-value, the interval and the tolerance."""
        p = self.p_adjusted if math.isfinite(self.p_adjusted) else self.p_value
        change = self.rel_change
        if self.log_scale and self.a_value > 0 and self.b_value > 0:
            change = relative_change(math.log(self.a_value), math.log(self.b_value))
        if self.basis == SINGLE:
            # one seed a side: seed noise unknown, so no better/worse (a result without a direction,
            # params or steps, may still be "changed": that is a fact, not a claim)
            if not self.tolerance_source.startswith("noise floor") and self.direction != NEUTRAL:
                self.verdict = NO_VERDICT
                return self.verdict
            significant = True
        else:
            excludes_zero = self.ci is None or (math.isfinite(self.ci[0]) and (self.ci[0] > 0 or self.ci[1] < 0))
            significant = math.isfinite(p) and p < alpha and excludes_zero
        if not significant or abs(change) < self.tolerance or self.a_value == self.b_value:
            self.verdict = "within noise"
        elif self.direction == NEUTRAL:
            self.verdict = "changed"
        else:
            self.verdict = "better" if self.rel_change * self.direction > 0 else "worse"
        return self.verdict


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


def verdict_for(a: Sequence[float], b: Sequence[float], sign: int, *, stat: str = "mean",
                tolerance: float = DEFAULT_TOLERANCE, paired: bool = False, n_boot: int = 2000,
                seed: int = 0) -> tuple[float, tuple[float, float] | None, str]:
    """Relative change of ``stat`` from a to b, its bootstrap CI (None without repeats), and the
    verdict (unadjusted p-value) for a result whose better direction is ``sign`` (+1, -1, 0)."""
    m = compare_samples("", "", a, b, stat=stat, tolerance=tolerance, paired=paired, seed=seed, n_boot=n_boot,
                        sign=sign)
    return m.rel_change, m.ci, m.verdict


def _spec(metric: str, vocab: ResultRegistry | None, plugin: str | None, sign: int | None) -> tuple[int, str, bool]:
    if sign is not None:
        return sign, "info", False
    spec = (vocab or vocabulary()).spec(metric, plugin)
    return spec.sign, spec.kind, spec.guessed


def compare_samples(point: str, metric: str, a: Sequence[float], b: Sequence[float], *, stat: str = "mean",
                    tolerance: float | None = None, seed: int = 0, vocab: ResultRegistry | None = None,
                    plugin: str | None = None, paired: bool = False, n_boot: int = 2000,
                    sign: int | None = None) -> MetricComparison:
    """Compare two sets of repeated values of one result; ``paired``: ``a[i]`` and ``b[i]`` share a seed."""
    if paired:
        keep = [(x, y) for x, y in zip(a, b) if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
        a, b = [float(x) for x, _ in keep], [float(y) for _, y in keep]
    else:
        a = [float(x) for x in a if x is not None and math.isfinite(x)]
        b = [float(x) for x in b if x is not None and math.isfinite(x)]
    if not a or not b:
        raise LmbenchError(f"cannot compare {metric}: one side has no finite values")
    direction, kind, guessed = _spec(metric, vocab, plugin, sign)
    a_value, b_value = center(a, stat), center(b, stat)
    m = MetricComparison(point, metric, a, b, stat, a_value, b_value, relative_change(a_value, b_value), None,
                         direction, "", kind, guessed)
    if tolerance is not None:
        m.tolerance, m.tolerance_source = tolerance, "--tolerance"
    small = max(len(a), len(b)) < BOOTSTRAP_FROM  # a bootstrap of a few seeds undercovers: Student's t
    if paired and len(a) > 1:
        m.basis = f"paired by seed (n={len(a)})"
        m.ci = t_ratio_ci(a, b, paired=True) if small else paired_ratio_ci(a, b, n_boot=n_boot, seed=seed)
        m.interval = T_INTERVAL if small else BCA
        m.p_value = paired_t_pvalue(a, b)
    elif len(a) > 1 or len(b) > 1:
        m.basis = "timing samples" if stat == "median" else "unpaired"
        use_t = small and stat != "median"  # medians of timing samples: bootstrap only
        m.ci = t_ratio_ci(a, b, paired=False) if use_t else bootstrap_ratio_ci(a, b, stat=stat, n_boot=n_boot,
                                                                                 seed=seed)
        m.interval = T_INTERVAL if use_t else BCA
        m.p_value = _mann_whitney(a, b) if stat == "median" else welch_pvalue(a, b)
    m.decide()
    return m


def _mann_whitney(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import mannwhitneyu

    if len(set(a) | set(b)) == 1:
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def compare_examples(point: str, metric: str, a_scores: Any, b_scores: Any, *, a_value: float | None = None,
                     b_value: float | None = None, tolerance: float | None = None, seed: int = 0,
                     vocab: ResultRegistry | None = None, plugin: str | None = None) -> MetricComparison:
    """Compare one result of two single runs example by example (their ``per_example`` scores).

    Numbers: paired bootstrap interval and paired t test (McNemar's exact test when every score is
    0 or 1); ``{"hypotheses", "references"}``: sacrebleu's paired bootstrap test of chrF++."""
    direction, kind, guessed = _spec(metric, vocab, plugin, None)
    if isinstance(a_scores, dict):
        if a_scores.get("references") != b_scores.get("references"):
            raise LmbenchError(f"{metric}: the two runs were scored against different references")
        chrf_a, chrf_b, p = chrf_paired_pvalue(a_scores["hypotheses"], b_scores["hypotheses"], a_scores["references"])
        a_value = chrf_a if a_value is None else a_value
        b_value = chrf_b if b_value is None else b_value
        m = MetricComparison(point, metric, [a_value], [b_value], "corpus", a_value, b_value,
                             relative_change(a_value, b_value), None, direction, "", kind, guessed,
                             basis=f"paired by example, sacrebleu bootstrap (n={len(a_scores['hypotheses'])})",
                             p_value=p, interval="sacrebleu bootstrap")
    else:
        a_arr, b_arr = np.asarray(a_scores, dtype=float), np.asarray(b_scores, dtype=float)
        binary = bool(np.isin(a_arr, (0.0, 1.0)).all() and np.isin(b_arr, (0.0, 1.0)).all())
        a_mean, b_mean = float(a_arr.mean()), float(b_arr.mean())
        a_value = a_mean if a_value is None else a_value
        b_value = b_mean if b_value is None else b_value
        test = "McNemar" if binary else "paired t"
        m = MetricComparison(point, metric, [a_value], [b_value], "mean", a_value, b_value,
                             relative_change(a_value, b_value), paired_ratio_ci(a_arr, b_arr, seed=seed), direction,
                             "", kind, guessed, basis=f"paired by example, {test} (n={a_arr.size})",
                             p_value=mcnemar_pvalue(a_arr, b_arr) if binary else paired_t_pvalue(a_arr, b_arr),
                             interval=BCA)
    if tolerance is not None:
        m.tolerance, m.tolerance_source = tolerance, "--tolerance"
    m.decide()
    return m


def same_weights(a_fingerprint: Any, b_fingerprint: Any) -> bool:
    """Whether two evaluations used the same trained weights: both fingerprints known and equal.
    Only then is a per-example test a test of the change (else it measures evaluation noise)."""
    return bool(a_fingerprint) and a_fingerprint == b_fingerprint


def _plugins(records: Sequence[RunRecord]) -> set[str]:
    return {p for p in (recipe_plugin(r) for r in records) if p}


def shared_meaning(key: str, vocab: ResultRegistry, a_plugins: set[str], b_plugins: set[str]) -> bool:
    """Whether ``key`` means the same on both sides: same plugins, a core key, or a key no plugin declares."""
    if a_plugins == b_plugins:
        return True
    owners = set(vocab.declared_by(key))
    return not owners or "core" in owners


def _compare_key(point: str, key: str, a_seeds: dict, b_seeds: dict, a_ex: dict, b_ex: dict, **kw: Any) -> MetricComparison:
    common = [s for s in a_seeds if s in b_seeds and not isinstance(s, tuple)]
    if len(common) >= 2:
        m = compare_samples(point, key, [a_seeds[s] for s in common], [b_seeds[s] for s in common], paired=True, **kw)
        m.seeds = [s for s in common if all(v is not None and math.isfinite(v) for v in (a_seeds[s], b_seeds[s]))]
        return m
    a_list, b_list = list(a_seeds.values()), list(b_seeds.values())
    (ex_a, w_a), (ex_b, w_b) = a_ex.get(key, (None, None)), b_ex.get(key, (None, None))
    if ex_a is not None and ex_b is not None and type(ex_a) is type(ex_b) and same_weights(w_a, w_b) and \
            (isinstance(ex_a, dict) or (len(ex_a) == len(ex_b) and len(ex_a) > 1)):
        return compare_examples(point, key, ex_a, ex_b, a_value=a_list[0], b_value=b_list[0], **kw)
    return compare_samples(point, key, a_list, b_list, **kw)


def compare(store: Store, a: str, b: str, *, tolerance: float | None = None, seed: int = 0, host: Any = None,
            alpha: float = ALPHA) -> Comparison:
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
    kind = run_kind(a_records[0])
    floor = load_noise(store.root, kind) if tolerance is None else None
    renamed, left_out = Renamed(), set()
    for label, a_runs, b_runs in pairs:
        for side, runs in (("A", a_runs), ("B", b_runs)):
            failed = [r for r in runs if not r.ok]
            if failed:
                comparison.notes.append(f"{side} {label}: {len(failed)} run(s) not done "
                                        f"({', '.join(sorted({r.status for r in failed}))}) left out")
        a_plugins, b_plugins = _plugins(a_runs), _plugins(b_runs)
        plugin = next(iter(a_plugins)) if len(a_plugins) == 1 else None
        kw = {"tolerance": tolerance, "seed": seed, "vocab": vocab, "plugin": plugin}
        a_vals, b_vals = by_seed(a_runs, vocab, renamed), by_seed(b_runs, vocab, renamed)
        a_ex, b_ex = per_example(store, a_runs, vocab), per_example(store, b_runs, vocab)
        for key in [k for k in a_vals if k in b_vals]:
            if not shared_meaning(key, vocab, a_plugins, b_plugins):
                left_out.add(key)
                continue
            comparison.metrics.append(_compare_key(label, key, a_vals[key], b_vals[key], a_ex, b_ex, **kw))
        a_t, b_t = timing_samples(store, a_runs), timing_samples(store, b_runs)
        for key in [k for k in a_t if k in b_t]:
            comparison.metrics.append(compare_samples(label, key, a_t[key], b_t[key], stat="median", **kw))
        if floor is not None:
            point = label.split(" vs ")[0].split(" seed=")[0]
            n_a, n_b = sum(r.ok for r in a_runs), sum(r.ok for r in b_runs)
            keys = [floor_key(r.spec) for r in (*a_runs, *b_runs) if r.ok][:1] or [None]
            for m in comparison.metrics:
                if m.point == label and m.tolerance_source != "--tolerance":
                    found = floor.tolerance(m.metric, point, m.kind, n_a, n_b, key=keys[0])
                    if found:
                        m.tolerance, m.tolerance_source = found
    _one_quantity(comparison, vocab, plugin)
    _adjust_and_decide(comparison, alpha)
    plugin = next(iter(_plugins(a_records)), None)
    comparison.metrics.sort(key=lambda m: (KIND_ORDER.get(m.kind, 3), m.guessed,
                                           vocab.position(m.judged_on or m.metric, plugin), bool(m.judged_on)))
    _notes(comparison, kind, floor, tolerance, left_out, renamed, a_records, b_records)
    return comparison


def _one_quantity(comparison: Comparison, vocab: ResultRegistry, plugin: str | None) -> None:
    """Results declared as a transform of another (``same_as``) share its verdict when it is compared
    at the same point; alone, a perplexity (``exp``) is judged on the log scale."""
    present = {(m.point, m.metric) for m in comparison.metrics}
    for m in comparison.metrics:
        spec = vocab.spec(m.metric, plugin)
        if not spec.same_as:
            continue
        if (m.point, vocab.canonical(spec.same_as)) in present:
            m.judged_on = vocab.canonical(spec.same_as)
        elif spec.transform == "exp":
            m.log_scale = True


def _adjust_and_decide(comparison: Comparison, alpha: float) -> None:
    """Benjamini-Hochberg across the p-values of the quantities judged (transforms of another
    result are not tested again), then each verdict; a transform takes its base's verdict."""
    judged = [m for m in comparison.metrics if not m.judged_on]
    adjusted = bh_adjust([m.p_value for m in judged])
    for m, p in zip(judged, adjusted):
        m.p_adjusted = p
        m.decide(alpha)
    base = {(m.point, m.metric): m for m in judged}
    for m in comparison.metrics:
        if m.judged_on:
            b = base[(m.point, m.judged_on)]
            m.verdict, m.p_adjusted, m.tolerance, m.tolerance_source = b.verdict, b.p_adjusted, b.tolerance, \
                f"judged on {m.judged_on}"


def one_seed_fix(a_records: Sequence[RunRecord], b_records: Sequence[RunRecord], kind: str) -> str:
    """The one line that says why one seed a side gives no verdict, and what to run instead."""
    seeds = sorted({int(r.spec.get("run", {}).get("seed", 0) or 0) for r in (*a_records, *b_records)})
    start = min(seeds) if seeds else 0
    return (f"no verdict: one seed per side (seeds {', '.join(map(str, seeds))}) cannot separate the change from "
            f"seed noise; run each side with `lmbench sweep ... --seeds {start}-{start + 4}` (at least 2 seeds, "
            f"5 recommended) and compare the sweeps, or measure the floor once: `lmbench noise {kind} --repeats 5`")


def _notes(comparison: Comparison, kind: str, floor: Any, tolerance: float | None, left_out: set[str],
           renamed: Renamed, a_records: Sequence[RunRecord] = (), b_records: Sequence[RunRecord] = ()) -> None:
    if any(m.verdict == NO_VERDICT for m in comparison.metrics):
        comparison.notes.insert(0, one_seed_fix(a_records, b_records, kind))
    if left_out:
        comparison.notes.append("declared differently by the two sides' plugins, not compared: "
                                + ", ".join(sorted(left_out)))
    if renamed.note():
        comparison.notes.append(renamed.note())
    if any(m.guessed for m in comparison.metrics):
        comparison.notes.append("* undeclared result: its direction is guessed from its name")
    if not comparison.metrics:
        comparison.notes.append("no numeric result is shared by both sides")
    if tolerance is not None:
        comparison.notes.append(f"tolerance: {tolerance:.1%} (--tolerance)")
    elif floor is not None:
        comparison.notes.append(f"tolerance: the noise floor of {kind} measured by `lmbench noise` for this spec "
                                "(t x cv x sqrt(1/nA + 1/nB)); results it lacks use 2%")
    else:
        comparison.notes.append(f"tolerance: 2% (no noise floor measured for {kind}; measure one with "
                                f"`lmbench noise {kind} --repeats 5`)")
    if any(math.isfinite(m.p_value) for m in comparison.metrics):
        comparison.notes.append("p-values adjusted across the comparison's results (Benjamini-Hochberg)")
    methods = sorted({m.interval for m in comparison.metrics if m.interval})
    if methods:
        comparison.notes.append("intervals: " + ", ".join(methods) + " (Student's t below 10 seeds a side, "
                                "BCa bootstrap from 10 and for examples and timing samples)")
    tests = sorted({m.basis.split(", ")[1].split(" (")[0] for m in comparison.metrics
                    if m.basis.startswith("paired by example")})
    if tests:
        comparison.notes.append(f"per-example tests ({', '.join(tests)}): both sides evaluated the same trained "
                                "weights (equal fingerprints)")
    if any(m.judged_on for m in comparison.metrics):
        comparison.notes.append("results that are transforms of another (perplexity, bits per byte) share its verdict")


def comparison_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """Rows for display or JSON: point, metric, kind, A, B, change, CI, p, basis, tolerance, verdict, n."""
    rows = []
    for m in comparison.metrics:
        ci = f"[{format_change(m.ci[0])}, {format_change(m.ci[1])}]" if m.ci and math.isfinite(m.ci[0]) else \
            ("–" if m.basis != SINGLE else SINGLE)
        p = m.p_adjusted if math.isfinite(m.p_adjusted) else m.p_value
        if m.interval and math.isfinite(m.ci[0] if m.ci else math.nan):
            ci += f" {m.interval}"
        rows.append({"point": m.point, "metric": m.metric, "guessed": m.guessed, "kind": m.kind,
                     "a": fmt_number(m.a_value), "b": fmt_number(m.b_value), "change": format_change(m.rel_change),
                     "ci95": ci, "interval": m.interval, "judged_on": m.judged_on, "p": f"{p:.2g}" if math.isfinite(p) else "–", "basis": m.basis,
                     "tolerance": f"{m.tolerance:.1%}", "tolerance_source": m.tolerance_source,
                     "verdict": m.verdict, "n": f"{len(m.a)}/{len(m.b)}", "stat": m.stat})
    return rows
