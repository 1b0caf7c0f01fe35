"""Heads on the encoder: MLM (tied decoder + bias) and classification (pooling, pooler, dropout).

``build_model`` is the registry factory of ``attention.encoder``:
``build_model(config, vocab_size=..., attention=kernel, task="mlm"|"classify", n_classes=2, pad_id=0)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lmbench import ConfigError

from .encoder import Encoder, EncoderConfig


class MLMHead(nn.Module):
    """dense -> GELU -> LayerNorm -> decoder tied to the token embedding, plus a vocabulary bias."""

    def __init__(self, cfg: EncoderConfig, embedding: nn.Embedding):
        super().__init__()
        self.dense = nn.Linear(cfg.d_model, cfg.d_model)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.decoder = nn.Linear(cfg.d_model, embedding.num_embeddings, bias=False)
        if cfg.tie_weights:
            self.decoder.weight = embedding.weight
        self.bias = nn.Parameter(torch.zeros(embedding.num_embeddings))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(F.gelu(self.dense(hidden)))) + self.bias  # (B, N, V)


def pool(hidden: torch.Tensor, mask: torch.Tensor | None, how: str) -> torch.Tensor:
    """(B, N, C) -> (B, C) by the first token (cls) or the masked mean/max/min over real tokens."""
    if how == "cls":
        return hidden[:, 0]
    if mask is None:
        mask = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
    m = mask[..., None].to(hidden.dtype)  # (B, N, 1)
    if how == "mean":
        return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
    fill = torch.finfo(hidden.dtype).min if how == "max" else torch.finfo(hidden.dtype).max
    masked = hidden.masked_fill(~mask[..., None].bool(), fill)
    return masked.amax(1) if how == "max" else masked.amin(1)


class ClassificationHead(nn.Module):
    """Pooling ``cls|mean|max|min``, pooler ``bert`` (dense+tanh) / ``roberta`` (dropout, dense, tanh,
    dropout) / ``none``, classifier dropout, linear to the classes."""

    def __init__(self, cfg: EncoderConfig, n_classes: int):
        super().__init__()
        self.pooling, self.pooler_kind = cfg.pooling, cfg.pooler
        self.pre_drop = nn.Dropout(cfg.classifier_dropout) if cfg.pooler == "roberta" else nn.Identity()
        self.dense = nn.Linear(cfg.d_model, cfg.d_model) if cfg.pooler != "none" else None
        self.drop = nn.Dropout(cfg.classifier_dropout)
        self.out = nn.Linear(cfg.d_model, n_classes)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = pool(hidden, mask, self.pooling)  # (B, C)
        if self.dense is not None:
            x = torch.tanh(self.dense(self.pre_drop(x)))
        return self.out(self.drop(x))  # (B, n_classes)


class EncoderForMLM(nn.Module):
    """Encoder + MLM head; ``forward(input_ids, attention_mask, labels)`` -> (loss or None, logits)."""

    def __init__(self, cfg: EncoderConfig, encoder: Encoder):
        super().__init__()
        self.cfg, self.encoder = cfg, encoder
        self.head = MLMHead(cfg, encoder.tokens)

    def forward(self, input_ids, attention_mask=None, labels=None, position_ids=None):
        hidden = self.encoder(input_ids, attention_mask, position_ids)  # (B, N, C)
        if labels is not None:  # decode only the masked positions: saves the (B, N, V) logits
            picked = labels != -100
            logits = self.head(hidden[picked])  # (M, V)
            return F.cross_entropy(logits.float(), labels[picked]), logits
        return None, self.head(hidden)


class EncoderForClassification(nn.Module):
    """Encoder + classification head; ``forward(input_ids, attention_mask, labels)`` -> (loss or None, logits)."""

    def __init__(self, cfg: EncoderConfig, encoder: Encoder, n_classes: int):
        super().__init__()
        self.cfg, self.encoder = cfg, encoder
        self.head = ClassificationHead(cfg, n_classes)

    def forward(self, input_ids, attention_mask=None, labels=None, position_ids=None):
        hidden = self.encoder(input_ids, attention_mask, position_ids)  # (B, N, C)
        mask = attention_mask.bool() if attention_mask is not None else None
        logits = self.head(hidden, mask)  # (B, n_classes)
        loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
        return loss, logits

    def freeze_layers(self, n: int) -> None:
        """Freeze the embeddings and the first ``n`` encoder blocks."""
        self.encoder.freeze(n)


def build_model(config: EncoderConfig, *, vocab_size: int, attention: Any = None, task: str = "classify",
                n_classes: int = 2, pad_id: int = 0, dtype: Any = None, **_: Any) -> nn.Module:
    """Registry factory of ``attention.encoder``; checks the kernel's capabilities before training."""
    if attention is None:
        from ..kernels.sdpa import SDPAttention

        attention = SDPAttention()
    if hasattr(attention, "require"):
        attention.require(padding_mask=True, backward=True, dtype=dtype)
    encoder = Encoder(config, vocab_size=vocab_size, kernel=attention, pad_id=pad_id)
    if task == "mlm":
        return EncoderForMLM(config, encoder)
    if task == "classify":
        if n_classes < 2:
            raise ConfigError(f"classification needs at least 2 classes, got {n_classes}")
        return EncoderForClassification(config, encoder, n_classes)
    raise ConfigError(f"unknown task '{task}'; valid: mlm, classify")


EncoderModel = build_model
build_model.Config = EncoderConfig  # the [model] table is validated against EncoderConfig
