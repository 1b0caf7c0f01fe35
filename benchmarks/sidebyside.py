"""Side-by-side timing: two (or more) implementations of the same work, alternated in one process.

On a shared machine the load changes from second to second, so timing side A for a minute and
then side B for a minute measures the load as much as the code. :func:`alternate` runs the sides
in turns (A B, B A, A B, ... so neither always goes first), each round timing every side once,
and :func:`ratio` pairs the rounds: the ratio of round i uses the two times of round i, taken
seconds apart under the same load. The ratio is reported as the median of the per-round ratios
with its 10th-90th percentile range and a bootstrap 95% interval of the median (``spread``).

:func:`load_note` says what the machine was doing (load average, CPU count), for the kept tables.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any


def alternate(sides: dict[str, Callable[[], Any]], rounds: int, *, warmup: int = 1, repeat: int = 1,
              sync: Callable[[], None] | None = None) -> dict[str, list[float]]:
    """Seconds per call of each side, ``rounds`` samples each, the sides' order rotating every round.

    Each sample is the mean of ``repeat`` back-to-back calls; ``warmup`` untimed rounds go first;
    ``sync`` (e.g. ``torch.cuda.synchronize``) runs before each clock read.
    """
    names = list(sides)
    sync = sync or (lambda: None)
    for _ in range(warmup):
        for name in names:
            sides[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        if r % 2:
            order = order[::-1]
        for name in order:
            sync()
            t0 = time.perf_counter()
            for _ in range(repeat):
                sides[name]()
            sync()
            times[name].append((time.perf_counter() - t0) / repeat)
    return times


def _quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    pos = q * (len(xs) - 1)
    lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ratio(times: dict[str, list[float]], slow: str, fast: str, *, seed: int = 0) -> dict[str, float]:
    """Per-round ``times[slow] / times[fast]`` (> 1: ``fast`` is faster), summarised.

    Returns ``ratio`` (median), ``p10`` / ``p90``, ``ci_lo`` / ``ci_hi`` (bootstrap 95% interval
    of the median, 2000 resamples) and ``rounds``.
    """
    pairs = [a / b for a, b in zip(times[slow], times[fast]) if b > 0]
    rng = random.Random(seed)
    boots = sorted(statistics.median(rng.choices(pairs, k=len(pairs))) for _ in range(2000))
    return {"ratio": statistics.median(pairs), "p10": _quantile(pairs, 0.1), "p90": _quantile(pairs, 0.9),
            "ci_lo": boots[int(0.025 * len(boots))], "ci_hi": boots[int(0.975 * len(boots)) - 1],
            "rounds": len(pairs)}


def medians_ms(times: dict[str, list[float]]) -> dict[str, float]:
    """Median milliseconds per side."""
    return {name: 1e3 * statistics.median(ts) for name, ts in times.items()}


def fmt_ratio(r: dict[str, float]) -> str:
    """``1.23x (p10-p90 1.10-1.31; 95% CI 1.19-1.26; 20 rounds)``."""
    return (f"{r['ratio']:.2f}x (p10-p90 {r['p10']:.2f}-{r['p90']:.2f}; 95% CI {r['ci_lo']:.2f}-{r['ci_hi']:.2f}; "
            f"{r['rounds']} rounds)")


def load_note() -> dict[str, Any]:
    """The machine's load now: 1-minute load average and CPU count (what a kept table must state)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"load_avg_1m": load, "cpu_count": os.cpu_count()}
