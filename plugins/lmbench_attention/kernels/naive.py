"""``attention.naive``: explicit softmax(QK^T / sqrt(d)) V, the transparent O(N^2) reference."""

from __future__ import annotations

import torch

from .base import AttentionCapabilities, AttentionKernel, NoOptions, causal_mask, mask_value


class NaiveAttention(AttentionKernel):
    """Softmax attention written out: materialises the (N, N) score matrix (O(N^2) memory)."""

    Config = NoOptions
    name = "attention.naive"
    capabilities = AttentionCapabilities(causal=True, padding_mask=True, backward=True, memory="O(N^2)", exact=True,
                                         decode=True)

    def attend(self, q, k, v, *, causal, key_padding_mask):
        return self._softmax_attention(q, k, v, causal=causal, key_padding_mask=key_padding_mask)

    def attend_decode(self, q, k, v, *, key_padding_mask):
        return self._softmax_attention(q, k, v, causal=True, key_padding_mask=key_padding_mask)

    @staticmethod
    def _softmax_attention(q, k, v, *, causal, key_padding_mask):
        """q (B, H, N, hd) against k, v (B, H, Nk, hd), Nk >= N; causal rows aligned to the last N keys."""
        scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5  # (B, H, N, Nk)
        neg = mask_value(scores.dtype)
        if causal:
            scores = scores.masked_fill(~causal_mask(q.shape[-2], k.shape[-2], q.device), neg)  # (N, Nk)
        if key_padding_mask is not None:
            scores = scores.masked_fill(~key_padding_mask[:, None, None, :], neg)  # (B, 1, 1, Nk)
        return torch.softmax(scores, dim=-1) @ v  # (B, H, N, hd)
