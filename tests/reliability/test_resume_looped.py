"""Killing looped.train with kill -9: run again, it resumes from its last checkpoint and ends where an
uninterrupted run does (same curricula, same batches, same final errors)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from lmbench.store import Store
from lmbench.testing import run_spec

from .conftest import lmbench_process, wait_for

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


def _steps_done(store_dir) -> int:
    """Training steps done by the run in ``store_dir``, from its logged train_loss rows."""
    try:
        with sqlite3.connect(store_dir / "lmbench.sqlite", timeout=5) as conn:
            rows = conn.execute("SELECT COUNT(DISTINCT step) FROM steps WHERE key='train_loss'").fetchone()[0]
            return LOG_EVERY * rows
    except sqlite3.OperationalError:
        return 0


def test_kill_9_mid_training_then_resume_equals_uninterrupted(tmp_path):
    [reference] = run_spec(looped_spec(), tmp_path / "reference")
    assert reference.status == "done", reference.reason

    store_dir = tmp_path / "killed"
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(looped_spec()))
    args = ("run", "--spec-json", str(spec_file), "--store", str(store_dir), "--no-report", "--json")
    proc = lmbench_process(*args)
    # past the checkpoint at step 2 * EVAL_EVERY, in the second d/n and loop curriculum stages
    wait_for(lambda: _steps_done(store_dir) >= 2 * EVAL_EVERY + LOG_EVERY or proc.poll() is not None, what="training")
    proc.kill()  # SIGKILL: no handler runs, no cleanup
    proc.wait(30)
    with Store(store_dir) as store:
        [killed] = store.runs()
        checkpoint = store.run_dir(killed.id) / "checkpoints" / "last.pt"
    assert killed.status == "abandoned", "the run finished before it could be killed; raise STEPS"
    assert checkpoint.exists()

    again = lmbench_process(*args)
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr[-3000:]
    [resumed] = json.loads(stdout)["runs"]
    assert resumed["id"] == reference.id and resumed["status"] == "done"
    with Store(store_dir) as store:
        record = store.get(resumed["id"])
        log = (store.run_dir(record.id) / "log.txt").read_text()
    assert record.attempts == 2 and "resumed from step" in log
    resumed_at = int(log.split("resumed from step ")[1].split()[0])
    assert 2 * EVAL_EVERY <= resumed_at < STEPS and resumed_at % EVAL_EVERY == 0
    for key in ("error_at_2d", "error_at_d", "val_mse", "error_at_2d_best_loops", "train_tokens", "steps"):
        assert record.results[key] == pytest.approx(reference.results[key], rel=1e-6), key
    assert record.results["stopped_by"] == "max_steps"
    assert not checkpoint.exists()  # a finished run keeps no checkpoint unless recipe.save_checkpoint
