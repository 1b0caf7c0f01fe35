"""Cost of the measurement itself: timer overhead per iteration, memory tracker enter/exit.

Run: ``pytest benchmarks/test_core_measure.py`` (``LMBENCH_BENCH_QUICK=1`` for tiny sizes).
"""

import os

from lmbench.measure import MemoryTracker, time_fn

QUICK = os.environ.get("LMBENCH_BENCH_QUICK") == "1"
ITERS = 200 if QUICK else 20_000


def _noop():
    return None


def test_timer_overhead_per_iteration(benchmark):
    """Wall time of time_fn on a no-op, per timed iteration (the timer's own cost)."""
    stats = benchmark.pedantic(time_fn, args=(_noop,),
                               kwargs=dict(warmup=0, min_iters=ITERS, min_seconds=0.0, max_iters=ITERS),
                               rounds=3 if QUICK else 10, iterations=1)
    assert stats.n == ITERS
    benchmark.extra_info["iters"] = ITERS
    benchmark.extra_info["noop_sample_median_us"] = stats.median * 1e6
    if benchmark.stats is not None:  # None under --benchmark-disable (CI's quick mode)
        per_iter_s = benchmark.stats.stats.median / ITERS
        benchmark.extra_info["overhead_per_iter_us"] = per_iter_s * 1e6
        assert per_iter_s < 50e-6  # perf_counter pair + list append: well under 50 µs on any machine


def test_memory_tracker_enter_exit(benchmark):
    """Cost of starting and stopping the RSS sampling thread around an empty block."""
    def track():
        with MemoryTracker("cpu", interval=0.01) as mem:
            pass
        return mem.result()

    result = benchmark.pedantic(track, rounds=5 if QUICK else 50, iterations=1)
    assert result["rss_peak_bytes"] > 0
