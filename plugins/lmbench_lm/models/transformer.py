"""Decoder-only pre-LN Transformer language model (``lm.transformer``), nanoGPT-shaped.

Token embedding (+ learned or sinusoidal positions, or RoPE inside attention), ``n_layers``
pre-LN blocks (LayerNorm -> causal self-attention -> residual; LayerNorm -> GELU MLP ->
residual), a final LayerNorm and an output head tied to the token embedding (or untied with
``tie_embeddings = false``). Attention goes through a kernel with the attention registry's call
signature ``kernel(q, k, v, causal=True, key_padding_mask=None)`` on (B, H, T, hd); without one
it uses ``F.scaled_dot_product_attention``. A kernel that shares queries and keys (``shares_qk``,
Reformer's LSH) gets no key projection.

``step`` decodes incrementally with a KV cache, calling the kernel's decode call
(``kernel.decode(q, k, v)``: the new queries against every cached key, causal, aligned to the
last positions; ``capabilities.decode = True`` promises that method, and the probe before training
holds a kernel to it). A kernel whose ``capabilities.decode`` is false cannot do that: ``model.decode_path`` is then ``"recompute"`` and generation runs the whole
prefix through ``forward`` for each new token; otherwise it is ``"kv_cache"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lmbench import AttentionCapabilities, CapabilityError, ConfigError


@dataclass
class TransformerConfig:
    """Options of ``lm.transformer`` (the ``[model]`` table)."""

    n_layers: int = 4
    n_heads: int = 4
    emb_dim: int = 128
    ff_dim: int = 0  # 0 = 4 * emb_dim
    dropout: float = 0.0
    max_seq_len: int = 256
    pos_encoding: str = "rope"  # sinusoidal | learned | rope
    bias: bool = True  # biases in LayerNorms, MLP and attention projections
    attn_bias: bool = True  # false: no bias in the attention's qkv and output projections (seed lab 002)
    tie_embeddings: bool = True  # output head shares the token embedding matrix (false = its own (V, C) matrix)
    vocab_size: int = 0  # 0 = the tokenizer's vocabulary size (set by the recipe)
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        if self.pos_encoding not in ("sinusoidal", "learned", "rope"):
            raise ValueError(f"pos_encoding must be sinusoidal, learned or rope, got {self.pos_encoding!r}")
        if min(self.n_layers, self.n_heads, self.emb_dim, self.max_seq_len) < 1:
            raise ValueError("n_layers, n_heads, emb_dim and max_seq_len must be positive")
        if self.emb_dim % self.n_heads:
            raise ValueError(f"emb_dim ({self.emb_dim}) must be divisible by n_heads ({self.n_heads})")
        if self.pos_encoding == "rope" and (self.emb_dim // self.n_heads) % 2:
            raise ValueError("rope needs an even head dimension (emb_dim / n_heads)")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.ff_dim == 0:
            self.ff_dim = 4 * self.emb_dim


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False,
                   key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` on q (B, H, Tq, hd), k/v (B, H, Tk, hd), Tk >= Tq.

    Causal rows are aligned to the last Tq keys (SDPA's own ``is_causal`` aligns to the top left,
    so an explicit mask is used whenever Tq < Tk).
    """
    tq, tk = q.shape[-2], k.shape[-2]
    mask = None
    if causal and tq != tk:
        mask = torch.ones(tq, tk, dtype=torch.bool, device=q.device).tril(tk - tq)  # (Tq, Tk)
        causal = False
    if key_padding_mask is not None:
        pad = key_padding_mask[:, None, None, :]  # (B, 1, 1, Tk), True = attend
        if causal:
            mask = torch.ones(tq, tk, dtype=torch.bool, device=q.device).tril(tk - tq)
            causal = False
        mask = pad if mask is None else pad & mask
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)


class DefaultAttention:
    """The kernel used without an ``[attention]`` table: exact SDPA, with the decode call."""

    name = "sdpa (built in)"
    shares_qk = False

    def __init__(self) -> None:
        self.capabilities = AttentionCapabilities(decode=True)

    def __call__(self, q, k, v, *, causal=False, key_padding_mask=None):
        return sdpa_attention(q, k, v, causal=causal, key_padding_mask=key_padding_mask)

    def decode(self, q, k, v, *, key_padding_mask=None):
        """The n newest queries (B, H, n, hd) against T cached keys/values (B, H, T, hd), causal."""
        return sdpa_attention(q, k, v, causal=True, key_padding_mask=key_padding_mask)


