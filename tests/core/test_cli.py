"""The command line: help for every command, no torch on the fast paths, one-line errors."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from lmbench.cli import cli

COMMANDS = sorted(cli.commands)


def _lmbench(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "lmbench.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_for_every_command(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output and "--help" in result.output


def test_expected_commands_exist():
    assert {"run", "list", "plugins", "show", "export", "env", "report", "compare", "sweep"} <= set(COMMANDS)


@pytest.mark.parametrize("code", [
    "import lmbench.cli",
    "from lmbench.cli import main; main(['--help'])",
    "from lmbench.cli import main; main(['list'])",
    "from lmbench.cli import main; main(['plugins'])",
])
def test_fast_paths_do_not_import_torch(code):
    probe = f"""
import sys
try:
    {code}
except SystemExit:
    pass
assert 'torch' not in sys.modules, 'torch was imported'
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("args,message", [
    (["run", "--plugin", "core.nop"], "error: unknown preset 'core.nop'; did you mean: core.noop?"),
    (["run", "--plugin", "core.noop", "--set", "recipe.stepz=3"],
     "error: unknown key 'stepz' for recipe core.noop; did you mean 'steps'? valid: fail_at, nan_at, steps"),
    (["run", "--plugin", "core.noop", "--set", "nonsense"], "error: bad --set 'nonsense'; expected TABLE.KEY=VALUE"),
    (["show", "deadbeef"], "error: "),
])
def test_bad_input_is_one_line_without_traceback(tmp_path, args, message):
    result = _lmbench(*args, "--store", str(tmp_path / "store")) if args[0] != "show" else \
        _lmbench(*args, "--store", str(tmp_path / "store"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = _lmbench("--debug", "run", "--plugin", "core.nop", "--store", str(tmp_path))
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_run_json_and_show(tmp_path):
    store = str(tmp_path / "store")
    result = _lmbench("run", "--plugin", "core.noop", "--set", "recipe.steps=5", "--store", store, "--json",
                      "--no-report")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)  # stdout holds only the JSON; status went to stderr
    [run] = out["runs"]
    assert run["status"] == "done" and run["results"]["steps"] == 5
    shown = json.loads(_lmbench("show", run["id"], "--store", store, "--json").stdout)
    assert shown["command"].startswith("lmbench run --plugin core.noop")
    nan = _lmbench("run", "--plugin", "core.noop", "--set", "recipe.nan_at=1", "--store", store, "--json")
    assert nan.returncode == 1 and json.loads(nan.stdout)["runs"][0]["status"] == "nan"
    lines = [json.loads(line) for line in _lmbench("export", "--store", store).stdout.splitlines()]
    exported = [r for r in lines if "group" not in r]  # runs, then the groups (experiments, sweeps) they are in
    assert sorted(r["status"] for r in exported) == ["done", "nan"] and len(lines) == 4
    [one, group] = [json.loads(line) for line in _lmbench("export", run["id"][:6], "--store", store).stdout.splitlines()]
    assert group["runs"] == [run["id"]]
    assert one["steps"]["loss"][0] == [0, 1.0] and one["results"]["steps"] == 5


def test_dry_run_resolves_without_running(tmp_path):
    result = _lmbench("run", "--plugin", "core.noop", "--dry-run", "--set", "recipe.steps=7")
    assert result.returncode == 0, result.stderr
    [plan] = json.loads(result.stdout)
    assert plan["spec"]["recipe"] == {"name": "core.noop", "steps": 7, "nan_at": -1, "fail_at": -1}


def test_plugins_lists_versions_and_hooks():
    result = _lmbench("plugins", "--json")
    infos = {p["name"]: p for p in json.loads(result.stdout)}
    assert infos["core"]["version"] and "lmbench_register_recipes" in infos["core"]["hooks"]


def test_device_cuda_without_cuda_is_a_clear_error(tmp_path):
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch not installed")
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    result = _lmbench("run", "--plugin", "core.noop", "--device", "cuda", "--store", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --device cuda but CUDA is not available here; use --device cpu or auto"
