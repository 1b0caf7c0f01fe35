"""Attention kernels with one call signature: ``kernel(q, k, v, *, causal=False, key_padding_mask=None)``."""

from .base import AttentionCapabilities, AttentionKernel, exact_attention

__all__ = ["AttentionCapabilities", "AttentionKernel", "exact_attention"]
