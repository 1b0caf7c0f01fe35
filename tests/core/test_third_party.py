"""The third-party path: a separately packaged plugin, found through its entry point, runs: its own
recipe, and its GRU model with its top-k metric under the LM lab's lm.train."""

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
    assert example["version"] == "0.3.0"
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


GRU_SPEC = """
[dataset]
name = "lm.text"
path = "{corpus}"

[tokenizer]
name = "lm.char"

[model]
name = "example.gru"
hidden_size = 32

[metrics]
name = ["example.top1"]

[metrics."example.topk"]
k = 3

[recipe]
name = "lm.train"
context = 16
batch_size = 4
max_steps = 4
eval_every = 2
log_every = 1
warmup_steps = 1
eval_tokens = 128
final_eval_tokens = 256
sample_prompts = ["the "]
sample_tokens = 4
gen_tokens = 3
gen_prompt_len = 4
gen_batch_size = 1
gen_repeats = 1

[run]
threads = 1
"""


def test_example_gru_trains_under_lm_train_with_its_metrics(installed_example, corpus, tmp_path):
    spec = tmp_path / "gru.toml"
    spec.write_text(GRU_SPEC.format(corpus=corpus))
    env = dict(installed_example, LMBENCH_CACHE=str(tmp_path / "cache"))
    result = _lmbench(env, "run", "-c", str(spec), "--store", str(tmp_path / "runs"), "--json", "--no-report")
    assert result.returncode == 0, result.stderr
    [run] = json.loads(result.stdout)["runs"]
    assert run["status"] == "done", run["reason"]
    results = run["results"]
    for split in ("val", "test"):  # the third-party metrics, with the option from the spec (k = 3)
        assert 0.0 <= results[f"{split}_top1"] <= results[f"{split}_top3_accuracy"] <= 1.0
    assert results["test_loss"] > 0 and results["gen_tokens_per_s"] > 0
    assert results["train_flops_per_token"] > 0  # from the model's own flops_per_token
    shown = _lmbench(env, "show", run["id"], "--store", str(tmp_path / "runs"))
    assert "test_top3_accuracy" in shown.stdout, shown.stdout + shown.stderr


def test_a_third_party_model_joins_a_first_party_comparison_in_one_command(installed_example, tmp_path):
    """`--variant` puts the example's GRU beside lm.compare's LSTM and Transformers; it trains as a row."""
    env = dict(installed_example, LMBENCH_CACHE=str(tmp_path / "cache"))
    result = _lmbench(env, "run", "--plugin", "lm.compare", "--variant", "gru:model.name=example.gru,model.hidden_size=64",
                      "--only", "gru", "--set", "recipe.budget_tokens=4k", "--set", "recipe.eval_tokens=2048",
                      "--set", "recipe.final_eval_tokens=4096", "--store", str(tmp_path / "runs"), "--json",
                      "--no-report")
    assert result.returncode == 0, result.stderr
    [run] = json.loads(result.stdout)["runs"]
    assert run["status"] == "done", run["reason"]
    assert run["label"] == "gru" and run["results"]["test_loss"] > 0
    shown = _lmbench(env, "show", run["id"], "--store", str(tmp_path / "runs"), "--json")
    model = json.loads(shown.stdout)["spec"]["model"]
    assert model["name"] == "example.gru" and model["hidden_size"] == 64
