"""Prompt encoding: ``n`` (x, y) pairs as ``2n`` vector tokens, as in Garg et al. 2022.

Token ``2i`` is ``x_i`` (zero-padded to the model's input dimension) and token ``2i + 1`` is
``y_i`` in the first coordinate, zeros elsewhere. A causal model's output at token ``2i`` (which
has seen ``i`` complete examples and the query ``x_i``) is its prediction of ``y_i``.
"""

from __future__ import annotations

import torch

from lmbench import ConfigError


def encode(xs: torch.Tensor, ys: torch.Tensor, input_dim: int | None = None) -> torch.Tensor:
    """Interleave ``xs`` (B, n, d) and ``ys`` (B, n) into tokens (B, 2n, input_dim)."""
    b, n, d = xs.shape
    input_dim = d if input_dim is None else input_dim
    if d > input_dim:
        raise ConfigError(f"prompt dimension {d} is larger than the model's input dimension {input_dim}; "
                          "raise model.n_dims or lower dataset.n_dims")
    if ys.shape != (b, n):
        raise ConfigError(f"ys must have shape {(b, n)}, got {tuple(ys.shape)}")
    zs = xs.new_zeros(b, 2 * n, input_dim)  # (B, 2n, D)
    zs[:, 0::2, :d] = xs
    zs[:, 1::2, 0] = ys
    return zs


def predictions(outputs: torch.Tensor) -> torch.Tensor:
    """The y-predictions from per-token outputs (B, 2n) -> (B, n): the outputs at the x tokens."""
    return outputs[:, 0::2]
