"""One training step's data and loss for `looped.train`, the same for one process and under torchrun.

- :func:`rank_batch`: the batch a rank trains on at a step, its slice of one global batch
  (``batch_size`` prompts per rank, ``batch_size * world_size`` in all), so ``--nproc N`` with
  batch B trains what one process with batch N*B does.
- :func:`training_loss`: the loss of the read-outs in the loss window (the last T loops of a
  looped model), computed through the model's ``forward`` so that a DDP/FSDP wrapper sees the
  same computation as the bare model.
"""

from __future__ import annotations

from typing import Any

import torch

from .encoding import predictions
from .losses import regression_loss
from .tasks import Batch


def rank_batch(task: Any, batch_size: int, *, step: int, seed: int, rank: int = 0, world_size: int = 1) -> Batch:
    """Rank ``rank``'s ``batch_size`` prompts of the global batch of ``batch_size * world_size`` at ``step``."""
    if world_size == 1:
        return task.batch(batch_size, step=step, seed=seed)
    full = task.batch(batch_size * world_size, step=step, seed=seed)
    rows = slice(rank * batch_size, (rank + 1) * batch_size)
    return Batch(full.xs[rows], full.ys[rows], full.dims, full.points)


def window_loss(readouts: torch.Tensor, ys: torch.Tensor, kind: str = "mse", delta: float = 1.0) -> torch.Tensor:
    """Mean over the window of the loss of each read-out: readouts (W, B, 2n), targets ys (B, n)."""
    losses = [regression_loss(predictions(out), ys, kind, delta) for out in readouts]
    return torch.stack(losses).mean()


def training_loss(train_model: torch.nn.Module, zs: torch.Tensor, ys: torch.Tensor, *, loops: int | None,
                  kind: str = "mse", delta: float = 1.0) -> torch.Tensor:
    """The training loss of tokens zs (B, 2n, D) against ys (B, n) with ``loops`` training loops.

    ``train_model`` is the model itself or its DDP/FSDP wrapper: both run ``forward(window=True)``,
    which returns the read-outs of the loss window, (W, B, 2n).
    """
    readouts = train_model(zs, loops=loops, window=True) if loops else train_model(zs, window=True)
    return window_loss(readouts, ys, kind, delta)
