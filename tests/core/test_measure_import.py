"""lmbench.measure stays cheap: no torch at import, none for CPU timing and memory."""

import subprocess
import sys


def _run(code: str) -> None:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_import_does_not_import_torch():
    _run("import lmbench.measure, sys; assert 'torch' not in sys.modules")


def test_cpu_timing_and_memory_do_not_import_torch():
    _run("import sys, lmbench.measure as m\n"
         "m.time_fn(lambda: None, warmup=1, min_iters=3, min_seconds=0)\n"
         "with m.MemoryTracker('cpu') as t: pass\n"
         "assert 'rss_peak_bytes' in t.result()\n"
         "assert m.peak_flops('cpu') is None\n"
         "assert 'torch' not in sys.modules")
