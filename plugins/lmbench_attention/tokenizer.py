"""Tokenizers: a BERT WordPiece trained with `tokenizers` on the training texts, or any HF tokenizer.

Both wrap a ``transformers`` fast tokenizer (``.hf``) so batching, truncation and
``DataCollatorForLanguageModeling`` (MLM masking) come from the library.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmbench import ConfigError, LmbenchError, cache_dir

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class _Base:
    """Common interface: ``encode``, ``decode``, ``vocab_size``, ``pad_id``, ``mask_id``, ``batch``."""

    hf: Any

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    @property
    def pad_id(self) -> int:
        return int(self.hf.pad_token_id)

    @property
    def mask_id(self) -> int:
        return int(self.hf.mask_token_id)

    def encode(self, text: str) -> list[int]:
        """Token ids with the special tokens ([CLS] ... [SEP])."""
        return self.hf(text)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        return self.hf.decode(ids, skip_special_tokens=True)

    def batch(self, texts: list[str], max_len: int) -> list[list[int]]:
        """Encode many texts, truncated to ``max_len`` tokens (specials included)."""
        return self.hf(list(texts), truncation=True, max_length=max_len)["input_ids"]

    def save(self, folder: str | Path) -> None:
        self.hf.save_pretrained(str(folder))


@dataclass
class WordPieceConfig:
    """Options of ``attention.wordpiece``."""

    vocab_size: int = 8000
    lowercase: bool = True
    min_frequency: int = 2
    max_train_texts: int = 0  # 0 = all training texts
    path: str = ""  # load a saved tokenizer folder instead of training


class WordPieceTokenizer(_Base):
    """BERT-style WordPiece trained on ``texts`` (cached by config and text hash under ~/.cache/lmbench)."""

    Config = WordPieceConfig

    def __init__(self, config: WordPieceConfig | None = None, *, texts: list[str] | None = None, **_: Any):
        from transformers import PreTrainedTokenizerFast

        self.config = config = config or WordPieceConfig()
        if config.path:
            self.hf = _load_folder(config.path)
            return
        if not texts:
            raise LmbenchError("the wordpiece tokenizer needs training texts (or tokenizer.path=FOLDER of a saved one)")
        texts = list(texts)[: config.max_train_texts or None]
        digest = hashlib.sha1(repr((config.vocab_size, config.lowercase, config.min_frequency)).encode())
        for t in texts:
            digest.update(t.encode("utf-8", "ignore"))
        cache = cache_dir() / "wordpiece" / digest.hexdigest()
        if (cache / "tokenizer.json").exists():
            self.hf = PreTrainedTokenizerFast.from_pretrained(str(cache))
            return
        self.hf = self._train(texts)
        cache.mkdir(parents=True, exist_ok=True)
        self.hf.save_pretrained(str(cache))

    def _train(self, texts: list[str]):
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
        from transformers import PreTrainedTokenizerFast

        cfg = self.config
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=cfg.lowercase, strip_accents=cfg.lowercase or None)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency,
                                            special_tokens=SPECIALS)
        tok.train_from_iterator(texts, trainer=trainer)
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                           special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
        return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                       sep_token="[SEP]", mask_token="[MASK]")


@dataclass
class HFTokenizerConfig:
    """Options of ``attention.hf``: a hub name or a local folder."""

    pretrained: str = ""  # hub name (needs the network) or folder
    path: str = ""


class HFTokenizer(_Base):
    """Any Hugging Face tokenizer (needs pad and mask tokens for MLM; a missing pad falls back to EOS/UNK)."""

    Config = HFTokenizerConfig

    def __init__(self, config: HFTokenizerConfig, **_: Any):
        where = config.path or config.pretrained
        if not where:
            raise ConfigError("attention.hf needs tokenizer.path=FOLDER or tokenizer.pretrained=HUB_NAME")
        self.hf = _load_folder(where)
        if self.hf.pad_token is None:
            self.hf.pad_token = self.hf.eos_token or self.hf.unk_token


def _load_folder(where: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(where)
    except (OSError, ValueError) as exc:
        raise LmbenchError(f"cannot load tokenizer '{where}' ({type(exc).__name__}); give a saved tokenizer folder "
                           f"or a hub name reachable from here") from exc
