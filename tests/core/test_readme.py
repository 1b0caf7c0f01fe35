"""The README's two commands are the ones that users and CI run, and the test command is one command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
TEST_COMMAND = 'pip install torch==2.13.0 -e ".[test]" && pytest'


def _bash_blocks(text):
    blocks, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```bash"
            continue
        if inside:
            blocks.append(line.strip())
    return blocks


def test_ci_runs_the_readme_test_command():
    commands = _bash_blocks((ROOT / "README.md").read_text())
    install_and_run, install_and_test = commands[0], commands[1]
    assert install_and_run.endswith("lmbench run")
    assert install_and_test == TEST_COMMAND
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert ci_lines.count(install_and_test) == 1
    assert not [line for line in ci_lines if line.startswith(("pytest", "python -m pytest")) or " pytest " in line.split("#")[0]
                and "echo" not in line and line != TEST_COMMAND]


def test_the_pytest_configuration_holds_the_defaults():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert options["testpaths"] == ["tests", "benchmarks"]
    assert options["addopts"] == ["-m", "not slow", "--benchmark-disable"]
    conftest = (ROOT / "conftest.py").read_text()
    assert 'setdefault("LMBENCH_BENCH_QUICK", "1")' in conftest and '"shared" / "data"' in conftest


@pytest.mark.parametrize("pytest_status, ci_status", [(0, 0), (1, 1), (2, 2), (5, 1)])
def test_ci_fails_when_tests_fail_or_none_run(tmp_path, pytest_status, ci_status):
    """The end of .ci/run, from its test command on, with stub pip and pytest that exit as told."""
    script = (ROOT / ".ci" / "run").read_text()
    assert script.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in script
    assert "command -v chromium" in script
    tail = script[script.index("set +e"):]
    assert TEST_COMMAND in tail
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, status in (("pip", 0), ("pytest", pytest_status)):
        (bin_dir / name).write_text(f"#!/bin/sh\nexit {status}\n")
        (bin_dir / name).chmod(0o755)
    (tmp_path / "tail.sh").write_text("set -euo pipefail\n" + tail)
    done = subprocess.run(["bash", str(tmp_path / "tail.sh")], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, timeout=30)
    assert done.returncode == ci_status, done.stderr
    assert ("collected no tests" in done.stderr) == (pytest_status == 5)
