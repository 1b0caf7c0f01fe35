"""Optimizer and learning-rate schedule of ``lm.train``.

AdamW with weight decay on matrices only (biases, LayerNorm and 1-D parameters are not decayed,
as in nanoGPT), fused on CUDA. The schedule is a linear warm-up then constant or cosine decay
to ``min_lr``; its progress is the larger of step / max_steps and elapsed / budget, so a
time-budgeted run decays over its budget.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def make_optimizer(model: nn.Module, *, lr: float, betas: tuple[float, float], weight_decay: float,
                   device: str) -> torch.optim.AdamW:
    """AdamW over ``model``'s parameters (decay on tensors with 2+ dims); fused on CUDA."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = str(device).startswith("cuda")
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused)


def lr_at(step: int, *, lr: float, min_lr: float, warmup_steps: int, schedule: str, progress: float) -> float:
    """Learning rate at ``step``: linear warm-up over ``warmup_steps``, then constant or cosine.

    ``progress`` in [0, 1] is how far training is (by steps or by time); the cosine reaches
    ``min_lr`` at 1.
    """
    if warmup_steps and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return lr
    p = min(max(progress, 0.0), 1.0)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * p)) * (lr - min_lr)
