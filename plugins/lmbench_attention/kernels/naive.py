"""``attention.naive``: explicit softmax(QK^T / sqrt(d)) V, the transparent O(N^2) reference."""

from __future__ import annotations

import torch

from .base import AttentionCapabilities, AttentionKernel, NoOptions, mask_value


class NaiveAttention(AttentionKernel):
    """Softmax attention written out: materialises the (N, N) score matrix (O(N^2) memory)."""

    Config = NoOptions
    name = "attention.naive"
    capabilities = AttentionCapabilities(causal=True, padding_mask=True, backward=True, memory="O(N^2)", exact=True)

    def attend(self, q, k, v, *, causal, key_padding_mask):
        n = q.shape[-2]
        scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5  # (B, H, N, N)
        neg = mask_value(scores.dtype)
        if causal:
            future = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)  # (N, N)
            scores = scores.masked_fill(future, neg)
        if key_padding_mask is not None:
            scores = scores.masked_fill(~key_padding_mask[:, None, None, :], neg)  # (B, 1, 1, N)
        return torch.softmax(scores, dim=-1) @ v  # (B, H, N, hd)