def kernel_decodes(kernel: Any) -> bool:
    """Whether ``kernel`` can decode against a KV cache: it has ``decode`` and does not declare otherwise."""
    caps = getattr(kernel, "capabilities", None)
    return callable(getattr(kernel, "decode", None)) and bool(getattr(caps, "decode", True))


def sinusoidal_table(n: int, dim: int) -> torch.Tensor:
    """(n, dim) sinusoidal position table of "Attention is all you need"."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]  # (n, 1)
    inv = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (dim/2,)
    table = torch.zeros(n, dim)
    table[:, 0::2] = torch.sin(pos * inv)
    table[:, 1::2] = torch.cos(pos * inv)[:, : dim // 2]
    return table


class Rotary(nn.Module):
    """Rotary position embedding (RoPE, rotate-half form) for (B, H, T, hd) queries and keys."""

    def __init__(self, head_dim: int, max_seq_len: int, base: float = 10000.0):
        super().__init__()
        inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))  # (hd/2,)
        freqs = torch.outer(torch.arange(max_seq_len, dtype=torch.float32), inv)  # (T, hd/2)
        emb = torch.cat([freqs, freqs], dim=-1)  # (T, hd)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    def forward(self, x: torch.Tensor, offset: int) -> torch.Tensor:
        t = x.shape[-2]
        cos = self.cos[offset:offset + t].to(x.dtype)  # (T, hd)
        sin = self.sin[offset:offset + t].to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention through a pluggable kernel, with an optional KV cache."""

    def __init__(self, cfg: TransformerConfig, kernel: Any, rotary: Rotary | None):
        super().__init__()
        self.n_heads, self.head_dim = cfg.n_heads, cfg.emb_dim // cfg.n_heads
        self.shares_qk = bool(getattr(kernel, "shares_qk", False))  # Reformer: keys are the queries
        attn_bias = cfg.bias and cfg.attn_bias
        self.qkv = nn.Linear(cfg.emb_dim, (2 if self.shares_qk else 3) * cfg.emb_dim, bias=attn_bias)
        self.proj = nn.Linear(cfg.emb_dim, cfg.emb_dim, bias=attn_bias)
        self.drop = nn.Dropout(cfg.dropout)
        self.kernel = kernel
        self.rotary = rotary

    def forward(self, x: torch.Tensor, cache: dict[str, torch.Tensor] | None = None, offset: int = 0) -> torch.Tensor:
        b, t, c = x.shape  # (B, T, C)
        # unbind + transpose (not permute + index): its backward is one stack, where indexing a permuted
        # view zero-fills and accumulates the whole QKV gradient per part (profiled: benchmarks/profile_step.py)
        parts = [z.transpose(1, 2) for z in self.qkv(x).view(b, t, -1, self.n_heads, self.head_dim).unbind(2)]
        q, v = parts[0], parts[-1]  # each (B, H, T, hd)
        k = q if self.shares_qk else parts[1]
        if self.rotary is not None:
            q = self.rotary(q, offset)
            k = q if self.shares_qk else self.rotary(k, offset)
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)  # (B, H, Tpast + T, hd)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        if k.shape[2] == t:  # no past: plain causal attention
            y = self.kernel(q, k, v, causal=True)  # (B, H, T, hd)
        else:  # the T new queries against the whole cache, causal, aligned to the last T positions
            y = self.kernel.decode(q, k, v)
        y = y.transpose(1, 2).contiguous().view(b, t, c)  # (B, T, C)
        return self.drop(self.proj(y))


class Block(nn.Module):
    """Pre-LN Transformer block: x + attn(ln(x)); x + mlp(ln(x))."""

    def __init__(self, cfg: TransformerConfig, kernel: Any, rotary: Rotary | None):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.emb_dim, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg, kernel, rotary)
        self.ln2 = nn.LayerNorm(cfg.emb_dim, bias=cfg.bias)
        self.mlp = nn.Sequential(nn.Linear(cfg.emb_dim, cfg.ff_dim, bias=cfg.bias), nn.GELU(),
                                 nn.Linear(cfg.ff_dim, cfg.emb_dim, bias=cfg.bias), nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor, cache: dict[str, torch.Tensor] | None = None, offset: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache, offset)  # (B, T, C)
        return x + self.mlp(self.ln2(x))


def _check_kernel(kernel: Any) -> Any:
    if kernel is None:
        return DefaultAttention()
    if not callable(kernel):
        raise ConfigError(f"attention kernel {kernel!r} is not callable")
    caps = getattr(kernel, "capabilities", None)  # lmbench.AttentionCapabilities
    if caps is not None and caps.missing(causal=True):
        raise CapabilityError(f"attention kernel {type(kernel).__name__} has no causal mode; a decoder "
                              "needs one: pick another [attention] name (see `lmbench list attention`)")
    return kernel


