"""Statistics of repeated values: summaries with spread, t intervals and bootstrap intervals.

The one place where lmbench turns samples (seeds of a point, timing samples of a measurement)
into numbers with uncertainty. It knows nothing of runs, stores or reports: every function takes
plain sequences of floats, so tests (and later paired tests: paired bootstrap, McNemar) slot in
here without touching the comparison or the reports. Only numpy is imported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Summary", "summarize", "t_quantile95", "bootstrap_ratio_ci", "relative_change", "center"]

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




def center(values: Sequence[float], stat: str = "mean") -> float:
    """The central value of ``values``: their mean, or their median with ``stat="median"``."""
    return float(np.median(values) if stat == "median" else np.mean(values))


def relative_change(a_value: float, b_value: float) -> float:
    """``b / a - 1``; 0 when both are 0, ±inf when only ``a`` is 0."""
    if a_value == 0:
        return 0.0 if b_value == 0 else math.copysign(math.inf, b_value)
    return b_value / a_value - 1.0
