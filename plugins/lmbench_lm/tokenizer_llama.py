"""``lm.llama_bpe``: a Llama-style BPE of a set size (seed lab 002 used the Bielik tokenizer, 32,000 ids).

Where the named pretrained tokenizer (``pretrained``, by default Bielik's) is already in the local
Hugging Face cache it is used as it is. Otherwise a stand-in of the same kind is trained with
``tokenizers`` on the training split and cached: a BPE over Metaspace-split words (``▁`` marks a
word start, as SentencePiece does) with byte fallback (the 256 ``<0xNN>`` tokens), ``<unk>``,
``<s>`` and ``</s>`` (EOS = PAD), at most ``vocab_size`` ids. :attr:`stand_in` then says so in one
line, which ``lm.train`` writes to the run's log and records as the ``tokenizer_stand_in`` measurement.
No network is used: the pretrained one is only looked up with ``local_files_only``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lmbench import file_sha256

from .cache import cache_dir, digest
from .tokenizers import _HFBacked, _texts_required

_SPECIALS = ["<unk>", "<s>", "</s>"]
_BYTES = [f"<0x{i:02X}>" for i in range(256)]


class LlamaBPETokenizer(_HFBacked):
    """A Llama-style BPE: the pretrained one when cached locally, else a stand-in trained on the split."""

    @dataclass
    class Config:
        vocab_size: int = 32000
        pretrained: str = "speakleash/Bielik-7B-v0.1"  # used only when already in the local HF cache
        min_frequency: int = 2

        def __post_init__(self) -> None:
            if self.vocab_size < len(_SPECIALS) + len(_BYTES) + 1:
                raise ValueError(f"vocab_size must be above {len(_SPECIALS) + len(_BYTES)} (specials and the 256 "
                                 f"byte-fallback tokens), got {self.vocab_size}")

    def __init__(self, config: "LlamaBPETokenizer.Config | None" = None, *, texts: Iterable[str] | None = None,
                 texts_fingerprint: str | None = None, **_deps: object):
        config = config or self.Config()
        self.stand_in: str | None = None
        pretrained = _cached_pretrained(config.pretrained) if config.pretrained else None
        if pretrained is not None:
            self.tok = pretrained
            self.fingerprint = f"hf:{config.pretrained}:{digest(*sorted(self.tok.get_vocab()))}"
        else:
            from transformers import PreTrainedTokenizerFast

            corpus = _texts_required("lm.llama_bpe", texts)
            key = digest(texts_fingerprint or digest(*corpus), config.vocab_size, config.min_frequency, "llama-bpe")
            path = cache_dir() / "tokenizers" / f"llama-bpe-{key}" / "tokenizer.json"
            if not path.exists():
                _train(corpus, config, path)
            self.tok = PreTrainedTokenizerFast(tokenizer_file=str(path), unk_token="<unk>", bos_token="<s>",
                                               eos_token="</s>", pad_token="</s>")
            self.fingerprint = f"llama-bpe:{key}:{file_sha256(path)[:16]}"
            self.stand_in = (f"tokenizer: {config.pretrained or 'no pretrained tokenizer'} is not in the local "
                             f"Hugging Face cache; a stand-in Llama-style BPE ({len(self.tok):,} ids, at most "
                             f"{config.vocab_size:,}) was trained on the training split")
        self.eos_id = int(self.tok.eos_token_id)


def _cached_pretrained(name: str):
    """The pretrained tokenizer ``name`` if the local HF cache holds it, else None (never downloads)."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except Exception:  # not cached (OSError), or an incomplete cache entry: train the stand-in
        return None


def _train(corpus: list[str], config: "LlamaBPETokenizer.Config", path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁",
                                                                                 prepend_scheme="always")])
    trainer = trainers.BpeTrainer(vocab_size=config.vocab_size, min_frequency=config.min_frequency,
                                  special_tokens=_SPECIALS + _BYTES, show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # per process: torchrun ranks may train at once
    tok.save(str(tmp))
    tmp.replace(path)
