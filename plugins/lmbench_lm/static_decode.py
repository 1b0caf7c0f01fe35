"""Compiled KV-cache decoding with a static cache, for ``lm.transformer`` with its built-in SDPA attention.

The dynamic KV cache of ``TransformerLanguageModel.step`` grows by ``torch.cat`` every token, so
each token has new shapes and cannot run as one compiled graph. :class:`StaticCacheDecoder`
preallocates the keys and values of every layer at ``max_seq_len`` positions, (B, H, Tmax, hd),
writes each new token's key and value in place (``index_copy_`` at a position tensor) and attends
over the whole buffer with a mask of the filled positions, so every token after the prompt runs
the same shapes: ``torch.compile(dynamic=False)`` compiles that one-token step once per batch size.

The prompt (prefill) runs through the model's own eager ``step`` and its keys and values are
copied into the buffers. The decoder has the incremental-decoder interface (``step``,
``new_state``, ``max_seq_len``, ``decode_path = "static_kv_cache"``), so
:func:`lmbench_lm.generate.generate` drives it as it drives the model, and gives the same tokens
(``tests/lm/test_lm_static_decode.py``). A kernel other than the built-in SDPA is refused in one line.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lmbench import CapabilityError

from .models.transformer import DefaultAttention


def _rotate(rotary: Any, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """RoPE of x (B, H, 1, hd) at the position tensor ``pos`` (1,)."""
    cos = rotary.cos.index_select(0, pos).to(x.dtype)  # (1, hd)
    sin = rotary.sin.index_select(0, pos).to(x.dtype)
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def static_decodable(model: Any) -> bool:
    """Whether ``model`` is an ``lm.transformer`` with the built-in SDPA attention (what this decoder runs)."""
    return isinstance(getattr(model, "kernel", None), DefaultAttention) and hasattr(model, "blocks")


class StaticCacheDecoder(nn.Module):
    """``StaticCacheDecoder(model, compile=True)``: ``step(idx, state)`` with a preallocated KV cache."""

    decode_path = "static_kv_cache"

    def __init__(self, model: nn.Module, *, compile: bool = True):
        super().__init__()
        if not isinstance(getattr(model, "kernel", None), DefaultAttention):
            name = getattr(getattr(model, "kernel", None), "name", type(getattr(model, "kernel", None)).__name__)
            raise CapabilityError(f"static-cache decoding runs lm.transformer's built-in SDPA attention, not {name}; "
                                  "decode with the model's own step (generate(model, ...))")
        self.model = model
        self._one = torch.compile(self._one_token, dynamic=False) if compile else self._one_token

    @property
    def max_seq_len(self) -> int:
        """The model's position limit, which is also the cache's length."""
        return self.model.max_seq_len

    def new_state(self) -> None:
        """No cache until the prompt is seen (its batch size sizes the buffers)."""
        return None

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) of the wrapped model."""
        return self.model(idx)

    def _prefill(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        m = self.model
        logits, dyn = m.step(idx, None)  # eager, dynamic cache: (B, H, T, hd) per layer
        b, t = idx.shape
        h, hd = m.cfg.n_heads, m.cfg.emb_dim // m.cfg.n_heads
        ks, vs = [], []
        for layer in dyn["layers"]:
            k = torch.zeros(b, h, m.max_seq_len, hd, dtype=layer["k"].dtype, device=idx.device)  # (B, H, Tmax, hd)
            v = torch.zeros_like(k)
            k[:, :, :t] = layer["k"]
            v[:, :, :t] = layer["v"]
            ks.append(k)
            vs.append(v)
        return logits, {"k": ks, "v": vs, "pos": t}

    def _one_token(self, tok: torch.Tensor, pos: torch.Tensor, ks: list[torch.Tensor], vs: list[torch.Tensor]
                   ) -> torch.Tensor:
        """Logits (B, 1, V) of ``tok`` (B, 1) at position ``pos`` (1,); writes its keys/values into ks, vs."""
        m = self.model
        b = tok.shape[0]
        c, h = m.cfg.emb_dim, m.cfg.n_heads
        x = m.tok_emb(tok)  # (B, 1, C)
        if m.pos_emb is not None:
            x = x + m.pos_emb(pos)  # (1, C)
        elif m.cfg.pos_encoding == "sinusoidal":
            x = x + m.pos_table.index_select(0, pos).to(x.dtype)
        x = m.drop(x)
        filled = (torch.arange(m.max_seq_len, device=tok.device) <= pos).view(1, 1, 1, -1)  # (1, 1, 1, Tmax): written keys
        for block, k_buf, v_buf in zip(m.blocks, ks, vs):
            attn = block.attn
            parts = [z.transpose(1, 2) for z in attn.qkv(block.ln1(x)).view(b, 1, -1, h, c // h).unbind(2)]
            q, v = parts[0], parts[-1]  # (B, H, 1, hd)
            k = q if attn.shares_qk else parts[1]
            if attn.rotary is not None:
                q = _rotate(attn.rotary, q, pos)
                k = q if attn.shares_qk else _rotate(attn.rotary, k, pos)
            k_buf.index_copy_(2, pos, k)
            v_buf.index_copy_(2, pos, v)
            y = F.scaled_dot_product_attention(q, k_buf, v_buf, attn_mask=filled)  # (B, H, 1, hd)
            x = x + attn.drop(attn.proj(y.transpose(1, 2).reshape(b, 1, c)))
            x = x + block.mlp(block.ln2(x))
        return m.head(m.ln_f(x))  # (B, 1, V)

    def step(self, idx: torch.Tensor, state: dict[str, Any] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """The prompt (``state`` None) by the eager prefill; then one token at a time through the static step."""
        if state is None or idx.shape[1] != 1 or state["k"][0].shape[0] != idx.shape[0]:
            return self._prefill(idx)
        pos = state["pos"]
        if pos >= self.max_seq_len:
            raise CapabilityError(f"the static cache holds {self.max_seq_len} positions; generate crops the "
                                  "context and prefills again before it fills")
        # a fresh (B, 1): a slice of the growing output has a new stride every token (and at batch 1
        # .contiguous() keeps it), which would recompile the step for every position
        tok = idx.new_empty(idx.shape).copy_(idx)
        logits = self._one(tok, torch.tensor([pos], device=idx.device), state["k"], state["v"])
        state["pos"] = pos + 1
        return logits, state
