"""Data sets, the `--plugin attention.lsh --dataset arxiv` path, and the recipes end to end (tiny sizes)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from lmbench.spec.config import build_spec  # noqa: E402
from lmbench.errors import LmbenchError  # noqa: E402
from lmbench.testing import fresh_host, run_spec  # noqa: E402

TINY = ["model.d_model=32", "model.n_layers=1", "model.n_heads=2", "model.d_ff=64", "model.max_len=512",
        "tokenizer.vocab_size=300", "recipe.epochs=1", "recipe.max_seq_len=256", "recipe.tokens_per_batch=2048",
        "run.threads=1"]

WORDS = {0: "quantum lattice boson spin field gauge", 1: "theorem lemma proof algebra manifold group",
         2: "network neural training gradient loss model"}


def long_docs(path: Path, n: int = 36, words: int = 700) -> Path:
    """A small arXiv-like jsonl: long documents (hundreds of words) in 3 classes."""
    rng = random.Random(0)
    common = "the of and we in this paper show that results".split()
    with path.open("w") as f:
        for i in range(n):
            label = i % 3
            vocab = WORDS[label].split() + common
            f.write(json.dumps({"text": " ".join(rng.choice(vocab) for _ in range(words)), "label": label}) + "\n")
    return path


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub is never reachable in tests
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))


def test_arxiv_without_hub_or_local_copy_fails_with_one_line(monkeypatch):
    from lmbench_attention.arxiv import ArxivDataset

    monkeypatch.delenv("LMBENCH_DATA", raising=False)
    with pytest.raises(LmbenchError) as info:
        ArxivDataset(ArxivDataset.Config()).splits()
    message = str(info.value)
    assert "\n" not in message
    assert "ccdv/arxiv-classification" in message and "--set dataset.path=" in message and "LMBENCH_DATA" in message


def test_cli_lsh_arxiv_without_any_source_prints_the_reason(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LMBENCH_DATA"}
    env.update({"HF_HUB_OFFLINE": "1", "LMBENCH_CACHE": str(tmp_path / "cache")})
    proc = subprocess.run([sys.executable, "-m", "lmbench.cli", "run", "--plugin", "attention.lsh", "--dataset", "arxiv",
                           "--store", str(tmp_path / "runs"), "--no-report"],
                          capture_output=True, text=True, env=env, timeout=300)
    out = " ".join((proc.stdout + proc.stderr).split())  # rich wraps long lines
    assert "the Hugging Face hub (ccdv/arxiv-classification) is unreachable" in out, out[-2000:]
    assert proc.returncode != 0 or "failed" in out


def test_lsh_arxiv_runs_on_a_local_jsonl(tmp_path):
    host = fresh_host(entry_points=True)
    docs = long_docs(tmp_path / "arxiv.jsonl")
    spec = build_spec(host.registries, preset="attention.lsh", overrides={"dataset.name": "arxiv"},
                      sets=[*TINY, f"dataset.path={docs}", "run.device=cpu"])
    assert spec["dataset"] == {"name": "arxiv", "path": str(docs)}
    [record] = run_spec(spec, tmp_path / "runs", host=host)
    assert record.status == "done", record.reason
    assert record.spec["dataset"]["name"] == "attention.arxiv"
    assert record.spec["attention"]["name"] == "attention.lsh"
    results = record.results
    assert 0.0 <= results["f1_macro"] <= 1.0 and results["test_examples"] == 8  # seeded stratified 20% of 36
    assert results["attention"] == "attention.lsh"
    from lmbench.store import Store

    per_example = Store(tmp_path / "runs", readonly=True).measurements(record.id)["per_example"]
    correct = per_example["accuracy"]  # right/wrong per test example, for McNemar's test in `lmbench compare`
    assert len(correct) == 8 and set(correct) <= {0, 1} and sum(correct) / 8 == results["accuracy"]
    assert len(per_example["_weights"]["accuracy"]) == 16  # the fingerprint of the evaluated weights


def test_datasets_split_and_labels(tmp_path):
    from lmbench_attention.data import BBCDataset, DataConfig, JsonlConfig, JsonlDataset

    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"body": f"text {i}", "y": ["neg", "pos", "mid"][i % 3]}) + "\n"
                            for i in range(60)))
    data = JsonlDataset(JsonlConfig(path=str(path), text_field="body", label_field="y", val_fraction=0.1))
    splits = data.splits()
    assert data.label_names == ["mid", "neg", "pos"]
    assert len(splits["test"]) == 12 and len(splits["validation"]) + len(splits["train"]) == 48
    assert sorted(splits["test"].labels) == [0] * 4 + [1] * 4 + [2] * 4  # stratified
    again = JsonlDataset(JsonlConfig(path=str(path), text_field="body", label_field="y")).splits()
    assert again["test"].texts == splits["test"].texts  # seeded
    with pytest.raises(LmbenchError, match="text_field"):
        JsonlDataset(JsonlConfig(path=str(path))).splits()
    bbc = BBCDataset(DataConfig())
    assert bbc.n_classes == 5 and len(bbc.splits()["test"]) == 445  # 20% of 2,225


def test_shared_imdb_and_hyperpartisan():
    root = os.environ.get("LMBENCH_DATA")
    if not root or not Path(root, "imdb").is_dir():
        pytest.skip("LMBENCH_DATA not set: shared data sets absent")
    from lmbench_attention.data import DataConfig, HyperpartisanDataset, ImdbDataset

    imdb = ImdbDataset(DataConfig(max_train_examples=500, max_test_examples=300)).splits()
    assert len(imdb["train"]) == 500 and len(imdb["test"]) == 300
    assert 0.35 < sum(imdb["train"].labels) / 500 < 0.65  # shuffled, not the sorted file order
    hyper = HyperpartisanDataset(DataConfig())
    splits = hyper.splits()
    assert hyper.n_classes == 2 and len(splits["test"]) == 129  # 20% of 645, stratified
    assert abs(sum(splits["test"].labels) / 129 - 238 / 645) < 0.02


def test_mlm_then_finetune_from_pretrained(tmp_path):
    host = fresh_host(entry_points=True)
    docs = long_docs(tmp_path / "docs.jsonl", n=60, words=200)
    mlm = build_spec(host.registries, preset="attention.pretrain",
                     sets=[*[s for s in TINY if not s.startswith("recipe.")], "dataset.name=attention.jsonl",
                           f"dataset.path={docs}", "recipe.max_steps=4", "recipe.seq_lens=[64, 128]",
                           "recipe.tokens_per_batch=1024", "recipe.val_texts=5", "run.device=cpu"])
    [pre] = run_spec(mlm, tmp_path / "runs", host=host)
    assert pre.status == "done", pre.reason
    assert pre.results["steps"] == 4 and pre.results["val_loss"] > 0
    assert (Path(pre.run_dir) / "encoder.pt").exists()
    ft = build_spec(host.registries, preset="attention.favor",
                    sets=[*TINY, "dataset.name=attention.jsonl", f"dataset.path={docs}", "recipe.freeze_layers=1",
                          f"recipe.init_from={pre.run_dir}", "run.device=cpu"])
    [record] = run_spec(ft, tmp_path / "runs", host=host)
    assert record.status == "done", record.reason
    assert record.results["trainable_params"] < record.results["params"]


def test_finetune_time_limit_leaves_an_explicit_reserve_for_the_final_evaluation():
    import time

    from lmbench.training import StopRule
    from lmbench_attention.recipes.finetune import EVAL_SPEEDUP, FIXED_RESERVE_S, Finetune, FinetuneConfig

    recipe = Finetune(FinetuneConfig(time_limit=600))
    recipe.eval_tokens = 200_000
    stop = StopRule(100, None).start(elapsed=100.0)
    limit_end = time.monotonic() + 400.0  # 400 s of the limit left, 100 s trained at 1,000 tokens/s
    recipe._fit_time_limit(stop, limit_end, {"tokens": 100_000})
    reserve = FIXED_RESERVE_S + 200_000 / (EVAL_SPEEDUP * 1_000)
    assert stop.budget == pytest.approx(100.0 + 400.0 - reserve, abs=1.0)  # the phase ends `reserve` before the limit
    capped = Finetune(FinetuneConfig(time_limit=600, budget=120))
    capped.eval_tokens = 200_000
    capped._fit_time_limit(stop, limit_end, {"tokens": 100_000})
    assert stop.budget == 120  # recipe.budget (the training phase) still caps it
    with pytest.raises(LmbenchError, match="time_limit"):
        FinetuneConfig(time_limit=-1)


def test_encoder_flops_per_token_follow_the_transformer_formula():
    """The encoder's training FLOPs per token: 6N + 12·L·T·d with N outside the embeddings, d the attention
    width (heads x head size), here for AutoTinyBERT-S1's shape where d (512) differs from the hidden 564."""
    from types import SimpleNamespace

    from lmbench_attention.models.encoder import EncoderConfig
    from lmbench_attention.models.heads import build_model
    from lmbench_attention.recipes.common import encoder_mfu

    cfg = EncoderConfig(d_model=564, n_layers=2, n_heads=8, head_dim=64, d_ff=1054, max_len=64, prenorm=False)
    model = build_model(cfg, vocab_size=500, n_classes=2)
    body = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("encoder.tokens.", "encoder.learned.")))
    run = SimpleNamespace(dist=SimpleNamespace(world_size=1), info=lambda *a: None)
    out = encoder_mfu(run, model, tokens=1000, seconds=1.0, seq_len=64, device="cpu")
    assert out["train_flops_per_token"] == 6 * body + 12 * 2 * 64 * 512
