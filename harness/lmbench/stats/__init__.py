"""Statistics of repeated values: summaries with spread, intervals, paired tests, FDR control.

The one place where lmbench turns samples (seeds of a point, timing samples of a measurement,
per-example scores of an evaluation) into numbers with uncertainty. It knows nothing of runs,
stores or reports: every function takes plain sequences, so comparisons and reports share it.
Intervals come from ``scipy.stats.bootstrap`` (BCa), quantiles from ``scipy.stats`` distributions,
p-values from Student's t tests, McNemar's exact test (``scipy.stats.binomtest`` on the
discordant pairs) and, for chrF++, sacrebleu's paired bootstrap; Benjamini-Hochberg
(``scipy.stats.false_discovery_control``) adjusts the p-values of one comparison together.

These functions are defined here, in the package itself. Its modules put them to work on runs:
:mod:`.points` groups runs into points (one configuration, several seeds), :mod:`.noise` measures
and stores the noise floor of a kind of run, and :mod:`.compare` turns two sides into rows with
verdicts. May import: the ground, ``lmbench.plugin`` (declared results), ``lmbench.store`` and,
only inside ``noise`` to repeat a spec, ``lmbench.run``; numpy, scipy (on first use) and sacrebleu.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Summary", "summarize", "t_quantile95", "bootstrap_ratio_ci", "paired_ratio_ci", "relative_change",
           "center", "paired_t_pvalue", "welch_pvalue", "mcnemar_pvalue", "chrf_paired_pvalue", "bh_adjust",
           "coefficient_of_variation", "t_ratio_ci", "BOOTSTRAP_FROM"]

#: Below this many repeats a side, intervals of a mean come from Student's t, not the bootstrap:
#: a bootstrap of 3 to 9 values undercovers (its interval is too narrow at small n).
BOOTSTRAP_FROM = 10


def _sps():
    """``scipy.stats``, imported on first use so that ``lmbench --help`` never loads scipy."""
    from scipy import stats

    return stats


def t_quantile95(dof: int) -> float:
    """The two-sided 95% quantile of Student's t with ``dof`` degrees of freedom (NaN below 1)."""
    return float(_sps().t.ppf(0.975, dof)) if dof >= 1 else math.nan


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


def _finite(values: Sequence[float]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)


def summarize(values: Sequence[float]) -> Summary | None:
    """Mean, std (ddof=1), median, p10, p90 and a t-based 95% CI of the mean; None when empty."""
    arr = _finite(values)
    if arr.size == 0:
        return None
    mean = float(arr.mean())
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    half = t_quantile95(arr.size - 1) * std / math.sqrt(arr.size) if arr.size > 1 else math.nan
    p10, med, p90 = (float(x) for x in np.percentile(arr, [10, 50, 90]))
    return Summary(int(arr.size), mean, std, med, p10, p90, mean - half, mean + half)


def coefficient_of_variation(values: Sequence[float]) -> float:
    """``std(ddof=1) / |mean|`` of repeated values: NaN with fewer than two, 0 when all are equal."""
    arr = _finite(values)
    if arr.size < 2:
        return math.nan
    std = float(arr.std(ddof=1))
    mean = abs(float(arr.mean()))
    if std == 0:
        return 0.0
    return std / mean if mean > 0 else math.inf


def center(values: Sequence[float], stat: str = "mean") -> float:
    """The central value of ``values``: their mean, or their median with ``stat="median"``."""
    return float(np.median(values) if stat == "median" else np.mean(values))


def relative_change(a_value: float, b_value: float) -> float:
    """``b / a - 1``; 0 when both are 0, ±inf when only ``a`` is 0."""
    if a_value == 0:
        return 0.0 if b_value == 0 else math.copysign(math.inf, b_value)
    return b_value / a_value - 1.0


