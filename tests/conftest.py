"""Shared test fixtures: an isolated store per test, the shared data folder, a tiny corpus.

The session defaults (quick benchmarks, ``LMBENCH_DATA`` from ``../shared/data``, one OpenMP
thread, fetching the SmolLM2 weights) are set by the checkout's top-level ``conftest.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


#: torchrun's variables: a test that leaves them set makes every later run join a process group
#: that never forms (each then waits out the 30-minute rendezvous timeout).
DISTRIBUTED_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(autouse=True)
def _isolate_store(tmp_path, monkeypatch):
    """Runs made by a test land in its temporary folder, never in ./runs.

    ``LMBENCH_ARTIFACTS`` (set in-process by ``--artifacts`` under click's CliRunner) is recorded
    and unset, so the test's value is removed again afterwards.
    """
    monkeypatch.setenv("LMBENCH_STORE", str(tmp_path / "runs"))
    monkeypatch.setenv("LMBENCH_CACHE", os.environ.get("LMBENCH_CACHE", str(Path.home() / ".cache" / "lmbench")))
    monkeypatch.setenv("LMBENCH_ARTIFACTS", "")
    monkeypatch.delenv("LMBENCH_ARTIFACTS")


@pytest.fixture(autouse=True)
def _distributed_env_kept():
    """Fail the test that leaves torchrun's variables changed (and put them back).

    Set up before ``monkeypatch`` (autouse fixtures go by name), so it checks after monkeypatch undoes.
    """
    before = {name: os.environ.get(name) for name in DISTRIBUTED_ENV}
    yield
    leaked = sorted(name for name in DISTRIBUTED_ENV if os.environ.get(name) != before[name])
    for name in leaked:
        if before[name] is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before[name]
    if leaked:
        pytest.fail(f"the test left {', '.join(leaked)} changed in os.environ (restore them with monkeypatch)")


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
