"""``attention.sdpa``: ``torch.nn.functional.scaled_dot_product_attention``, recording its backend.

The backend torch picks (flash, memory-efficient, cuDNN, math; on CPU the CPU flash kernel or
math) is read from the dispatcher itself (``torch._fused_sdp_choice``, the function SDPA calls to
choose) for the exact tensors of each call, and kept in ``kernel.last_backend``. ``backend`` in
the config restricts SDPA to one backend with ``torch.nn.attention.sdpa_kernel``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from lmbench import CapabilityError

from .base import AttentionCapabilities, AttentionKernel, causal_mask

_BACKEND_NAMES = {0: "math", 1: "flash", 2: "efficient", 3: "cudnn", 4: "overrideable", -1: "none"}


@dataclass
class SDPAConfig:
    """Options of ``attention.sdpa``."""

    backend: Literal["auto", "flash", "efficient", "cudnn", "math"] = "auto"


def _backend_enum(name: str):
    from torch.nn.attention import SDPBackend

    return {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
            "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}[name]


def sdpa_backend(q, k, v, attn_mask=None, is_causal: bool = False) -> str:
    """The backend SDPA's dispatcher chooses for these tensors under the current backend flags."""
    choose = getattr(torch, "_fused_sdp_choice", None)
    if choose is None:  # pragma: no cover - very old torch
        return "unknown"
    try:
        return _BACKEND_NAMES.get(int(choose(q, k, v, attn_mask, 0.0, is_causal)), "unknown")
    except RuntimeError:
        return "none"


class SDPAttention(AttentionKernel):
    """PyTorch's fused scaled-dot-product attention; ``last_backend`` says which kernel ran."""

    Config = SDPAConfig
    name = "attention.sdpa"
    capabilities = AttentionCapabilities(causal=True, padding_mask=True, backward=True, memory="O(N^2)",
                                         exact=True, decode=True,
                                         notes="O(N) memory with the flash/efficient backends")

    def __init__(self, config: SDPAConfig | None = None, **deps):
        super().__init__(config or SDPAConfig(), **deps)
        self.last_backend: str | None = None

    def _context(self):
        if self.config.backend == "auto":
            return contextlib.nullcontext()
        from torch.nn.attention import sdpa_kernel

        return sdpa_kernel([_backend_enum(self.config.backend)])

    def attend(self, q, k, v, *, causal, key_padding_mask):
        return self._run(q, k, v, causal=causal, key_padding_mask=key_padding_mask)

    def attend_decode(self, q, k, v, *, key_padding_mask):
        return self._run(q, k, v, causal=True, key_padding_mask=key_padding_mask)

    def _run(self, q, k, v, *, causal, key_padding_mask):
        """SDPA on q (B, H, N, hd) and k, v (B, H, Nk, hd), Nk >= N, causal rows aligned to the last N keys.

        SDPA's own ``is_causal`` aligns to the top left, so an explicit mask is passed whenever the
        query is shorter than the keys (one query row needs none: it sees every key).
        """
        mask = None
        n, nk = q.shape[-2], k.shape[-2]
        is_causal = causal and n == nk
        if causal and 1 < n < nk:
            mask = causal_mask(n, nk, q.device)  # (N, Nk)
        if key_padding_mask is not None:
            pad = key_padding_mask[:, None, None, :]  # (B, 1, 1, Nk), True = attend
            if is_causal:
                mask, is_causal = causal_mask(n, nk, q.device), False
            mask = pad if mask is None else pad & mask  # (B, 1, N, Nk)
        with self._context():
            self.last_backend = sdpa_backend(q, k, v, mask, is_causal)
            if self.last_backend == "none":
                raise CapabilityError(f"SDPA backend '{self.config.backend}' cannot run these inputs "
                                      f"({q.device.type}, {q.dtype}, mask={mask is not None}); use backend=auto")
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)  # (B, H, N, hd)