class TransformerLanguageModel(nn.Module):
    """Decoder-only Transformer LM: ``model(idx) -> logits``; ``model.step(idx, cache)`` for decoding."""

    Config = TransformerConfig

    def __init__(self, config: TransformerConfig | None = None, *, vocab_size: int | None = None,
                 attention: Any = None, **_deps: Any):
        super().__init__()
        cfg = config or TransformerConfig()
        vocab = vocab_size or cfg.vocab_size
        if not vocab:
            raise ConfigError("lm.transformer needs a vocabulary size: the recipe passes vocab_size= "
                              "(or set model.vocab_size)")
        if cfg.vocab_size and vocab_size and cfg.vocab_size < vocab_size:
            raise ConfigError(f"model.vocab_size={cfg.vocab_size} is smaller than the tokenizer's vocabulary "
                              f"({vocab_size}); raise it or set it to 0 to follow the tokenizer")
        vocab = max(vocab, cfg.vocab_size)
        self.cfg, self.vocab_size = cfg, vocab
        self.kernel = _check_kernel(attention)
        head_dim = cfg.emb_dim // cfg.n_heads
        rotary = Rotary(head_dim, cfg.max_seq_len, cfg.rope_base) if cfg.pos_encoding == "rope" else None
        self.tok_emb = nn.Embedding(vocab, cfg.emb_dim)
        self.pos_emb = nn.Embedding(cfg.max_seq_len, cfg.emb_dim) if cfg.pos_encoding == "learned" else None
        if cfg.pos_encoding == "sinusoidal":
            self.register_buffer("pos_table", sinusoidal_table(cfg.max_seq_len, cfg.emb_dim), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, self.kernel, rotary) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.emb_dim, bias=cfg.bias)
        self.head = nn.Linear(cfg.emb_dim, vocab, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.tok_emb.weight  # tied embeddings
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
            if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @property
    def max_seq_len(self) -> int:
        """The longest sequence the position encoding covers."""
        return self.cfg.max_seq_len

    @property
    def decode_path(self) -> str:
        """How generation runs: ``"kv_cache"`` (``step`` with the kernel's decode call) or ``"recompute"``."""
        return "kv_cache" if kernel_decodes(self.kernel) else "recompute"

    def _embed(self, idx: torch.Tensor, offset: int) -> torch.Tensor:
        b, t = idx.shape  # (B, T)
        if offset + t > self.cfg.max_seq_len:
            raise ConfigError(f"sequence of {offset + t} tokens exceeds model.max_seq_len={self.cfg.max_seq_len}; "
                              "raise model.max_seq_len or lower recipe.context")
        x = self.tok_emb(idx)  # (B, T, C)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(offset, offset + t, device=idx.device))  # (T, C) broadcast
        elif self.cfg.pos_encoding == "sinusoidal":
            x = x + self.pos_table[offset:offset + t].to(x.dtype)
        return self.drop(x)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for token ids ``idx`` (B, T), causal."""
        x = self._embed(idx, 0)  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))  # (B, T, V)

    def new_state(self) -> dict[str, Any]:
        """An empty KV cache: one dict per layer plus the number of cached positions."""
        return {"layers": [{} for _ in self.blocks], "pos": 0}

    def step(self, idx: torch.Tensor, state: dict[str, Any] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """Incremental decoding: logits (B, T, V) of ``idx`` (B, T) given the cache; returns the new cache.

        Raises :class:`CapabilityError` when the kernel cannot decode (``decode_path == "recompute"``).
        """
        if self.decode_path != "kv_cache":
            name = getattr(self.kernel, "name", type(self.kernel).__name__)
            raise CapabilityError(f"attention kernel '{name}' cannot decode against a KV cache (capabilities.decode "
                                  "is false); generate by recomputing the prefix (lmbench_lm.generate does so)")
        state = state or self.new_state()
        offset = state["pos"]
        x = self._embed(idx, offset)  # (B, T, C)
        for block, layer_cache in zip(self.blocks, state["layers"]):
            x = block(x, layer_cache, offset)
        state["pos"] = offset + idx.shape[1]
        return self.head(self.ln_f(x)), state

    def parameter_split(self) -> dict[str, int]:
        """Parameters as embedding (token + learned positions) / body (blocks, final LN) / head."""
        from ..params import split_counts

        return split_counts(self, embedding=["tok_emb", "pos_emb"], head=["head"])
