"""Generation for a causal LM without incremental decoding: recompute the window per token.

``lm.train`` samples and times generation through ``model.step(idx, state)``
(:class:`lmbench.components.IncrementalDecoder`). A model that has only ``model(idx)`` is wrapped
in :class:`RecomputeDecoder`, whose state is the tokens so far: each step runs the whole window
(cropped to ``max_seq_len``) again. Results name the path taken (``decode_path = "recompute"``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lmbench import IncrementalDecoder


class RecomputeDecoder(nn.Module):
    """``step`` by full recomputation around a model that has only ``forward``."""

    decode_path = "recompute"

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    @property
    def max_seq_len(self) -> int | None:
        """The wrapped model's limit (None = none)."""
        return getattr(self.model, "max_seq_len", None)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) of the wrapped model."""
        return self.model(idx)

    def new_state(self) -> torch.Tensor | None:
        """No tokens yet."""
        return None

    def step(self, idx: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) of ``idx`` (B, T) after the tokens in ``state`` (B, S); the new state (B, S + T)."""
        tokens = idx if state is None else torch.cat([state, idx], dim=1)  # (B, S + T)
        limit = self.max_seq_len
        window = tokens[:, -limit:] if limit else tokens
        logits = self.model(window)  # (B, W, V)
        return logits[:, -idx.shape[1]:], tokens


def decoder_for(model: Any) -> Any:
    """The model itself when it decodes incrementally, else a :class:`RecomputeDecoder` around it."""
    return model if isinstance(model, IncrementalDecoder) else RecomputeDecoder(model)
