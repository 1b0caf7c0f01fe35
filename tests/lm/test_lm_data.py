"""Corpora, token cache and batching: splits, label shifting, PAD masking, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmbench.errors import LmbenchError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)


def test_shakespeare_plays_split_and_markup():
    from lmbench_lm.data import ShakespearePlays

    ds = ShakespearePlays()
    sizes = {s: len(list(ds.documents(s))) for s in ("train", "val", "test")}
    assert sizes == {"train": 30, "val": 4, "test": 4}
    text = "".join(ds.documents("val"))
    assert "**" not in text and "#" not in text and "_Enter" not in text
    from lmbench_lm.data import split_documents

    assert split_documents(38, 0, 0.1, 0.1) == ds._splits  # deterministic
    assert split_documents(38, 1, 0.1, 0.1) != ds._splits  # seeded


def test_play_to_text_keeps_speaker_lines():
    from lmbench_lm.data import play_to_text

    md = ("# Play\n\n## ACT I\n\n### SCENE I. A room.\n\n_Enter ROMEO and\nJULIET_\n\n**ROMEO**  \n"
          "O, she doth teach  \n_\\[Aside]_ the torches\n\n**JULIET**  \nGood night.\n\n_Exeunt_\n")
    scenes = play_to_text(md)
    assert scenes == ["ROMEO:\nO, she doth teach\nthe torches\n\nJULIET:\nGood night.\n"]


def test_text_files_and_empty_corpus(tmp_path):
    from lmbench_lm.data import TextFiles

    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(10):
        (folder / f"d{i}.txt").write_text(f"document {i}\n")
    ds = TextFiles(TextFiles.Config(path=str(folder)))
    assert sum(len(list(ds.documents(s))) for s in ("train", "val", "test")) == 10
    blocks = tmp_path / "blocks.txt"
    blocks.write_text("a b\n\nc d\n\n\ne f\n")
    assert len(TextFiles(TextFiles.Config(path=str(blocks), unit="block")).docs) == 3
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with pytest.raises(LmbenchError, match="empty"):
        TextFiles(TextFiles.Config(path=str(empty)))
    with pytest.raises(LmbenchError, match="does not exist"):
        TextFiles(TextFiles.Config(path=str(tmp_path / "missing")))


def test_tinyshakespeare_nanogpt_split(shared_data):
    from lmbench_lm.data import TinyShakespeare

    ds = TinyShakespeare(TinyShakespeare.Config(path=str(shared_data / "tinyshakespeare")))
    train, val = "".join(ds.documents("train")), "".join(ds.documents("val"))
    assert len(train) == int(1115394 * 0.9) and len(train) + len(val) == 1115394
    assert list(ds.documents("test")) == []


def test_hf_streaming_local_json(tmp_path):
    import gzip
    import json

    from lmbench_lm.data_hf import HFText

    path = tmp_path / "rows.jsonl.gz"
    with gzip.open(path, "wt") as f:
        for i in range(200):
            f.write(json.dumps({"Body": f"post number {i}"}) + "\n")
    cfg = HFText.Config(dataset="json", data_files=str(path), field="Body", val_fraction=0.1, test_fraction=0.1)
    ds = HFText(cfg)
    splits = {s: list(ds.documents(s)) for s in ("train", "val", "test")}
    assert sum(map(len, splits.values())) == 200 and all(splits.values())
    assert not set(splits["train"]) & set(splits["val"])
    with pytest.raises(LmbenchError, match="no field 'text'"):
        list(HFText(HFText.Config(dataset="json", data_files=str(path))).documents("train"))


class _Docs:
    def __init__(self, docs):
        self.docs = docs

    def documents(self, split):
        yield from self.docs

    def key(self):
        return "docs:" + "|".join(self.docs)


def test_token_cache_roundtrip_and_reuse(tmp_path):
    from lmbench_lm.tokenizers import CharTokenizer
    from lmbench_lm.tokens import cached_split

    tok = CharTokenizer(texts=["abc"])
    ds = _Docs(["abc", "ca"])
    split = cached_split(ds, "train", tok)
    assert split.tokens.tolist() == tok.encode("abc") + [0] + tok.encode("ca") + [0]
    assert split.doc_starts.tolist() == [0, 4, 7] and split.n_bytes == 7
    assert isinstance(split.tokens, np.memmap)
    assert cached_split(ds, "train", tok).path == split.path  # cache hit, same key
    assert cached_split(_Docs(["abc"]), "train", tok).path != split.path  # data changed: new key


def _split(tokens, starts):
    from lmbench_lm.tokens import TokenSplit

    return TokenSplit(np.asarray(tokens, dtype=np.uint16), np.asarray(starts), len(tokens))


def test_packed_labels_are_shifted_by_one():
    from lmbench_lm.batches import TrainSampler, eval_batches

    split = _split(list(range(10, 30)), [0, 20])
    x, y = TrainSampler(split, 5, 3, seed=0).next()
    assert x.shape == (3, 5) and torch.equal(y, x + 1)
    batches = list(eval_batches(split, 5, 2))
    xs = torch.cat([b[0] for b in batches])
    assert xs[:, 0].tolist() == [10, 15, 20]  # non-overlapping windows
    assert torch.equal(torch.cat([b[1] for b in batches]), xs + 1)


def test_padded_batches_mask_pad_and_keep_eos_label():
    from lmbench_lm.batches import IGNORE_INDEX, document_chunks, padded_batch

    eos = 0
    # doc A = [5, 6, 7] + EOS, doc B = [8] + EOS
    split = _split([5, 6, 7, eos, 8, eos], [0, 4, 6])
    chunks = document_chunks(split, context=6)
    x, y = padded_batch(split, chunks, 6, pad_id=eos)
    assert x.tolist() == [[5, 6, 7, eos, eos, eos], [8, eos, eos, eos, eos, eos]]
    assert y.tolist() == [[6, 7, eos, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX],
                          [eos, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]
    # a long document is cut into chunks that overlap by one token: every target once
    long = _split(list(range(1, 11)) + [eos], [0, 11])
    spans = document_chunks(long, context=4)
    xl, yl = padded_batch(long, spans, 4, pad_id=eos)
    targets = [t for row in yl.tolist() for t in row if t != IGNORE_INDEX]
    assert targets == list(range(2, 11)) + [eos]


def test_padded_loss_ignores_padding():
    from lmbench_lm.batches import IGNORE_INDEX
    from lmbench_lm.evaluate import lm_loss

    logits = torch.randn(1, 4, 7)
    y = torch.tensor([[1, 2, IGNORE_INDEX, IGNORE_INDEX]])
    expected = torch.nn.functional.cross_entropy(logits[0, :2], y[0, :2])
    assert torch.allclose(lm_loss(logits, y), expected)
    logits2 = logits.clone()
    logits2[0, 2:] = 1e4  # garbage at padded positions changes nothing
    assert torch.allclose(lm_loss(logits2, y), expected)


def test_split_shorter_than_context_is_a_clear_error():
    from lmbench_lm.batches import TrainSampler, eval_batches

    split = _split([1, 2, 3], [0, 3])
    with pytest.raises(LmbenchError, match="fewer than context"):
        TrainSampler(split, 8, 2)
    with pytest.raises(LmbenchError, match="fewer than context"):
        list(eval_batches(split, 8, 2, name="val"))
    x, y = TrainSampler(split, 8, 2, mode="padded").next()  # padded mode handles short documents
    assert x.shape == (2, 8) and (y != -100).sum() == 4
