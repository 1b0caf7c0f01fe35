"""Killing looped.train with kill -9: run again, it resumes from its last checkpoint and ends where an
uninterrupted run does (same curricula, same batches, same final errors)."""

from __future__ import annotations


import pytest

from lmbench.testing import run_spec

from .conftest import kill_9_then_resume

pytest.importorskip("torch")
STEPS, EVAL_EVERY, LOG_EVERY = 90, 15, 5


def looped_spec() -> dict:
    """A tiny looped transformer under both curricula (d/n every 15 steps, loops 2 -> 4 every 20)."""
    return {
        "dataset": {"name": "looped.linreg", "n_dims": 3, "n_points": 7, "dims_start": 2, "points_start": 3,
                    "curriculum_every": 15},
        "model": {"name": "looped.looped", "loops": 4, "grad_loops": 3, "d_model": 16, "n_heads": 2,
                  "loops_start": 2, "loops_step": 1, "loops_every": 20},
        "recipe": {"name": "looped.train", "max_steps": STEPS, "batch_size": 8, "eval_prompts": 16,
                   "log_every": LOG_EVERY, "eval_every": EVAL_EVERY, "warmup": 5, "lr": 1e-2, "eval_loops": [4],
                   "plot": False},
        "run": {"seed": 0, "threads": 1},
    }


def test_kill_9_mid_training_then_resume_equals_uninterrupted(tmp_path):
    [reference] = run_spec(looped_spec(), tmp_path / "reference")
    assert reference.status == "done", reference.reason

    # past the checkpoint at step 2 * EVAL_EVERY, in the second d/n and loop curriculum stages
    record, run_dir = kill_9_then_resume(looped_spec(), tmp_path, (2 * EVAL_EVERY + LOG_EVERY) // LOG_EVERY)
    assert record.id == reference.id
    log = (run_dir / "log.txt").read_text()
    resumed_at = int(log.split("resumed from step ")[1].split()[0])
    assert 2 * EVAL_EVERY <= resumed_at < STEPS and resumed_at % EVAL_EVERY == 0
    for key in ("error_at_2d", "error_at_d", "val_mse", "error_at_2d_best_loops", "train_tokens", "steps"):
        assert record.results[key] == pytest.approx(reference.results[key], rel=1e-6), key
    assert record.results["stopped_by"] == "max_steps"
    # a finished run keeps no checkpoint unless recipe.save_checkpoint
    assert not (run_dir / "checkpoints" / "last.pt").exists()
