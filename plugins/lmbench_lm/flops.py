"""Training FLOPs per token and model FLOPs utilisation (MFU) of an ``lm.train`` run."""

from __future__ import annotations

from typing import Any

import torch

from lmbench import FlopsCounter


def flops_results(run: Any, model: Any, split: dict[str, int], tokens_per_s: float, context: int, bf16: bool
                  ) -> dict[str, Any]:
    """Training FLOPs per token and MFU: the model's own ``flops_per_token`` (FlopsCounter) when it
    has one, the Transformer formula for the lab's models, nothing for a model that offers neither.

    ``tokens_per_s`` is trained tokens (all ranks) over the optimizer steps' own time (no evaluations).
    """
    if isinstance(model, FlopsCounter):
        flops = float(model.flops_per_token(context))
        return {"train_flops_per_token": flops, **_mfu(run, tokens_per_s * flops, bf16)}
    if all(hasattr(model, a) for a in ("head", "cfg", "vocab_size")):
        return mfu_results(run, model, split, tokens_per_s, context, bf16)
    run.info("no FLOPs estimate: the model has no flops_per_token(context) (lmbench.FlopsCounter)")
    return {}


def mfu_results(run: Any, model: Any, split: dict[str, int], tokens_per_s: float, context: int, bf16: bool
                ) -> dict[str, Any]:
    """Training FLOPs per token (6N + attention term; N counts the output matmul) and MFU if a peak is known.

    ``tokens_per_s`` is the whole run's (summed over ranks); MFU is per device
    (:func:`lmbench.measure.per_device_mfu`).
    """
    from lmbench import transformer_flops_per_token

    out_dim = model.head.weight.shape[1]
    n = split["body"] + model.vocab_size * out_dim
    cfg = model.cfg
    layers, width = (cfg.n_layers, cfg.emb_dim) if hasattr(cfg, "n_heads") else (0, 0)
    flops = transformer_flops_per_token(n, layers, context, width, training=True)
    return {"train_flops_per_token": flops, **_mfu(run, tokens_per_s * flops, bf16)}


def _mfu(run: Any, total_flops_per_s: float, bf16: bool) -> dict[str, Any]:
    """``mfu`` per device and which peak it divides by (:func:`lmbench.mfu_against_peak`); {} without a peak."""
    from lmbench import mfu_against_peak

    out, note = mfu_against_peak(run.device, "bf16" if bf16 else torch.float32, total_flops_per_s,
                                 run.dist.world_size)
    if note:
        run.info(note)
    return out