def _ratio_statistic(stat: str):
    fn = np.median if stat == "median" else np.mean

    def statistic(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(b, axis=axis) / fn(a, axis=axis) - 1.0

    return statistic


def _bootstrap(data: tuple[np.ndarray, ...], statistic, *, paired: bool, n_boot: int, level: float,
               seed: int) -> tuple[float, float]:
    """``scipy.stats.bootstrap`` with BCa (percentile when BCa cannot be computed); a statistic that
    never varies (every resample equal) gives that value as both ends."""
    point = float(statistic(*data))
    if not math.isfinite(point):
        return math.nan, math.nan
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate or small samples: handled below
            res = _sps().bootstrap(data, statistic, paired=paired, vectorized=True, n_resamples=n_boot,
                                confidence_level=level, method=method, random_state=np.random.default_rng(seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return low, high
        spread = np.asarray(res.bootstrap_distribution, dtype=float)
        spread = spread[np.isfinite(spread)]
        if spread.size and float(spread.max() - spread.min()) <= 1e-12 * max(1.0, abs(point)):
            return point, point  # no variation at all: the interval is the point
    return math.nan, math.nan


def bootstrap_ratio_ci(a: Sequence[float], b: Sequence[float], *, stat: str = "mean", n_boot: int = 2000,
                       level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Unpaired bootstrap CI (BCa) of ``stat(b) / stat(a) - 1``; a side with one value is held fixed."""
    a_arr, b_arr = _finite(a), _finite(b)
    if a_arr.size == 0 or b_arr.size == 0 or (a_arr.size < 2 and b_arr.size < 2):
        return math.nan, math.nan
    ratio = _ratio_statistic(stat)
    fn = np.median if stat == "median" else np.mean
    if a_arr.size < 2:  # A fixed: resample B only
        fixed_a = float(fn(a_arr))
        return _bootstrap((b_arr,), lambda y, axis=-1: fn(y, axis=axis) / fixed_a - 1.0, paired=False,
                          n_boot=n_boot, level=level, seed=seed) if fixed_a != 0 else (math.nan, math.nan)
    if b_arr.size < 2:  # B fixed: resample A only
        fixed_b = float(fn(b_arr))
        with np.errstate(divide="ignore", invalid="ignore"):
            return _bootstrap((a_arr,), lambda x, axis=-1: fixed_b / fn(x, axis=axis) - 1.0, paired=False,
                              n_boot=n_boot, level=level, seed=seed)
    return _bootstrap((a_arr, b_arr), ratio, paired=False, n_boot=n_boot, level=level, seed=seed)


def paired_ratio_ci(a: Sequence[float], b: Sequence[float], *, n_boot: int = 2000, level: float = 0.95,
                    seed: int = 0) -> tuple[float, float]:
    """Paired bootstrap CI (BCa) of ``mean(b) / mean(a) - 1``: pairs ``(a[i], b[i])`` are resampled
    together (same seed, or same evaluation example)."""
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_arr.shape != b_arr.shape or a_arr.size < 2:
        raise ValueError("a paired interval needs two equally long sequences of at least two values")
    return _bootstrap((a_arr, b_arr), _ratio_statistic("mean"), paired=True, n_boot=n_boot, level=level, seed=seed)


def t_ratio_ci(a: Sequence[float], b: Sequence[float], *, paired: bool, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of ``mean(b) / mean(a) - 1`` for a few repeats (n < :data:`BOOTSTRAP_FROM`).

    ``paired``: the t interval of the mean of the differences ``b[i] - a[i]`` (n - 1 degrees of
    freedom); else Welch's interval of ``mean(b) - mean(a)`` (Welch-Satterthwaite degrees of
    freedom; a side with one value counts as a constant). Both are divided by ``mean(a)``.
    """
    a_arr, b_arr = _finite(a), _finite(b)
    if paired:
        a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a_arr.shape != b_arr.shape or a_arr.size < 2:
            raise ValueError("a paired interval needs two equally long sequences of at least two values")
    base = float(a_arr.mean()) if a_arr.size else math.nan
    if not base or not math.isfinite(base) or b_arr.size == 0 or (a_arr.size < 2 and b_arr.size < 2):
        return math.nan, math.nan
    q = (1 + level) / 2
    if paired:
        diff = b_arr - a_arr
        centre, se, dof = float(diff.mean()), float(diff.std(ddof=1)) / math.sqrt(diff.size), diff.size - 1
    else:
        va = float(a_arr.var(ddof=1)) / a_arr.size if a_arr.size > 1 else 0.0
        vb = float(b_arr.var(ddof=1)) / b_arr.size if b_arr.size > 1 else 0.0
        centre, se = float(b_arr.mean()) - base, math.sqrt(va + vb)
        terms = [v * v / (n - 1) for v, n in ((va, a_arr.size), (vb, b_arr.size)) if n > 1]
        dof = (va + vb) ** 2 / sum(terms) if se > 0 and sum(terms) > 0 else max(a_arr.size, b_arr.size) - 1
    half = float(_sps().t.ppf(q, dof)) * se if se > 0 else 0.0
    low, high = sorted(((centre - half) / base, (centre + half) / base))
    return low, high


def paired_t_pvalue(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Student's paired t test (``scipy.stats.ttest_rel``); 1 when every
    difference is zero, 0 when all differences are equal and non-zero."""
    diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if diff.size < 2 or not np.all(np.isfinite(diff)):
        return math.nan
    if np.all(diff == diff[0]):
        return 1.0 if diff[0] == 0 else 0.0
    return float(_sps().ttest_rel(b, a).pvalue)


def welch_pvalue(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t test (``scipy.stats.ttest_ind``, unequal variances); a side
    with one value is tested as a constant (one-sample t test of the other side)."""
    a_arr, b_arr = _finite(a), _finite(b)
    if a_arr.size < 2 and b_arr.size < 2:
        return math.nan
    if a_arr.size < 2 or b_arr.size < 2:
        many, one = (b_arr, a_arr[0]) if a_arr.size < 2 else (a_arr, b_arr[0])
        if np.all(many == many[0]):
            return 1.0 if many[0] == one else 0.0
        return float(_sps().ttest_1samp(many, one).pvalue)
    if np.all(a_arr == a_arr[0]) and np.all(b_arr == b_arr[0]):
        return 1.0 if a_arr[0] == b_arr[0] else 0.0
    return float(_sps().ttest_ind(a_arr, b_arr, equal_var=False).pvalue)


def mcnemar_pvalue(a_correct: Sequence[float], b_correct: Sequence[float]) -> float:
    """Exact McNemar test of paired right/wrong outcomes: a binomial test of the discordant pairs
    (right in A only vs right in B only); 1 when there are none."""
    a_arr, b_arr = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a_arr.shape != b_arr.shape:
        raise ValueError("McNemar's test needs the same examples on both sides")
    only_a, only_b = int(np.sum(a_arr & ~b_arr)), int(np.sum(~a_arr & b_arr))
    if only_a + only_b == 0:
        return 1.0
    return float(_sps().binomtest(only_b, only_a + only_b, 0.5).pvalue)


def chrf_paired_pvalue(a_hyps: Sequence[str], b_hyps: Sequence[str], references: Sequence[str], *,
                       n_samples: int = 1000) -> tuple[float, float, float]:
    """chrF++ of A and B on the same references and the p-value of sacrebleu's paired bootstrap
    test (``sacrebleu.significance.PairedTest``, ``test_type="bs"``): ``(chrf_a, chrf_b, p)``."""
    from sacrebleu.metrics import CHRF
    from sacrebleu.significance import PairedTest

    if not (len(a_hyps) == len(b_hyps) == len(references)):
        raise ValueError("a paired chrF++ test needs one hypothesis per reference on both sides")
    test = PairedTest([("A", list(a_hyps)), ("B", list(b_hyps))], {"chrF++": CHRF(word_order=2)},
                      references=[list(references)], test_type="bs", n_samples=n_samples)
    _, scores = test()
    key = next(k for k in scores if k != "System")
    base, system = scores[key]
    return float(base.score), float(system.score), float(system.p_value)


def bh_adjust(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``); NaN stays NaN."""
    arr = np.asarray(pvalues, dtype=float)
    out = np.full(arr.shape, math.nan)
    ok = np.isfinite(arr)
    if ok.any():
        out[ok] = _sps().false_discovery_control(np.clip(arr[ok], 0.0, 1.0), method="bh")
    return [float(x) for x in out]
