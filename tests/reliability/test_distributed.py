"""torchrun (DDP, gloo on CPU): two processes train exactly what one process with their global batch does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lmbench.store import Store
from lmbench.testing import run_spec

pytest.importorskip("torch")

WORDS = "the king and the queen walk in the garden while a fool sings of love and war".split()
STEPS = 8


def _spec(corpus, batch_size: int) -> dict:
    return {
        "dataset": {"name": "lm.text", "path": str(corpus)},
        "tokenizer": {"name": "lm.char"},
        "model": {"name": "lm.transformer", "n_layers": 1, "n_heads": 2, "emb_dim": 16, "max_seq_len": 32,
                  "dropout": 0.0},
        "recipe": {"name": "lm.train", "context": 16, "batch_size": batch_size, "max_steps": STEPS, "eval_every": 4,
                   "log_every": 1, "warmup_steps": 2, "eval_tokens": 256, "final_eval_tokens": 512, "lr": 3e-3,
                   "sample_prompts": [], "gen_tokens": 0, "save_best": False},
        "run": {"seed": 0, "threads": 1},
    }


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for d in range(12):
        lines = [" ".join(WORDS[(d + i + j) % len(WORDS)] for j in range(8)) for i in range(30)]
        (folder / f"doc{d:02d}.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_two_process_training_equals_one_process_with_the_global_batch(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    [single] = run_spec(_spec(corpus, batch_size=8), tmp_path / "single")
    assert single.status == "done", single.reason

    spec_file = tmp_path / "ddp.json"
    spec_file.write_text(json.dumps(_spec(corpus, batch_size=4)))
    store_dir = tmp_path / "ddp"
    out = subprocess.run([sys.executable, "-m", "lmbench.cli", "run", "--spec-json", str(spec_file), "--store",
                          str(store_dir), "--nproc", "2", "--no-report"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]

    with Store(store_dir) as store:
        [ddp] = store.runs()  # two processes, one run: only rank 0 writes
        assert ddp.status == "done" and ddp.env["world_size"] == 2
        ddp_curve = [v for _, v in store.steps(ddp.id)["train_loss"]]
    with Store(tmp_path / "single") as store:
        single_curve = [v for _, v in store.steps(single.id)["train_loss"]]
    assert len(ddp_curve) == len(single_curve) == STEPS
    assert ddp_curve == pytest.approx(single_curve, rel=1e-4)
    assert single_curve[-1] < single_curve[0]  # it learned something, so equality is not vacuous
    assert ddp.results["train_tokens"] == single.results["train_tokens"]
    assert ddp.results["val_loss"] == pytest.approx(single.results["val_loss"], rel=1e-4)
