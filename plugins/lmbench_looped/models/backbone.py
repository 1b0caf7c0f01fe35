"""The GPT-2-style block shared by every model of the lab: pre-LN, causal mixer, MLP.

The mixer is causal self-attention through ``torch.nn.functional.scaled_dot_product_attention``
(flash / memory-efficient kernels on GPU) or a diagonal state-space layer (:mod:`.ssm`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from lmbench import ConfigError

from .ssm import DiagonalSSM


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention (fused qkv projection, SDPA)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ConfigError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, c // self.n_heads).permute(2, 0, 3, 1, 4)  # 3 x (B, H, T, hd)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, hd)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class MLP(nn.Module):
    """Position-wise feed-forward: Linear(C, 4C), GELU, Linear(4C, C)."""

    def __init__(self, d_model: int, dropout: float = 0.0):
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.proj = nn.Linear(4 * d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LN residual block: ``x + mixer(ln1(x))`` then ``x + mlp(ln2(x))``."""

    def __init__(self, d_model: int, n_heads: int, *, mixer: str = "attention", ssm_state: int = 16,
                 dropout: float = 0.0):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        if mixer == "attention":
            self.mixer: nn.Module = CausalSelfAttention(d_model, n_heads, dropout)
        elif mixer == "ssm":
            self.mixer = DiagonalSSM(d_model, ssm_state, dropout)
        else:
            raise ConfigError(f"unknown mixer '{mixer}'; valid: attention, ssm")
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        x = x + self.mixer(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class VectorIO(nn.Module):
    """Read-in (Linear d -> C plus learned positions) and read-out (final LN, Linear C -> 1).

    Shared by all models so that parameter counts differ only in the blocks.
    """

    def __init__(self, n_dims: int, d_model: int, max_tokens: int):
        super().__init__()
        self.n_dims, self.max_tokens = n_dims, max_tokens
        self.read_in = nn.Linear(n_dims, d_model)
        self.wpe = nn.Embedding(max_tokens, d_model)
        self.ln_f = nn.LayerNorm(d_model)
        self.read_out = nn.Linear(d_model, 1)

    def embed(self, zs: torch.Tensor) -> torch.Tensor:
        """Tokens (B, T, d) -> embeddings (B, T, C)."""
        b, t, d = zs.shape
        if d != self.n_dims:
            raise ConfigError(f"tokens have dimension {d}, the model reads {self.n_dims}; encode with "
                              f"input_dim={self.n_dims}")
        if t > self.max_tokens:
            raise ConfigError(f"prompt of {t} tokens is longer than the model's {self.max_tokens} positions; "
                              "raise model.max_points")
        pos = torch.arange(t, device=zs.device)
        return self.read_in(zs) + self.wpe(pos)  # (B, T, C)

    def positions(self, t: int, device: torch.device) -> torch.Tensor:
        """The learned position embeddings of ``t`` tokens, (1, T, C)."""
        return self.wpe(torch.arange(t, device=device))[None]

    def head(self, h: torch.Tensor, *, normalised: bool = False) -> torch.Tensor:
        """Hidden states (B, T, C) -> one scalar per token (B, T).

        ``normalised``: ``h`` has already been through ``ln_f`` (a looped model with the final
        LayerNorm inside each loop), so only the linear read-out is applied.
        """
        return self.read_out(h if normalised else self.ln_f(h)).squeeze(-1)


def init_weights(module: nn.Module) -> None:
    """GPT-2 initialisation inside the blocks and for positions: N(0, 0.02), zero biases.

    The read-in and read-out keep PyTorch's default (uniform +-1/sqrt(fan_in)) initialisation, as in
    Garg et al.'s code (HF GPT-2 backbone, plain ``nn.Linear`` read-in/out): the x content then
    dominates the position embedding at the start, which shortens the loss plateau that
    in-context regression shows before the model starts to use the examples.
    """
    skip = {id(m.read_in) for m in module.modules() if isinstance(m, VectorIO)} | \
        {id(m.read_out) for m in module.modules() if isinstance(m, VectorIO)}
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)) and id(m) not in skip:
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
