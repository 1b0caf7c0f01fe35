"""peft.poetry: filtering with counted reasons, author choice, seeded 70/15/15 split, loss mask, prompt truncation."""

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
    assert len(ds.train) + len(ds.val) + len(ds.test) == 16
    assert "dropped 4 of 20 poems" in caplog.text and "1 missing author" in caplog.text


def test_long_poems_dropped_by_max_tokens(tmp_path, smol_tokenizer):
    rows = poem_rows(20)
    rows[5]["text"] = "word " * 700
    ds = make(write_jsonl(tmp_path / "p.jsonl", rows), smol_tokenizer, max_tokens=600)
    assert ds.dropped == {"longer than 600 tokens": 1}
    assert all(e.n_target_tokens - 1 <= 600 for e in ds.train + ds.val + ds.test)


def test_seeded_70_15_15_split_by_poem_is_deterministic(poems_file, smol_tokenizer):
    a = make(poems_file, smol_tokenizer, split_seed=1)
    b = make(poems_file, smol_tokenizer, split_seed=1)
    c = make(poems_file, smol_tokenizer, split_seed=2)
    assert (len(a.train), len(a.val), len(a.test)) == (16, 4, 4)  # round(24 * 0.15) = 4 each
    assert [e.title for e in a.val] == [e.title for e in b.val] and [e.title for e in a.test] == [e.title for e in b.test]
    assert [e.title for e in a.val + a.test] != [e.title for e in c.val + c.test]
    train, val, test = ({e.title for e in split} for split in (a.train, a.val, a.test))
    assert not train & val and not train & test and not val & test
    assert len(train | val | test) == 24
    assert a.summary()["poems_test"] == 4 and a.summary()["authors"] == 2
    no_test = make(poems_file, smol_tokenizer, test_fraction=0)
    assert (len(no_test.train), len(no_test.val), len(no_test.test)) == (20, 4, 0)


def author_rows() -> list[dict]:
    """Ada 6 poems, Bo 4, Cy 2 (one with an empty text), all short."""
    rows = [{"author": "Ada Lovelace", "title": f"A{i}", "text": f"the moon {i}\nthe sea {i}"} for i in range(6)]
    rows += [{"author": "Bo Diddley", "title": f"B{i}", "text": f"a road {i}\na stone {i}"} for i in range(4)]
    rows += [{"author": "Cy Twombly", "title": "C0", "text": "red\nblue"}, {"author": "Cy Twombly", "title": "C1", "text": ""}]
    return rows


def test_authors_chosen_by_name_or_by_poem_count(tmp_path, smol_tokenizer):
    path = write_jsonl(tmp_path / "authors.jsonl.gz", author_rows())
    ds = make(path, smol_tokenizer, min_author_poems=4)
    assert ds.authors == ["Ada Lovelace", "Bo Diddley"]
    assert {e.author for e in ds.train + ds.val + ds.test} == {"Ada Lovelace", "Bo Diddley"}
    assert ds.dropped == {"empty text": 1, "by another author": 1}  # Cy has 1 usable poem: counted after the field filter
    assert len(ds.train) + len(ds.val) + len(ds.test) == 10
    ds = make(path, smol_tokenizer, min_author_poems=5)
    assert ds.authors == ["Ada Lovelace"] and ds.dropped["by another author"] == 5
    ds = make(path, smol_tokenizer, authors=["Bo Diddley", "Cy Twombly"])
    assert ds.authors == ["Bo Diddley", "Cy Twombly"] and len(ds.train + ds.val + ds.test) == 5
    ds = make(path, smol_tokenizer, authors=["Bo Diddley", "Cy Twombly"], min_author_poems=2)
    assert ds.authors == ["Bo Diddley"]


def test_bad_author_choice_is_one_line(tmp_path, smol_tokenizer):
    path = write_jsonl(tmp_path / "authors.jsonl.gz", author_rows())
    with pytest.raises(LmbenchError, match=r"dataset.authors: 'Bo Didley' \(did you mean 'Bo Diddley'\?\) not in"):
        make(path, smol_tokenizer, authors=["Bo Didley"])
    with pytest.raises(LmbenchError, match=r"no author has 7 poems \(the most is 6\); lower dataset.min_author_poems"):
        make(path, smol_tokenizer, min_author_poems=7)
    with pytest.raises(ConfigError, match="test_fraction"):
        make_config(PoetryDataset.Config, {"val_fraction": 0.5, "test_fraction": 0.5}, "dataset peft.poetry")


def test_corpus_is_found_through_lmbench_data(tmp_path, smol_tokenizer, monkeypatch):
    (tmp_path / "poetry").mkdir()
    write_jsonl(tmp_path / "poetry" / "english_pd.jsonl.gz", author_rows())
    monkeypatch.setenv("LMBENCH_DATA", str(tmp_path))
    ds = PoetryDataset(PoetryDataset.Config(), tokenizer=smol_tokenizer)  # corpus "english" is the default
    assert ds.path == str(tmp_path / "poetry" / "english_pd.jsonl.gz") and ds.n_total == 12
    with pytest.raises(LmbenchError, match=r"poetry/pushkin.jsonl.gz not found; set LMBENCH_DATA"):
        PoetryDataset(PoetryDataset.Config(corpus="pushkin"), tokenizer=smol_tokenizer)
    with pytest.raises(ConfigError, match="corpus"):
        make_config(PoetryDataset.Config, {"corpus": "latin"}, "dataset peft.poetry")


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
    long = next(e for e in ds.train + ds.val + ds.test if e.title.startswith("A very"))
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
    n = len(ds.train) + len(ds.val) + len(ds.test)
    assert len(ds.val) == len(ds.test) == round(n * 0.15)


@pytest.mark.data
def test_shared_english_set_authors_with_20_poems(shared_data, smol_tokenizer):
    ds = PoetryDataset(PoetryDataset.Config(path=str(shared_data / "poetry/english_pd.jsonl.gz"), max_tokens=200,
                                            min_author_poems=20, max_poems=160), tokenizer=smol_tokenizer)
    assert ds.n_total == 15_776 and len(ds.authors) == 148  # the data README: 148 authors with 20+ poems
    assert (len(ds.train), len(ds.val), len(ds.test)) == (112, 24, 24)
    assert {e.author for e in ds.train + ds.val + ds.test} <= set(ds.authors)


def test_hub_dataset_offline_is_one_line(smol_tokenizer, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LmbenchError, match="hub dataset someone/poems needs network access"):
        make("hf:someone/poems", smol_tokenizer)
