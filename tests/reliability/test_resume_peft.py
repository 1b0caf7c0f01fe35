"""Killing a PEFT fine-tune: run the same command again and it ends where an uninterrupted run does."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest

from lmbench.store import Store
from lmbench.testing import run_spec

from .conftest import lmbench_process, wait_for

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


def _steps_logged(store_dir: Path) -> int:
    try:
        with sqlite3.connect(store_dir / "lmbench.sqlite", timeout=5) as conn:
            return conn.execute("SELECT COUNT(DISTINCT step) FROM steps WHERE key='train_loss'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_9_mid_fine_tune_then_resume_equals_uninterrupted(peft_spec, tmp_path):
    [reference] = run_spec(peft_spec, tmp_path / "reference")
    assert reference.status == "done", reference.reason

    spec_file, store_dir = tmp_path / "spec.json", tmp_path / "killed"
    spec_file.write_text(json.dumps(peft_spec))
    args = ("run", "--spec-json", str(spec_file), "--store", str(store_dir), "--no-report", "--json")
    proc = lmbench_process(*args)
    wait_for(lambda: _steps_logged(store_dir) >= EVAL_EVERY + 5 or proc.poll() is not None, what="fine-tuning")
    proc.kill()  # SIGKILL: no handler runs, nothing is saved on the way out
    proc.wait(30)
    with Store(store_dir) as store:
        [killed] = store.runs()
        checkpoint = store.run_dir(killed.id) / "checkpoints" / "last.pt"
    assert killed.status == "abandoned", "the run finished before it could be killed; raise EPOCHS"
    assert checkpoint.exists()

    again = lmbench_process(*args)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr[-3000:]
    [resumed] = json.loads(stdout)["runs"]
    assert resumed["id"] == reference.id and resumed["status"] == "done"
    with Store(store_dir) as store:
        record = store.get(resumed["id"])
        log = (store.run_dir(record.id) / "log.txt").read_text()
    assert record.attempts == 2 and "resumed from step" in log
    assert record.results["steps"] == reference.results["steps"] == EPOCHS * 16
    for key in ("val_loss", "best_val_loss", "val_loss_base", "train_tokens", "train_examples", "chrf_pp"):
        assert record.results[key] == pytest.approx(reference.results[key], rel=1e-6), key
    assert record.results["stopped_by"] == reference.results["stopped_by"] == "epochs"
