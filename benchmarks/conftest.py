"""Shared settings of the pytest-benchmark suites.

Quick mode (``LMBENCH_BENCH_QUICK=1``): tiny sizes and few rounds, so the whole suite finishes in
seconds; CI runs it that way (``LMBENCH_BENCH_QUICK=1 pytest benchmarks --benchmark-disable``) to
assert that the benchmarks work, not how fast they are. Fixtures:

- ``quick``: True in quick mode.
- ``pick``: ``pick(full, quick)`` returns the value for the current mode.
- ``bench_rounds``: rounds for ``benchmark.pedantic`` (10, or 2 in quick mode).
- ``one_thread``: torch limited to one thread for the test (restored after).
- ``median_time``: ``median_time(fn, repeats)`` -> median wall seconds of ``fn()``, measured by the
  test itself (``benchmark.stats`` is None under ``--benchmark-disable``).
- ``gate``: ``gate(value, limit, kind=..., metric=..., higher_is_better=False)`` asserts a measured
  value against its limit, allowing the noise floor that ``lmbench noise`` measured for that kind of
  run (in ``$LMBENCH_NOISE_STORE``, else the store the suite started with, else ``./runs``) and
  printing which tolerance it used; without a noise floor the limit is exact.

Every benchmark's runs go to a temporary store, never ``./runs``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest

QUICK = os.environ.get("LMBENCH_BENCH_QUICK") == "1"
#: Where gates read noise floors: read before ``_isolated_store`` points the store at a temporary folder.
NOISE_STORE = os.environ.get("LMBENCH_NOISE_STORE") or os.environ.get("LMBENCH_STORE") or "runs"


def gate_tolerance(kind: str, metric: str, metric_kind: str = "cost") -> tuple[float, str]:
    """The relative tolerance of a gate on ``metric`` of ``kind`` and where it comes from: the measured
    noise floor (one run against a limit: ``t(0.975, repeats - 1) * cv * sqrt(2)``; a floor of one point),
    else 0 ("no noise floor")."""
    from lmbench.stats.noise import load_noise

    floor = load_noise(NOISE_STORE, kind)
    found = floor.tolerance(metric, None, metric_kind) if floor is not None else None
    if found is None:
        return 0.0, f"no noise floor for {kind} in {NOISE_STORE} (`lmbench noise {kind} --same-seed`): exact limit"
    return found


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    monkeypatch.setenv("LMBENCH_STORE", str(tmp_path / "runs"))


@pytest.fixture
def quick() -> bool:
    """True when ``LMBENCH_BENCH_QUICK=1`` (tiny sizes, few rounds)."""
    return QUICK


@pytest.fixture
def pick() -> Callable[[Any, Any], Any]:
    """``pick(full, quick)``: the value for the current mode."""
    return lambda full, quick_value: quick_value if QUICK else full


@pytest.fixture
def bench_rounds() -> int:
    """Rounds for ``benchmark.pedantic``."""
    return 2 if QUICK else 10


@pytest.fixture
def one_thread():
    """Limit torch to one CPU thread for the test (timings are steadier on a shared CPU)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def median_time() -> Callable[..., float]:
    """``median_time(fn, repeats=5, warmup=1)``: median wall-clock seconds of ``fn()``."""

    def measure(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
        for _ in range(warmup):
            fn()
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)

    return measure


@pytest.fixture
def gate() -> Callable[..., float]:
    """``gate(value, limit, kind=..., metric=..., higher_is_better=False)``: assert ``value`` is within
    ``limit`` widened by the measured noise floor of ``kind``; say which tolerance; return it."""

    def check(value: float, limit: float, *, kind: str, metric: str, higher_is_better: bool = False,
              metric_kind: str = "cost") -> float:
        tolerance, source = gate_tolerance(kind, metric, metric_kind)
        print(f"\ngate {metric} ({kind}): {value:.4g} vs limit {limit:.4g}, tolerance {tolerance:.1%} ({source})")
        if higher_is_better:
            assert value >= limit * (1 - tolerance), f"{metric} {value:.4g} < {limit:.4g} beyond {source}"
        else:
            assert value <= limit * (1 + tolerance), f"{metric} {value:.4g} > {limit:.4g} beyond {source}"
        return tolerance

    return check
