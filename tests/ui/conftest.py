"""Fixtures of the UI tests: the report tests' hand-filled store (``tests/report/report_helpers.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))  # report_helpers, shared with the report tests


@pytest.fixture
def report_store(tmp_path):
    """The report tests' experiment (two models x three seeds, OOM, NaN, a scaling table, samples), read-only."""
    from report_helpers import fill

    from lmbench.store import Store
    from lmbench.ui import open_read_only

    with Store(tmp_path / "runs") as store:
        ids = fill(store)
    store = open_read_only(tmp_path / "runs")
    yield store, ids
    store.close()
