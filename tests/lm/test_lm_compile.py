"""recipe.compile: lm.train compiled on the CPU (inductor's C++ backend) trains to the eager loss,
reports its compile time apart from the step time, and is refused in one line where it cannot work."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
import torch

from lmbench.errors import ConfigError
from lmbench.training import compile_refusal
from lmbench.training.compiling import compile_errors



def tiny_spec(corpus, **recipe) -> dict:
    return {
        "dataset": {"name": "lm.text", "path": str(corpus)},
        "tokenizer": {"name": "lm.char"},
        "model": {"name": "lm.transformer", "n_layers": 1, "n_heads": 2, "emb_dim": 16, "max_seq_len": 32},
        "recipe": {"name": "lm.train", "context": 16, "batch_size": 4, "max_steps": 6, "eval_every": 3,
                   "log_every": 1, "warmup": 2, "eval_tokens": 256, "final_eval_tokens": 512, "sample_tokens": 4,
                   "gen_tokens": 3, "gen_prompt_len": 4, "gen_batch_size": 1, "gen_repeats": 1, **recipe},
        "run": {"seed": 0, "threads": 1},
    }


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None, reason="no C++ compiler")
def test_compiled_lm_train_on_cpu_matches_eager_and_times_compilation_apart(corpus, run_experiment):
    eager, compiled = (run_experiment(tiny_spec(corpus, compile=flag))[0] for flag in (False, True))
    assert eager.status == compiled.status == "done", (eager.reason, compiled.reason)
    assert eager.id != compiled.id  # recipe.compile is part of the run's identity
    e, c = eager.results, compiled.results
    assert "compile_seconds" not in e and c["compile_seconds"] > 0
    assert c["compile_seconds"] > c["step_time_ms"] / 1e3  # compiling costs more than a compiled step
    assert c["val_loss"] == pytest.approx(e["val_loss"], rel=1e-3)  # same weights, same data: same loss
    assert (e["decode_path"], c["decode_path"]) == ("kv_cache", "static_kv_cache")  # compiled decoding too


def test_refusals_are_one_line_and_name_the_way_out(monkeypatch):
    kernel = SimpleNamespace(compiles=False, compile_note="data-dependent bucket sizes")
    line = compile_refusal("cpu", ("lm.transformer", object()), ("attention.custom", kernel))
    assert line == ("attention.custom cannot be compiled (data-dependent bucket sizes); set recipe.compile=false "
                    "to train eagerly")
    assert "supports cpu and cuda, not mps" in compile_refusal("mps")
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "needs a C++ compiler" in compile_refusal("cpu") and "\n" not in compile_refusal("cpu")


def test_a_compile_failure_during_training_becomes_one_config_line():
    from torch._dynamo.exc import Unsupported

    with pytest.raises(ConfigError, match=r"^torch.compile failed on lm.x: boom; set recipe.compile=false"):
        with compile_errors(True, "lm.x"):
            raise Unsupported("boom\nmore detail")
    with pytest.raises(ValueError):  # other errors pass through untouched
        with compile_errors(True, "lm.x"):
            raise ValueError("not a compile error")
