"""Shared test fixtures: an isolated store per test, the shared data folder, a tiny corpus.

The session defaults (quick benchmarks, ``LMBENCH_DATA`` from ``../shared/data``, one OpenMP
thread, fetching the SmolLM2 weights) are set by the checkout's top-level ``conftest.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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
        pytest.skip("shared data sets absent: set LMBENCH_DATA or put them in ../shared/data")
    return Path(root)


CORPUS_WORDS = "the king and the queen walk in the garden while a fool sings of love and war".split()


@pytest.fixture
def corpus(tmp_path, monkeypatch) -> Path:
    """Twelve small text documents of rotated words, for seconds-long lm.train runs; the token
    cache goes to the test's own folder."""
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "corpus"
    folder.mkdir()
    for d in range(12):
        lines = [" ".join(CORPUS_WORDS[(d + i + j) % len(CORPUS_WORDS)] for j in range(8)) for i in range(30)]
        (folder / f"doc{d:02d}.txt").write_text("\n".join(lines) + "\n")
    return folder
