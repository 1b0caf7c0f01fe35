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
