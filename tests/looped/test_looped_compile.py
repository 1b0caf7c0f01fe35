"""looped.train with recipe.compile on the CPU: the compiled forward serves the read-outs, the loss
follows the eager run's, and the compile overhead is its own result."""

import copy
import shutil

import pytest
import torch

from lmbench.testing import run_spec

TINY = {
    "dataset": {"name": "looped.linreg", "n_dims": 3, "n_points": 7},
    "model": {"name": "looped.looped", "loops": 2, "grad_loops": 2, "d_model": 16, "n_heads": 2},
    "recipe": {"name": "looped.train", "max_steps": 14, "batch_size": 8, "eval_prompts": 16, "log_every": 7,
               "eval_every": 0, "warmup": 2, "eval_loops": [2], "plot": False},
    "run": {"seed": 0, "device": "cpu", "threads": 1},
}


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None, reason="no C++ compiler")
def test_compiled_looped_train_matches_eager(tmp_path, monkeypatch):
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    records = []
    for flag in (False, True):
        spec = copy.deepcopy(TINY)
        spec["recipe"]["compile"] = flag
        records += run_spec(spec, tmp_path / "runs")
    eager, compiled = records
    assert eager.status == compiled.status == "done", (eager.reason, compiled.reason)
    assert "compile_seconds" not in eager.results and compiled.results["compile_seconds"] > 0
    key = next(k for k in eager.results if k.endswith("mse") and isinstance(eager.results[k], float))
    assert compiled.results[key] == pytest.approx(eager.results[key], rel=1e-3), key
