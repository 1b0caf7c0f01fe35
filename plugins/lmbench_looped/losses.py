"""Training losses on the y-predictions: ``mse``, ``mae``, ``huber``. Validation is always MSE."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from lmbench import ConfigError

LOSSES = ("mse", "mae", "huber")


def regression_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "mse", delta: float = 1.0) -> torch.Tensor:
    """Mean loss of predictions (B, n) against targets (B, n), computed in float32."""
    pred, target = pred.float(), target.float()
    if kind == "mse":
        return F.mse_loss(pred, target)
    if kind == "mae":
        return F.l1_loss(pred, target)
    if kind == "huber":
        return F.huber_loss(pred, target, delta=delta)
    raise ConfigError(f"unknown loss '{kind}'; valid: {', '.join(LOSSES)}")
