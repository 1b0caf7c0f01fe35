"""A diagonal linear state-space layer with a parallel (Hillis-Steele) scan: a causal token mixer.

Per channel ``c`` and state ``k``: ``h_t = a_ck * h_{t-1} + b_ck * u_tc`` and
``y_tc = sum_k c_ck * h_tck + D_c * u_tc``, with ``a = exp(-softplus(.))`` in (0, 1) so the
recurrence is stable (S4D/Mamba-style real diagonal SSM, time-invariant). The recurrence is an
associative scan over (multiplier, value) pairs, computed in ``ceil(log2 T)`` vectorised steps.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def linear_scan(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``h_t = a_t * h_{t-1} + x_t`` with ``h_{-1} = 0`` along dim 1, by a parallel prefix scan.

    ``a`` and ``x`` are (B, T, ...) and broadcastable; returns ``h`` with ``x``'s shape.
    """
    a = a.expand_as(x)
    h = x
    offset = 1
    t = x.shape[1]
    while offset < t:
        # combine (a_prev, h_prev) at t - offset into (a, h) at t: h += a * h_prev, a *= a_prev
        h_prev = torch.nn.functional.pad(h[:, :-offset], (0,) * (2 * (h.dim() - 2)) + (offset, 0))
        a_prev = torch.nn.functional.pad(a[:, :-offset], (0,) * (2 * (a.dim() - 2)) + (offset, 0), value=1.0)
        h = h + a * h_prev
        a = a * a_prev
        offset *= 2
    return h


class DiagonalSSM(nn.Module):
    """Causal mixer: in-projection, diagonal linear SSM per channel (parallel scan), out-projection."""

    def __init__(self, d_model: int, state_size: int = 16, dropout: float = 0.0):
        super().__init__()
        self.in_proj = nn.Linear(d_model, 2 * d_model)  # value and gate
        # decays spread over time scales 1..~100 tokens (S4D-real style init)
        log_rates = torch.log(torch.linspace(1.0, 100.0, state_size)).repeat(d_model, 1)  # (C, K)
        self.decay_raw = nn.Parameter(torch.log(torch.expm1(1.0 / torch.exp(log_rates))))  # softplus^-1
        self.b = nn.Parameter(torch.randn(d_model, state_size) / math.sqrt(state_size))
        self.c = nn.Parameter(torch.randn(d_model, state_size) / math.sqrt(state_size))
        self.d = nn.Parameter(torch.ones(d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def decay(self) -> torch.Tensor:
        """The per-(channel, state) multipliers ``a`` in (0, 1): (C, K)."""
        return torch.exp(-nn.functional.softplus(self.decay_raw))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C), causal."""
        u, gate = self.in_proj(x).float().chunk(2, dim=-1)  # (B, T, C) each; the scan runs in fp32
        drive = u.unsqueeze(-1) * self.b  # (B, T, C, K)
        h = linear_scan(self.decay().view(1, 1, *self.b.shape), drive)  # (B, T, C, K)
        y = (h * self.c).sum(-1) + self.d * u  # (B, T, C)
        return self.dropout(self.out_proj((y * nn.functional.silu(gate)).to(x.dtype)))
