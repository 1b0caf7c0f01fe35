"""Killing a PEFT fine-tune: run the same command again and it ends where an uninterrupted run does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lmbench.testing import run_spec

from .conftest import kill_9_then_resume

pytest.importorskip("peft")
EPOCHS, EVAL_EVERY = 2, 8  # 16 training poems, one a step: 32 steps, an evaluation and a checkpoint every 8


def _peft_helpers():
    """tests/peft/peft_helpers.py (its folder is not a package): the poems the PEFT lab tests use."""
    path = Path(__file__).parents[1] / "peft" / "peft_helpers.py"
    spec = importlib.util.spec_from_file_location("peft_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def peft_spec(tmp_path) -> dict:
    """IA3 on the PEFT tests' tiny random Llama (the SmolLM2 tokenizer, not its weights), 24 short poems."""
    from lmbench_peft.assets import smollm2_missing_reason

    if smollm2_missing_reason():
        pytest.skip(smollm2_missing_reason())
    helpers = _peft_helpers()
    poems = helpers.write_jsonl(tmp_path / "poems.jsonl.gz", helpers.poem_rows())
    return {"dataset": {"name": "peft.poetry", "path": str(poems), "max_tokens": 64},
            "model": {"name": "peft.lora", "base": "random:tiny", "r": 2, "dropout": 0.1},
            "recipe": {"name": "peft.train", "lr": 0.02, "grad_accum": 1, "epochs": EPOCHS, "eval_every": EVAL_EVERY, "warmup": 4,
                       "schedule": "cosine", "weight_decay": 0.01, "eval_poems": 2, "samples": 1,
                       "sampling": {"max_new_tokens": 4}},
            "run": {"seed": 0, "threads": 1}}


def test_kill_9_mid_fine_tune_then_resume_equals_uninterrupted(peft_spec, tmp_path):
    [reference] = run_spec(peft_spec, tmp_path / "reference")
    assert reference.status == "done", reference.reason

    record, _ = kill_9_then_resume(peft_spec, tmp_path, EVAL_EVERY + 5, rerun_timeout=120)
    assert record.id == reference.id
    assert record.results["steps"] == reference.results["steps"] == EPOCHS * 16
    for key in ("val_loss", "best_val_loss", "val_loss_base", "train_tokens", "train_examples", "chrf_pp"):
        assert record.results[key] == pytest.approx(reference.results[key], rel=1e-6), key
    assert record.results["stopped_by"] == reference.results["stopped_by"] == "epochs"
