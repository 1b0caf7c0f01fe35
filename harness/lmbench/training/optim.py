"""AdamW with parameter groups, and one optimizer step with clipping and accumulation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

#: Module types whose parameters are never weight-decayed (with every 1-D parameter: biases, gains).
_NO_DECAY_MODULES = ("Embedding", "LayerNorm", "RMSNorm", "GroupNorm", "BatchNorm1d", "BatchNorm2d")


def param_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups: weight matrices decayed; biases, norms and embeddings not.

    Only parameters with ``requires_grad`` (adapters leave the base frozen); a parameter shared by
    two modules (tied embedding and output head) appears once, and is not decayed if either owner
    is an embedding.
    """
    no_decay_ids = set()
    for module in model.modules():
        if type(module).__name__ in _NO_DECAY_MODULES:
            no_decay_ids.update(id(p) for p in module.parameters(recurse=False))
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (no_decay if p.dim() < 2 or id(p) in no_decay_ids else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def adamw(model: Any, *, lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.999),
          device: str = "cpu") -> Any:
    """AdamW over :func:`param_groups` of ``model``; fused on CUDA."""
    import torch

    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=tuple(betas),
                             fused=str(device).startswith("cuda"))


def set_lr(optimizer: Any, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def clip_and_step(optimizer: Any, grad_clip: float, *, lr: float | None = None, scheduler: Any = None) -> float | None:
    """Clip the global gradient norm to ``grad_clip`` (0 = no clipping), step, zero the gradients.

    ``lr`` sets the rate before the step (:func:`lr_at`); a ``scheduler`` (an HF/torch scheduler)
    is stepped after it instead. Returns the gradient norm before clipping (None without clipping).
    """
    import torch

    if lr is not None:
        set_lr(optimizer, lr)
    norm = None
    if grad_clip:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        norm = float(torch.nn.utils.clip_grad_norm_(params, grad_clip))
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return norm


def accumulation(model: Any, grad_accum: int) -> Iterator[tuple[int, Any]]:
    """Micro-batch indices with the context to run each in: ``for i, ctx in accumulation(m, n): with ctx: ...``.

    Divide each micro-batch's loss by ``grad_accum`` before ``backward``. Under DDP the gradient
    all-reduce runs only on the last micro-batch (``no_sync`` before it).
    """
    no_sync = getattr(model, "no_sync", None)
    for i in range(grad_accum):
        last = i == grad_accum - 1
        yield i, (no_sync() if no_sync is not None and not last else nullcontext())
