"""`looped.gpt2`: the vanilla baseline, a GPT-2 stack of ``n_layers`` distinct blocks.

Reads the vector tokens through a linear read-in (plus learned positions) and writes one scalar
per token through a linear read-out, as in Garg et al. 2022 (their GPT-2 had 12 layers,
width 256, 8 heads for d = 20).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmbench import ConfigError

from .backbone import Block, VectorIO, init_weights


@dataclass
class ModelShape:
    """Options every model of the lab shares."""

    d_model: int = 256
    n_heads: int = 8
    mixer: Literal["attention", "ssm"] = "attention"  # token mixer of every block
    ssm_state: int = 16  # state size per channel when mixer = "ssm"
    dropout: float = 0.0
    n_dims: int = 0  # input dimension; 0: the task's dimension
    max_points: int = 0  # longest prompt (pairs) the positions cover; 0: the task's n_points

    def check_shape(self) -> None:
        """Reject impossible shapes before any weight is allocated."""
        if self.d_model < 1 or self.n_heads < 1 or self.d_model % self.n_heads:
            raise ConfigError(f"d_model={self.d_model} must be a positive multiple of n_heads={self.n_heads}")
        if self.n_dims < 0 or self.max_points < 0 or self.ssm_state < 1:
            raise ConfigError("n_dims and max_points must be >= 0 (0 = from the task) and ssm_state >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")


def resolve_io(config: ModelShape, n_dims: int | None, n_points: int | None) -> tuple[int, int]:
    """The model's (input dim, max prompt pairs) from its config and the task it is wired to."""
    dims = config.n_dims or n_dims
    points = config.max_points or n_points
    if not dims or not points:
        raise ConfigError("the model needs n_dims and max_points: set them or build it with the task's "
                          "n_dims=..., n_points=...")
    if n_dims and n_dims > dims:
        raise ConfigError(f"task dimension {n_dims} is larger than the model's input dimension {dims}; "
                          "raise model.n_dims or lower dataset.n_dims")
    if n_points and n_points > points:
        raise ConfigError(f"task prompts of {n_points} pairs exceed the model's max_points={points}; "
                          "raise model.max_points")
    return dims, points


@dataclass
class GPT2Config(ModelShape):
    """Options of `looped.gpt2`."""

    n_layers: int = 12

    def __post_init__(self) -> None:
        self.check_shape()
        if self.n_layers < 1:
            raise ConfigError(f"n_layers must be >= 1, got {self.n_layers}")


class GPT2Regressor(nn.Module):
    """A GPT-2 stack of distinct blocks mapping prompt tokens (B, 2n, d) to per-token outputs (B, 2n)."""

    Config = GPT2Config
    supports_loops = False

    def __init__(self, config: GPT2Config | None = None, *, n_dims: int | None = None, n_points: int | None = None):
        super().__init__()
        self.config = config = config or GPT2Config()
        dims, points = resolve_io(config, n_dims, n_points)
        self.io = VectorIO(dims, config.d_model, 2 * points)
        self.blocks = nn.ModuleList(Block(config.d_model, config.n_heads, mixer=config.mixer,
                                          ssm_state=config.ssm_state, dropout=config.dropout)
                                    for _ in range(config.n_layers))
        init_weights(self)

    @property
    def n_dims(self) -> int:
        return self.io.n_dims

    @property
    def depth(self) -> int:
        """Block applications per forward pass."""
        return self.config.n_layers

    def forward(self, zs: torch.Tensor, loops: int | None = None, *, window: bool = False) -> torch.Tensor:
        """Tokens (B, T, d) -> outputs (B, T); ``loops`` is not supported (no weight sharing).

        ``window=True`` returns the read-outs the training loss averages over, (1, B, T): the final one.
        """
        if loops is not None and loops != self.config.n_layers:
            raise ConfigError("looped.gpt2 has distinct layers and cannot run a different number of loops")
        h = self.io.embed(zs)  # (B, T, C)
        for block in self.blocks:
            h = block(h)
        out = self.io.head(h)  # (B, T)
        return out.unsqueeze(0) if window else out

    def loops_at(self, step: int) -> None:
        """No loops to schedule: the training forward pass takes no ``loops``."""
        return None

    def train_outputs(self, zs: torch.Tensor) -> list[torch.Tensor]:
        """The outputs the training loss averages over: here just the final one."""
        return list(self(zs, window=True))
