"""Shared test settings: one torch thread (CI has 2 cores), and the shared data location."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolate_store(tmp_path, monkeypatch):
    """Runs made by a test land in its temporary folder, never in ./runs."""
    monkeypatch.setenv("LMBENCH_STORE", str(tmp_path / "runs"))
    monkeypatch.setenv("LMBENCH_CACHE", os.environ.get("LMBENCH_CACHE", str(Path.home() / ".cache" / "lmbench")))


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder ($LMBENCH_DATA); the test is skipped where it is absent."""
    root = os.environ.get("LMBENCH_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip("LMBENCH_DATA not set: shared data sets absent")
    return Path(root)
