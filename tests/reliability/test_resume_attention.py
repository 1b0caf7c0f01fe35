"""kill -9 during an attention fine-tune and an MLM/TAPT run: the same command again continues from
the last checkpoint and ends where an uninterrupted run does (same metrics, same weights)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from lmbench.testing import run_spec

from .conftest import kill_9_then_resume

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

TINY_MODEL = {"name": "attention.encoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 32, "max_len": 64,
              "positions": "learned", "pooling": "mean", "pooler": "none", "dropout": 0.1, "embed_dropout": 0.1,
              "classifier_dropout": 0.1}  # dropout on: the resumed run must restore the RNG to match
WORDS = ("quantum lattice boson spin", "theorem lemma proof algebra", "network neural gradient loss")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))  # inherited by the child processes


@pytest.fixture
def docs(tmp_path) -> Path:
    """150 short documents in 3 classes, each class with its own words plus common ones."""
    rng = random.Random(0)
    common = "the of and we in this paper show that".split()
    path = tmp_path / "docs.jsonl"
    with path.open("w") as f:
        for i in range(150):
            vocab = WORDS[i % 3].split() + common
            f.write(json.dumps({"text": " ".join(rng.choice(vocab) for _ in range(40)), "label": i % 3}) + "\n")
    return path


def _spec(docs: Path, recipe: dict) -> dict:
    return {"dataset": {"name": "attention.jsonl", "path": str(docs)},
            "tokenizer": {"name": "attention.wordpiece", "vocab_size": 120},
            "model": TINY_MODEL, "attention": {"name": "attention.sdpa"},
            "recipe": {"log_every": 1, "checkpoint_every": 10, **recipe},
            "run": {"seed": 0, "threads": 1}}


def finetune_spec(docs: Path) -> dict:
    """Fine-tuning: 3 epochs of 27 batches of 4 (108 training documents), validation after each epoch."""
    return {**_spec(docs, {"name": "attention.finetune", "max_seq_len": 32, "tokens_per_batch": 0, "batch_size": 4,
                           "epochs": 3, "measure_kernel": False}),
            "metrics": {"name": ["attention.f1_macro", "attention.accuracy"]}}


def mlm_spec(docs: Path, recipe: str) -> dict:
    """MLM/TAPT: 100 steps over two sequence-length stages, validation every 20 steps."""
    return _spec(docs, {"name": recipe, "max_steps": 100, "seq_lens": [16, 32], "seq_len_fractions": [0.5, 0.5],
                        "tokens_per_batch": 128, "val_texts": 20, "eval_every": 20})


def _same_weights(reference_dir: Path, resumed_dir: Path) -> None:
    ref = torch.load(reference_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
    new = torch.load(resumed_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert ref.keys() == new.keys()
    for key in ref:
        torch.testing.assert_close(new[key], ref[key], rtol=0, atol=0, msg=key)


def test_kill_9_during_finetune_then_resume_equals_uninterrupted(docs, tmp_path):
    spec = finetune_spec(docs)
    [reference] = run_spec(spec, tmp_path / "reference")
    assert reference.status == "done", reference.reason
    assert reference.results["steps"] == 3 * 27 and reference.results["stopped_by"] == "max_steps"

    record, run_dir = kill_9_then_resume(spec, tmp_path, kill_after_logged=40)  # past an epoch and a checkpoint
    assert record.id == reference.id
    for key in ("f1_macro", "accuracy", "val_f1_macro", "best_epoch", "steps", "train_tokens"):
        assert record.results[key] == pytest.approx(reference.results[key], rel=1e-9, abs=0), key
    _same_weights(Path(reference.run_dir), run_dir)


@pytest.mark.parametrize("recipe", ["attention.mlm", "attention.tapt"])
def test_kill_9_during_mlm_then_resume_equals_uninterrupted(docs, tmp_path, recipe):
    spec = mlm_spec(docs, recipe)
    [reference] = run_spec(spec, tmp_path / "reference")
    assert reference.status == "done", reference.reason
    assert reference.results["steps"] == 100

    record, run_dir = kill_9_then_resume(spec, tmp_path, kill_after_logged=30)  # past a validation
    for key in ("val_loss", "train_loss", "steps", "train_tokens"):
        assert record.results[key] == pytest.approx(reference.results[key], rel=1e-9, abs=0), key
    _same_weights(Path(reference.run_dir), run_dir)
