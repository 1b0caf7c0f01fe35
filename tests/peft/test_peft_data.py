"""peft.poetry: filtering with counted reasons, seeded 85/15 split, loss mask, prompt truncation."""

from __future__ import annotations

import logging

import pytest

from lmbench.errors import ConfigError, LmbenchError
from lmbench.config import make_config
from lmbench_peft.data import PoetryDataset, collate, describe_drops

from peft_helpers import poem_rows, write_jsonl


def make(path, tok, **options):
    return PoetryDataset(make_config(PoetryDataset.Config, {"path": str(path), **options}, "dataset peft.poetry"),
                         tokenizer=tok)


def test_missing_and_empty_fields_are_dropped_and_counted(tmp_path, smol_tokenizer, caplog):
    rows = poem_rows(20)
    rows[0].pop("author")
    rows[1]["title"] = "  "
    rows[2]["author"] = ""
    rows[3]["text"] = None
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    with caplog.at_level(logging.WARNING, logger="lmbench.peft"):
        ds = make(path, smol_tokenizer)
    assert ds.dropped == {"missing author": 1, "empty title": 1, "empty author": 1, "missing text": 1}
    assert len(ds.train) + len(ds.val) == 16
    assert "dropped 4 of 20 poems" in caplog.text and "1 missing author" in caplog.text


def test_long_poems_dropped_by_max_tokens(tmp_path, smol_tokenizer):
    rows = poem_rows(20)
    rows[5]["text"] = "word " * 700
    ds = make(write_jsonl(tmp_path / "p.jsonl", rows), smol_tokenizer, max_tokens=600)
    assert ds.dropped == {"longer than 600 tokens": 1}
    assert all(e.n_target_tokens - 1 <= 600 for e in ds.train + ds.val)


def test_seeded_85_15_split_is_deterministic(poems_file, smol_tokenizer):
    a = make(poems_file, smol_tokenizer, split_seed=1)
    b = make(poems_file, smol_tokenizer, split_seed=1)
    c = make(poems_file, smol_tokenizer, split_seed=2)
    assert (len(a.train), len(a.val)) == (20, 4)  # round(24 * 0.15) = 4
    assert [e.title for e in a.val] == [e.title for e in b.val]
    assert [e.title for e in a.val] != [e.title for e in c.val]
    assert not {e.title for e in a.val} & {e.title for e in a.train}


def test_loss_only_on_poem_tokens_and_template(poems_file, smol_tokenizer):
    ds = make(poems_file, smol_tokenizer, template="{system}|{author}|{title}|{marker}\n", marker="<<P>>",
              system="SYS")
    e = ds.train[0]
    assert smol_tokenizer.decode(e.prompt_ids) == f"SYS|{e.author}|{e.title}|<<P>>\n"
    assert e.labels[: len(e.prompt_ids)] == [-100] * len(e.prompt_ids)
    assert e.labels[len(e.prompt_ids):] == e.target_ids
    assert e.target_ids[-1] == smol_tokenizer.eos_token_id
    assert smol_tokenizer.decode(e.target_ids[:-1]) == e.text
    batch = collate(ds.train[:3], smol_tokenizer.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert int(batch["attention_mask"].sum()) == sum(len(x.input_ids) for x in ds.train[:3])


def test_over_long_prompt_is_truncated_with_warning(tmp_path, smol_tokenizer, caplog):
    rows = poem_rows(10)
    rows[0]["title"] = "A very long title " * 40
    with caplog.at_level(logging.WARNING, logger="lmbench.peft"):
        ds = make(write_jsonl(tmp_path / "p.jsonl", rows), smol_tokenizer, max_prompt_tokens=32)
    assert ds.n_prompt_truncated == 1
    assert "1 prompts longer than max_prompt_tokens=32 were truncated" in caplog.text
    long = next(e for e in ds.train + ds.val if e.title.startswith("A very"))
    assert len(long.prompt_ids) == 32
    assert smol_tokenizer.decode(long.prompt_ids).endswith("### Poem:\n")  # the marker survives


def test_bad_inputs_are_one_line_errors(tmp_path, smol_tokenizer, monkeypatch):
    with pytest.raises(LmbenchError, match="not found; pass --set dataset.path"):
        make(tmp_path / "nope.jsonl", smol_tokenizer)
    monkeypatch.delenv("LMBENCH_DATA", raising=False)
    with pytest.raises(LmbenchError, match="LMBENCH_DATA"):
        PoetryDataset(PoetryDataset.Config(), tokenizer=smol_tokenizer)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"author": "a"}\nnot json\n')
    with pytest.raises(LmbenchError, match="line 2 is not JSON"):
        make(bad, smol_tokenizer)
    only_bad = write_jsonl(tmp_path / "empty.jsonl", [{"author": "", "title": "t", "text": "x"}] * 3)
    with pytest.raises(LmbenchError, match=r"only 0 usable poems of 3 \(dropped 3 of 3 poems: 3 empty author\)"):
        make(only_bad, smol_tokenizer)
    with pytest.raises(ConfigError, match="val_fraction"):
        make_config(PoetryDataset.Config, {"val_fraction": 1.5}, "dataset peft.poetry")


def test_describe_drops_orders_by_count():
    assert describe_drops({"empty title": 3, "longer than 600 tokens": 9}, 910) == \
        "dropped 12 of 910 poems: 9 longer than 600 tokens, 3 empty title"


@pytest.mark.data
def test_shared_pushkin_set(shared_data, smol_tokenizer):
    ds = PoetryDataset(PoetryDataset.Config(path=str(shared_data / "poetry/pushkin.jsonl.gz"), max_tokens=120),
                       tokenizer=smol_tokenizer)
    assert ds.n_total == 910
    assert ds.dropped and all(k == "longer than 120 tokens" for k in ds.dropped)
    assert {e.author for e in ds.train} == {"Александр Пушкин"}
    assert len(ds.val) == round((len(ds.train) + len(ds.val)) * 0.15)


def test_hub_dataset_offline_is_one_line(smol_tokenizer, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LmbenchError, match="hub dataset someone/poems needs network access"):
        make("hf:someone/poems", smol_tokenizer)
