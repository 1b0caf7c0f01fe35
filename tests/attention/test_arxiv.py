"""``attention.arxiv`` offline: the local file, the seeded stratified split, the K largest classes,
and the source each run reports."""

from __future__ import annotations

import gzip
import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("torch")

from lmbench.config import build_spec  # noqa: E402
from lmbench.errors import LmbenchError  # noqa: E402
from lmbench.testing import fresh_host, run_spec  # noqa: E402

# class sizes of the fixture: 40, 30, 20, 10 documents
SIZES = {"astro-ph": 40, "math": 30, "hep-th": 20, "q-bio": 10}
WORDS = {"astro-ph": "galaxy star redshift halo", "math": "theorem lemma proof ring",
         "hep-th": "brane string gauge duality", "q-bio": "protein cell gene fitness"}


def write_papers(folder: Path, sizes: dict[str, int] = SIZES, words: int = 120) -> Path:
    """A tiny papers.jsonl.gz in the shared layout: id, text, label (archive name)."""
    rng = random.Random(0)
    path = folder / "arxiv" / "papers.jsonl.gz"
    path.parent.mkdir(parents=True)
    rows = [{"id": f"{label}/{i:07d}", "label": label,
             "text": " ".join(rng.choice(WORDS.get(label, "nucleus beam").split() + ["the", "of", "we"]) for _ in range(words))}
            for label, n in sizes.items() for i in range(n)]
    rng.shuffle(rows)
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return path


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub is never reachable in tests
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))


def test_local_file_seeded_stratified_split_and_source(tmp_path, monkeypatch):
    from lmbench_attention.arxiv import ArxivDataset

    path = write_papers(tmp_path)
    monkeypatch.setenv("LMBENCH_DATA", str(tmp_path))
    data = ArxivDataset(ArxivDataset.Config(test_fraction=0.2, val_fraction=0.1))
    splits = data.splits()
    assert data.source == f"local:{path}"
    assert data.label_names == sorted(SIZES)
    assert sum(len(s) for s in splits.values()) == 100
    assert len(splits["test"]) == 20
    by_name = {name: Counter(data.label_names[y] for y in splits["test"].labels) for name in ["test"]}
    assert by_name["test"] == {k: v // 5 for k, v in SIZES.items()}  # 20% of every class
    again = ArxivDataset(ArxivDataset.Config(test_fraction=0.2, val_fraction=0.1))
    assert again.splits()["test"].texts == splits["test"].texts  # seeded
    other = ArxivDataset(ArxivDataset.Config(test_fraction=0.2, val_fraction=0.1, seed=1)).splits()
    assert other["test"].texts != splits["test"].texts


def test_keep_the_k_largest_classes_and_cut_long_documents(tmp_path, monkeypatch):
    from lmbench_attention.arxiv import ArxivDataset

    write_papers(tmp_path)
    monkeypatch.setenv("LMBENCH_DATA", str(tmp_path))
    data = ArxivDataset(ArxivDataset.Config(top_classes=2, max_doc_tokens=50))
    splits = data.splits()
    assert data.label_names == ["astro-ph", "math"] and data.n_classes == 2
    assert sum(len(s) for s in splits.values()) == 70
    assert {len(t.split()) for s in splits.values() for t in s.texts} == {50}


def test_a_class_too_small_to_split_names_the_fix(tmp_path, monkeypatch):
    from lmbench_attention.arxiv import ArxivDataset

    write_papers(tmp_path, {**SIZES, "nucl-ex": 2})
    monkeypatch.setenv("LMBENCH_DATA", str(tmp_path))
    with pytest.raises(LmbenchError, match=r"nucl-ex.*top_classes"):
        ArxivDataset(ArxivDataset.Config()).splits()
    assert ArxivDataset(ArxivDataset.Config(top_classes=4)).n_classes == 4


def test_lsh_arxiv_as_written_reports_the_local_source_and_the_kernel_cost(tmp_path, monkeypatch):
    path = write_papers(tmp_path)
    monkeypatch.setenv("LMBENCH_DATA", str(tmp_path))
    host = fresh_host(entry_points=True)
    tiny = ["model.d_model=32", "model.n_layers=1", "model.n_heads=2", "model.d_ff=64", "tokenizer.vocab_size=300",
            "recipe.epochs=1", "recipe.max_seq_len=128", "model.max_len=128", "run.threads=1", "run.device=cpu"]
    spec = build_spec(host.registries, preset="attention.lsh", overrides={"dataset.name": "arxiv"}, sets=tiny)
    assert spec["dataset"] == {"name": "arxiv"}  # no path: the hub if reachable, else $LMBENCH_DATA
    [record] = run_spec(spec, tmp_path / "runs", host=host)
    assert record.status == "done", record.reason
    results = record.results
    assert results["data_source"] == f"local:{path}" and results["n_classes"] == 4
    assert 0.0 <= results["f1_macro"] <= 1.0 and 0.0 <= results["accuracy"] <= 1.0
    assert results["kernel_fwd_ms"] > 0 and results["kernel_fwd_bwd_ms"] > 0
    assert results["kernel_peak_memory_bytes"] > 0 and results["attention"] == "attention.lsh"


def test_the_shared_arxiv_file():
    root = os.environ.get("LMBENCH_DATA")
    if not root or not Path(root, "arxiv", "papers.jsonl.gz").exists():
        pytest.skip("LMBENCH_DATA not set: the shared arxiv/papers.jsonl.gz is absent")
    from lmbench_attention.arxiv import ArxivDataset

    data = ArxivDataset(ArxivDataset.Config(top_classes=11))
    splits = data.splits()
    assert data.n_classes == 11 and data.source.startswith("local:")
    assert "astro-ph" in data.label_names and "q-bio" not in data.label_names
    total = sum(len(s) for s in splits.values())
    assert len(splits["test"]) == pytest.approx(0.2 * total, abs=11)
