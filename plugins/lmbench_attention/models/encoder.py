"""A BERT-like encoder whose attention kernel is swappable (any ``attention.*`` kernel).

token embedding (padding row zeroed) + positions (``sinusoidal``, ``learned`` or ``rope``)
-> embedding dropout -> N blocks (attention + MLP with residuals and LayerNorm) -> LayerNorm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmbench import ConfigError, LmbenchError


@dataclass
class EncoderConfig:
    """Encoder and head options (the ``[model]`` table of ``attention.encoder``). Default: BERT-small."""

    d_model: int = 512
    n_layers: int = 4
    n_heads: int = 8
    head_dim: int = 0  # 0 = d_model / n_heads
    d_ff: int = 2048
    max_len: int = 512  # learned positions: table size; sinusoidal/rope grow their caches on demand
    positions: Literal["sinusoidal", "learned", "rope"] = "learned"
    rope_base: float = 10000.0
    dropout: float = 0.1  # residual and MLP dropout
    embed_dropout: float = 0.1
    prenorm: bool = True  # pre-LN blocks (stable from scratch); false = BERT's post-LN
    # heads
    pooling: Literal["cls", "mean", "max", "min"] = "cls"
    pooler: Literal["bert", "roberta", "none"] = "bert"
    classifier_dropout: float = 0.1
    tie_weights: bool = True  # MLM decoder shares the token embedding

    def __post_init__(self) -> None:
        if self.head_dim == 0:
            if self.d_model % self.n_heads:
                raise ConfigError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}; set head_dim")
            self.head_dim = self.d_model // self.n_heads
        if self.positions == "rope" and self.head_dim % 2:
            raise ConfigError(f"rope needs an even head_dim, got {self.head_dim}")
        if min(self.d_model, self.n_layers, self.n_heads, self.d_ff, self.max_len) < 1:
            raise ConfigError("d_model, n_layers, n_heads, d_ff and max_len must be positive")


class SinusoidalPositions(nn.Module):
    """Fixed sin/cos position embeddings, cached and grown on demand."""

    def __init__(self, d_model: int):
        super().__init__()
        self.d_model = d_model
        self.register_buffer("table", self._make(512), persistent=False)

    def _make(self, n: int) -> torch.Tensor:
        pos = torch.arange(n, dtype=torch.float32)[:, None]  # (n, 1)
        div = torch.exp(torch.arange(0, self.d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / self.d_model))
        table = torch.zeros(n, self.d_model)
        table[:, 0::2] = torch.sin(pos * div)
        table[:, 1::2] = torch.cos(pos * div)[:, : self.d_model // 2]
        return table

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        need = int(position_ids.max()) + 1
        if need > self.table.shape[0]:
            self.table = self._make(max(need, 2 * self.table.shape[0])).to(self.table.device)
        return self.table[position_ids]  # (B, N, C)


class RotaryEmbedding(nn.Module):
    """RoPE: rotates (even, odd) channel pairs of q and k by position-dependent angles (cached)."""

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)
        self._cache: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def cos_sin(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin of shape (B, 1, N, hd/2) for ``position_ids`` (B, N)."""
        need = int(position_ids.max()) + 1
        if self._cache is None or self._cache[0] < need or self._cache[1].device != position_ids.device:
            n = max(need, 512)
            angles = torch.arange(n, device=self.inv_freq.device, dtype=torch.float32)[:, None] * self.inv_freq
            self._cache = (n, angles.cos().to(position_ids.device), angles.sin().to(position_ids.device))
        _, cos, sin = self._cache
        return cos[position_ids][:, None], sin[position_ids][:, None]

    @staticmethod
    def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Rotate x (B, H, N, hd) by the angles."""
        x1, x2 = x[..., 0::2].float(), x[..., 1::2].float()  # (B, H, N, hd/2)
        out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (B, H, N, hd/2, 2)
        return out.flatten(-2).to(x.dtype)


class SelfAttention(nn.Module):
    """Multi-head self-attention around a kernel; projects only Q and V when the kernel shares QK."""

    def __init__(self, cfg: EncoderConfig, kernel: nn.Module):
        super().__init__()
        self.n_heads, self.head_dim = cfg.n_heads, cfg.head_dim
        inner = cfg.n_heads * cfg.head_dim
        self.shares_qk = bool(getattr(kernel, "shares_qk", False))
        self.qkv = nn.Linear(cfg.d_model, inner * (2 if self.shares_qk else 3))
        self.out = nn.Linear(inner, cfg.d_model)
        self.kernel = kernel

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, rope: tuple | None) -> torch.Tensor:
        b, n, _ = x.shape
        parts = self.qkv(x).view(b, n, -1, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (2|3, B, H, N, hd)
        if self.shares_qk:
            q, v = parts[0], parts[1]
            k = q
        else:
            q, k, v = parts[0], parts[1], parts[2]
        if rope is not None:
            q = RotaryEmbedding.rotate(q, *rope)
            k = q if self.shares_qk else RotaryEmbedding.rotate(k, *rope)
        y = self.kernel(q, k, v, causal=False, key_padding_mask=mask)  # (B, H, N, hd)
        return self.out(y.transpose(1, 2).reshape(b, n, -1))  # (B, N, C)


class Block(nn.Module):
    """Attention + MLP with residuals; pre- or post-LayerNorm."""

    def __init__(self, cfg: EncoderConfig, kernel: nn.Module):
        super().__init__()
        self.prenorm = cfg.prenorm
        self.attn = SelfAttention(cfg, kernel)
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.d_ff, cfg.d_model))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, rope: tuple | None) -> torch.Tensor:
        if self.prenorm:
            x = x + self.drop(self.attn(self.ln1(x), mask, rope))
            return x + self.drop(self.mlp(self.ln2(x)))
        x = self.ln1(x + self.drop(self.attn(x, mask, rope)))
        return self.ln2(x + self.drop(self.mlp(x)))


class Encoder(nn.Module):
    """Token ids (B, N) + attention mask (B, N) -> hidden states (B, N, C)."""

    def __init__(self, cfg: EncoderConfig, *, vocab_size: int, kernel: nn.Module, pad_id: int = 0):
        super().__init__()
        self.cfg = cfg
        self.pad_id = pad_id
        self.tokens = nn.Embedding(vocab_size, cfg.d_model, padding_idx=pad_id)  # padding row zero, no grad
        self.learned = nn.Embedding(cfg.max_len, cfg.d_model) if cfg.positions == "learned" else None
        self.sinusoidal = SinusoidalPositions(cfg.d_model) if cfg.positions == "sinusoidal" else None
        self.rope = RotaryEmbedding(cfg.head_dim, cfg.rope_base) if cfg.positions == "rope" else None
        self.drop = nn.Dropout(cfg.embed_dropout)
        self.blocks = nn.ModuleList(Block(cfg, kernel) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model) if cfg.prenorm else nn.Identity()
        self.apply(self._init)

    def _init(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        b, n = input_ids.shape
        if position_ids is None:
            position_ids = torch.arange(n, device=input_ids.device).expand(b, n)  # (B, N)
        x = self.tokens(input_ids)  # (B, N, C)
        if self.learned is not None:
            if n > self.cfg.max_len:
                raise LmbenchError(f"sequence length {n} exceeds the learned position table ({self.cfg.max_len}); "
                                   f"set model.max_len or use model.positions=rope|sinusoidal")
            x = x + self.learned(position_ids)
        elif self.sinusoidal is not None:
            x = x + self.sinusoidal(position_ids)
        rope = self.rope.cos_sin(position_ids) if self.rope is not None else None
        x = self.drop(x)
        mask = attention_mask.bool() if attention_mask is not None else None  # (B, N), True = real
        if mask is not None and bool(mask.all()):
            mask = None  # nothing padded: let kernels take their unmasked fast path
        for block in self.blocks:
            x = block(x, mask, rope)
        return self.ln_f(x)  # (B, N, C)

    def freeze(self, n_layers: int) -> None:
        """Freeze the embeddings and the first ``n_layers`` blocks (0 freezes nothing)."""
        if n_layers <= 0:
            return
        if n_layers > len(self.blocks):
            raise ConfigError(f"cannot freeze {n_layers} layers of a {len(self.blocks)}-layer encoder")
        frozen = [self.tokens, *(m for m in (self.learned,) if m is not None), *self.blocks[:n_layers]]
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)
