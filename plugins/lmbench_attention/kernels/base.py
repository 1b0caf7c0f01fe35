"""The kernel contract shared by every attention kernel: capabilities, input checks, ``require``.

A kernel is built by its factory from a config (``NaiveAttention(config)``) and called as
``kernel(q, k, v, *, causal=False, key_padding_mask=None) -> out`` on (B, H, N, hd) tensors;
``key_padding_mask`` is (B, N) bool with True for real tokens.

The decode call ``kernel.decode(q, k, v, *, key_padding_mask=None)`` is incremental decoding
against a KV cache: q is (B, H, n, hd) for the n newest positions, k and v are (B, H, T, hd) with
T >= n (the cache plus the new positions), and query row i sits at key position T - n + i, so it
sees keys 0 .. T - n + i (a causal mask aligned to the bottom right). A kernel that cannot do this
declares ``capabilities.decode = False``; ``decode`` then raises :class:`CapabilityError` and a
model generates by recomputing the whole prefix through ``forward`` instead.

Kernels are ``nn.Module``s so that
``model.eval()`` reaches them (random-feature redraws and LSH rotations are frozen in eval mode)
but they hold no trainable parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lmbench import AttentionCapabilities, CapabilityError, LmbenchError


_DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
                torch.float64: "float64"}


def dtype_name(dtype: Any) -> str:
    """``torch.bfloat16`` or ``"bf16"`` -> ``"bfloat16"``."""
    if isinstance(dtype, torch.dtype):
        return _DTYPE_NAMES.get(dtype, str(dtype).replace("torch.", ""))
    aliases = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32",
               "fp64": "float64", "double": "float64"}
    text = str(dtype).replace("torch.", "")
    return aliases.get(text, text)


@dataclass
class NoOptions:
    """Kernels without options take an empty table."""


class AttentionKernel(nn.Module):
    """Common base: validates inputs, enforces capabilities, and dispatches to :meth:`attend`."""

    name = "attention"
    capabilities = AttentionCapabilities()
    #: Whether the kernel uses the queries as keys (Reformer); models may skip the key projection.
    shares_qk = False

    def __init__(self, config: Any = None, **_: Any):
        super().__init__()
        self.config = config
        self._allowed: set[tuple] = set()

    # -- contract -------------------------------------------------------------------------
    def require(self, *, causal: bool = False, padding_mask: bool = False, backward: bool = False,
                dtype: Any = None) -> "AttentionKernel":
        """Fail now, with the reason, if this kernel lacks a capability the caller needs."""
        missing = self.capabilities.missing(causal=causal, padding_mask=padding_mask, backward=backward,
                                            dtype=None if dtype is None else dtype_name(dtype))
        if missing:
            raise CapabilityError(f"attention kernel '{self.name}' does not support {' and '.join(missing)}; "
                                  f"choose another kernel (`lmbench list attention`) or change the spec")
        return self

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False,
                key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention output (B, H, N, hd) for q/k/v (B, H, N, hd)."""
        self._check(q, k, v, causal, key_padding_mask)
        return self.attend(q, k, v, causal=causal, key_padding_mask=key_padding_mask)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool,
               key_padding_mask: torch.Tensor | None) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
               key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Causal attention of the n newest queries (B, H, n, hd) over T >= n cached keys/values (B, H, T, hd).

        Query row i is at key position T - n + i. ``key_padding_mask`` is (B, T). Returns (B, H, n, hd).
        Raises :class:`CapabilityError` when ``capabilities.decode`` is false.
        """
        if not self.capabilities.decode:
            raise CapabilityError(f"attention kernel '{self.name}' cannot decode against a KV cache "
                                  f"(capabilities.decode is false); run the whole prefix through the kernel instead")
        self._check_decode(q, k, v, key_padding_mask)
        return self.attend_decode(q, k, v, key_padding_mask=key_padding_mask)

    def attend_decode(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
                      key_padding_mask: torch.Tensor | None) -> torch.Tensor:  # pragma: no cover - abstract
        """The decode call after its checks; kernels with ``capabilities.decode`` implement it."""
        raise NotImplementedError(f"{type(self).__name__} declares decode but does not implement attend_decode")

    def _check(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool,
               key_padding_mask: torch.Tensor | None) -> None:
        if q.dim() != 4 or k.shape != q.shape or v.shape[:3] != q.shape[:3]:
            raise LmbenchError(f"attention '{self.name}' expects q, k, v of shape (batch, heads, seq, head_dim) "
                               f"with equal shapes; got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
        if key_padding_mask is not None:
            if key_padding_mask.dtype != torch.bool or tuple(key_padding_mask.shape) != (q.shape[0], q.shape[2]):
                raise LmbenchError(f"key_padding_mask must be bool of shape (batch, seq) = {(q.shape[0], q.shape[2])}, "
                                   f"True for real tokens; got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}")
        needs = (causal, key_padding_mask is not None, torch.is_grad_enabled() and q.requires_grad, q.dtype)
        if needs not in self._allowed:  # checked once per combination: keeps the per-call overhead small
            self.require(causal=needs[0], padding_mask=needs[1], backward=needs[2], dtype=needs[3])
            self._allowed.add(needs)

    def _check_decode(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                      key_padding_mask: torch.Tensor | None) -> None:
        if (q.dim() != 4 or k.dim() != 4 or k.shape[:2] != q.shape[:2] or k.shape[-1] != q.shape[-1]
                or v.shape[:3] != k.shape[:3] or k.shape[2] < q.shape[2]):
            raise LmbenchError(f"attention '{self.name}' decode expects q (batch, heads, n, head_dim) and k, v "
                               f"(batch, heads, T, head_dim) with T >= n; got {tuple(q.shape)}, {tuple(k.shape)}, "
                               f"{tuple(v.shape)}")
        if key_padding_mask is not None and (key_padding_mask.dtype != torch.bool
                                             or tuple(key_padding_mask.shape) != (k.shape[0], k.shape[2])):
            raise LmbenchError(f"key_padding_mask must be bool of shape (batch, keys) = {(k.shape[0], k.shape[2])}, "
                               f"True for real tokens; got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}")
        needs = ("decode", key_padding_mask is not None, torch.is_grad_enabled() and q.requires_grad, q.dtype)
        if needs not in self._allowed:
            self.require(causal=True, padding_mask=needs[1], backward=needs[2], dtype=needs[3])
            self._allowed.add(needs)

    def extra_repr(self) -> str:
        return f"name={self.name}, config={self.config}"


def mask_value(dtype: torch.dtype) -> float:
    """A large negative score that stays finite in ``dtype`` (so fully masked rows give no NaN)."""
    return torch.finfo(dtype).min / 2


def causal_mask(n_queries: int, n_keys: int, device: Any = None) -> torch.Tensor:
    """(n_queries, n_keys) bool, True where allowed: query i sees keys 0 .. n_keys - n_queries + i.

    The square case is the usual lower triangle; with fewer queries than keys (decoding after a
    cache) the queries are the last ``n_queries`` positions (aligned to the bottom right).
    """
    return torch.ones(n_queries, n_keys, dtype=torch.bool, device=device).tril(n_keys - n_queries)


def exact_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False,
                    key_padding_mask: torch.Tensor | None = None, self_mask: bool = False,
                    scale: float | None = None) -> torch.Tensor:
    """Reference softmax attention in float64-safe plain torch (used by tests and error columns).

    ``self_mask`` masks each query's own key unless it is the only one left (Reformer's rule).
    With fewer queries than keys and ``causal``, the queries are the last positions (see :func:`causal_mask`).
    """
    n, nk = q.shape[-2], k.shape[-2]
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, N, Nk)
    neg = mask_value(scores.dtype)
    allowed = causal_mask(n, nk, q.device) if causal else torch.ones(n, nk, dtype=torch.bool, device=q.device)
    allowed = allowed[None, None]  # (1, 1, N, Nk)
    if key_padding_mask is not None:
        allowed = allowed & key_padding_mask[:, None, None, :]  # (B, 1, N, N)
    scores = scores.masked_fill(~allowed, neg)
    if self_mask:
        own = torch.arange(n, device=q.device) + (nk - n)  # each query's own key position
        eye = torch.arange(nk, device=q.device)[None, :] == own[:, None]  # (N, Nk)
        others = (allowed & ~eye).any(-1, keepdim=True)  # a query with other keys drops itself
        scores = scores.masked_fill(eye & others, neg)
    return torch.softmax(scores, dim=-1) @ v  # (B, H, N, hd)


__all__ = ["AttentionCapabilities", "AttentionKernel", "NoOptions", "causal_mask", "dtype_name", "exact_attention",
           "mask_value"]
