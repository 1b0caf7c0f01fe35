"""The third-party path: a separately packaged plugin, found through its entry point, runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "third_party_plugin"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """pip-install the example distribution into a private folder (the real install path)."""
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                             "--no-index", "--quiet", "--target", str(target), str(EXAMPLE)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.fail(f"pip install of the example plugin failed: {result.stderr[-2000:]}")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")]))
    return env


def _lmbench(env, *args):
    return subprocess.run([sys.executable, "-m", "lmbench.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_example_plugin_is_listed_with_version_and_hooks(installed_example):
    infos = {p["name"]: p for p in json.loads(_lmbench(installed_example, "plugins", "--json").stdout)}
    example = infos["example"]
    assert example["error"] is None
    assert example["version"] == "0.2.0"
    assert set(example["hooks"]) == {"lmbench_register_models", "lmbench_register_metrics",
                                     "lmbench_register_recipes", "lmbench_register_presets"}


def test_example_plugin_runs_through_lmbench_run(installed_example, tmp_path):
    result = _lmbench(installed_example, "run", "--plugin", "example.demo", "--store", str(tmp_path), "--json",
                      "--no-report")
    assert result.returncode == 0, result.stderr
    [run] = json.loads(result.stdout)["runs"]
    assert run["status"] == "done"
    # a bigram model on a repeated pangram learns most next characters
    assert run["results"]["top1"] > 0.5 and run["results"]["train_loss"] < 2.0
