"""The learning-rate schedule: one policy, one place."""

from __future__ import annotations

import math


def lr_at(step: int, progress: float, *, lr: float, min_lr: float = 0.0, warmup: float = 0.0,
          schedule: str = "cosine") -> float:
    """Learning rate for optimizer step ``step`` (0-based) at ``progress`` in [0, 1] through training.

    ``progress`` is the larger of steps done / ``max_steps`` and seconds used / ``budget``
    (:meth:`StopRule.progress`), so a time-budgeted run ends its schedule at ``min_lr`` when its
    budget ends. Warm-up is linear, over ``warmup`` steps when ``warmup >= 1`` or over that fraction
    of progress when ``0 < warmup < 1``; after it, ``cosine``, ``linear`` or ``constant`` from
    ``lr`` to ``min_lr``, measured over the progress that remains.
    """
    progress = min(max(progress, 0.0), 1.0)
    if warmup >= 1 and step < warmup:
        return lr * (step + 1) / warmup
    if 0 < warmup < 1 and progress < warmup:
        return lr * max(progress / warmup, 1e-3)
    if schedule == "constant":
        return lr
    start = warmup if 0 < warmup < 1 else 0.0
    decay = min(max((progress - start) / max(1.0 - start, 1e-9), 0.0), 1.0)
    if schedule == "linear":
        return min_lr + (1.0 - decay) * (lr - min_lr)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * decay)) * (lr - min_lr)
