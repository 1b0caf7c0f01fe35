"""Fixtures of the report tests (helpers live in report_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmbench.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """An empty store in a temporary folder."""
    s = Store(tmp_path / "runs")
    yield s
    s.close()


@pytest.fixture
def filled_store(store: Store) -> Store:
    """A store with one experiment: two models x three seeds, an OOM run, a NaN run, and measurements."""
    from report_helpers import fill

    fill(store)
    return store
