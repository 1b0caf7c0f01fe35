"""At a 40-column terminal (or none), no stderr line of lmbench is broken inside a path or a message.

Each command runs in its own process, as a user runs it, with ``COLUMNS=40``, no stdin and pipes
for output (so no terminal): error messages stay one line, and every printed path is whole.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

NARROW = 40


def lmbench(*args: str, columns: int = NARROW) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "HF_HUB_OFFLINE": "1", "LMBENCH_DATA": ""}
    env.pop("LMBENCH_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "lmbench.cli", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env, timeout=300)


@pytest.fixture
def long_store(tmp_path) -> Path:
    """A store folder whose path is far longer than the terminal is wide."""
    return tmp_path / "a-store-folder-with-a-long-name" / "and-another-level-below-it" / "runs"


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_report_paths_stay_whole(long_store):
    done = lmbench("run", "--plugin", "core.noop", "--store", str(long_store), "--set", 'report.formats=["md","html"]')
    assert done.returncode == 0, done.stderr
    paths = [line.removeprefix("report: ") for line in _lines(done.stderr) if line.startswith("report: ")]
    assert len(paths) == 2 and all(len(p) > NARROW and Path(p).is_file() for p in paths), done.stderr
    assert {Path(p).name for p in paths} == {"report.md", "report.html"}


@pytest.mark.parametrize("args, message", [
    (("run", "--plugin", "nope"), r"error: unknown preset 'nope'; did you mean: .*core\.noop.*"),
    (("run", "--dry-run", "--set", "model.n_layerz=3"),
     r"error: variant 'lstm': unknown key 'n_layerz' for model lm\.lstm; did you mean 'num_layers'\? valid: .*vocab_size"),
    (("run", "--dry-run", "--model", "lm.transformer"),
     r"error: --model lm\.transformer conflicts with variant 'lstm' of preset lm\.compare, which sets "
     r"model\.name=lm\.lstm; run the variants that agree with --only transformer --only transformer-learned"),
    (("show", "deadbeef"), r"error: unknown run \(store .*lmbench\.sqlite\) 'deadbeef'.*"),
    (("fetch", "nope"), r"error: unknown asset 'nope'; valid: .*peft\.smollm2.*"),
])
def test_an_error_is_one_whole_line(long_store, args, message):
    if args[0] in ("show",):
        args = (*args, "--store", str(long_store))
        long_store.mkdir(parents=True)
        lmbench("run", "--plugin", "core.noop", "--store", str(long_store), "--no-report")
    done = lmbench(*args)
    assert done.returncode != 0
    lines = _lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert re.fullmatch(message, lines[0]), lines[0]


def test_a_failed_run_names_its_reason_on_one_line(long_store):
    done = lmbench("run", "--plugin", "attention.lsh", "--dataset", "arxiv", "--store", str(long_store))
    assert done.returncode == 1
    [failed] = [line for line in _lines(done.stderr) if line.startswith("failed ")]
    assert failed.endswith("--set dataset.path=FILE.jsonl (text and label fields)"), done.stderr
    assert all(Path(line.removeprefix("report: ")).is_file() for line in _lines(done.stderr) if line.startswith("report: "))


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_the_same_lines_at_every_width(long_store, columns):
    """The error a user sees does not depend on the terminal's width."""
    done = lmbench("run", "--plugin", "nope", "--store", str(long_store), columns=columns)
    assert _lines(done.stderr) == _lines(lmbench("run", "--plugin", "nope", "--store", str(long_store)).stderr)


def test_tables_written_to_a_pipe_are_not_cut_short():
    """Piped (no terminal), a table keeps its natural width: no cell ends in an ellipsis at COLUMNS=40."""
    done = lmbench("list", "presets")
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    assert re.search(r"^\s*presets\s+lm\.compare\s+\S", done.stdout, re.M), done.stdout[:400]
