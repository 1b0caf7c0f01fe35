"""The attention lab's encoder fine-tune with recipe.compile on the CPU, for an exact and a FAVOR+ kernel."""

import shutil

import pytest

pytest.importorskip("torch")

from lmbench.spec.config import build_spec  # noqa: E402
from lmbench.testing import fresh_host, run_spec  # noqa: E402

TINY = ["model.d_model=32", "model.n_layers=1", "model.n_heads=2", "model.d_ff=64", "model.max_len=512",
        "tokenizer.vocab_size=300", "recipe.max_steps=3", "recipe.max_seq_len=128", "recipe.tokens_per_batch=1024",
        "run.threads=1", "run.device=cpu"]


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None, reason="no C++ compiler")
def test_compiled_encoder_finetune(tmp_path, monkeypatch):
    from test_attention_data_recipes import long_docs

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    host = fresh_host(entry_points=True)
    docs = long_docs(tmp_path / "docs.jsonl", n=30, words=150)
    spec = build_spec(host.registries, preset="attention.favor",
                      sets=[*TINY, "dataset.name=attention.jsonl", f"dataset.path={docs}", "recipe.compile=true"])
    [record] = run_spec(spec, tmp_path / "runs", host=host)
    assert record.status == "done", record.reason
    assert record.results["compile_seconds"] > 0 and record.results["steps"] == 3
