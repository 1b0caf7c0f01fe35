"""LSTM language model (``lm.lstm``): embedding, stacked LSTM, dropout, output projection.

The output projection shares the embedding matrix when ``emb_dim == hidden_size`` (weight
tying); otherwise it cannot, and a warning says so. ``head_bias = false`` drops the output
projection's bias (seed lab 000's LSTM has none). ``step`` carries the (h, c) state for
generation, so each new token costs one LSTM step.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lmbench import ConfigError


@dataclass
class LSTMConfig:
    """Options of ``lm.lstm`` (the ``[model]`` table)."""

    emb_dim: int = 256
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.0
    tie_weights: bool = True  # only possible when emb_dim == hidden_size
    head_bias: bool = True  # a bias on the output projection (V parameters)
    vocab_size: int = 0  # 0 = the tokenizer's vocabulary size (set by the recipe)
    max_seq_len: int = 0  # unused by the LSTM (no positions); accepted so presets can share it

    def __post_init__(self) -> None:
        if min(self.emb_dim, self.hidden_size, self.num_layers) < 1:
            raise ValueError("emb_dim, hidden_size and num_layers must be positive")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class LSTMLanguageModel(nn.Module):
    """Stacked LSTM LM: ``model(idx) -> logits`` (B, T, V); ``model.step(idx, state)`` carries (h, c)."""

    Config = LSTMConfig

    def __init__(self, config: LSTMConfig | None = None, *, vocab_size: int | None = None, **_deps: Any):
        super().__init__()
        cfg = config or LSTMConfig()
        vocab = vocab_size or cfg.vocab_size
        if not vocab:
            raise ConfigError("lm.lstm needs a vocabulary size: the recipe passes vocab_size= (or set model.vocab_size)")
        if cfg.vocab_size and vocab_size and cfg.vocab_size < vocab_size:
            raise ConfigError(f"model.vocab_size={cfg.vocab_size} is smaller than the tokenizer's vocabulary "
                              f"({vocab_size}); raise it or set it to 0 to follow the tokenizer")
        vocab = max(vocab, cfg.vocab_size)
        self.cfg, self.vocab_size = cfg, vocab
        self.embedding = nn.Embedding(vocab, cfg.emb_dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(cfg.emb_dim, cfg.hidden_size, cfg.num_layers, batch_first=True,
                            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        self.head = nn.Linear(cfg.hidden_size, vocab, bias=cfg.head_bias)
        self.tied = False
        if cfg.tie_weights:
            if cfg.emb_dim == cfg.hidden_size:
                self.head.weight = self.embedding.weight
                self.tied = True
            else:
                warnings.warn(f"lm.lstm: emb_dim ({cfg.emb_dim}) != hidden_size ({cfg.hidden_size}), so the output "
                              "projection is not tied to the embedding", stacklevel=2)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        if not self.tied:
            nn.init.uniform_(self.head.weight, -0.1, 0.1)
        if self.head.bias is not None:
            nn.init.zeros_(self.head.bias)

    max_seq_len = None  # no positional limit
    decode_path = "recurrent_state"  # generation carries (h, c): one LSTM step per new token

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for ids ``idx`` (B, T), from a zero initial state."""
        logits, _ = self.step(idx, None)
        return logits

    def new_state(self) -> None:
        """The empty state (zeros, created by the LSTM on first use)."""
        return None

    def step(self, idx: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits (B, T, V) of ``idx`` (B, T) continuing from ``state`` = (h, c), each (L, B, H)."""
        x = self.drop(self.embedding(idx))  # (B, T, E)
        out, state = self.lstm(x, state)  # (B, T, H); h, c: (L, B, H)
        return self.head(self.drop(out)), state  # (B, T, V)

    def parameter_split(self) -> dict[str, int]:
        """Parameters as embedding / body (LSTM layers) / head (projection; only its bias when tied)."""
        from ..params import split_counts

        return split_counts(self, embedding=["embedding"], head=["head"])
