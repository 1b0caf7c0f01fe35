"""Shared training pieces: batching, the optimiser with warm-up + cosine schedule, checkpoints of the encoder."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch

from lmbench.config import Seconds
from lmbench.errors import LmbenchError


@dataclass
class OptimConfig:
    """Optimisation options shared by the recipes (batch size as a token budget)."""

    max_seq_len: int = 256
    tokens_per_batch: int = 8192  # batch size = tokens_per_batch // max_seq_len
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    grad_clip: float = 1.0
    max_steps: int = 0  # 0 = derived from epochs
    budget: Seconds | None = None  # wall-clock limit for training ("5m"); evaluation runs after it

    def batch_size(self, seq_len: int | None = None) -> int:
        return max(1, self.tokens_per_batch // (seq_len or self.max_seq_len))


def make_optimizer(model: torch.nn.Module, cfg: OptimConfig, device: str) -> torch.optim.Optimizer:
    """AdamW (fused on CUDA) without weight decay on biases, norms and embeddings' padding."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.dim() < 2 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, fused=device.startswith("cuda"))


def lr_factor(step: int, total: int, cfg: OptimConfig, elapsed: float = 0.0) -> float:
    """Linear warm-up for ``warmup_ratio`` of training, then cosine down to ``min_lr_ratio``.

    Progress is the larger of steps done / ``total`` and, with a ``budget``, time used / budget,
    so a run cut short by its wall-clock budget still ends its schedule at the minimum rate.
    """
    progress = step / max(1, total)
    if cfg.budget:
        progress = max(progress, elapsed / cfg.budget)
    progress = min(1.0, progress)
    if progress < cfg.warmup_ratio:
        return max(progress / cfg.warmup_ratio, 1.0 / max(1, total))
    rest = (progress - cfg.warmup_ratio) / max(1e-9, 1 - cfg.warmup_ratio)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * rest))


def train_step(train_model: Any, optimizer: torch.optim.Optimizer, ids: torch.Tensor, mask: torch.Tensor,
               labels: torch.Tensor, *, lr: float, grad_clip: float, device: str) -> torch.Tensor:
    """One optimizer step: set ``lr``, forward under autocast, backward, clip, step; return the loss.

    ``train_model(ids, mask, labels=...)`` returns ``(loss, logits)``; ids/mask are (B, N).
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    with autocast(device):
        loss, _ = train_model(ids, mask, labels=labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], grad_clip)
    optimizer.step()
    return loss.detach()


def pad_batch(seqs: list[list[int]], pad_id: int, multiple: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the longest sequence (rounded up to ``multiple``): ids (B, N), mask (B, N) bool."""
    n = max(len(s) for s in seqs)
    n = -(-n // multiple) * multiple
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = True
    return ids, mask


def batches(n: int, batch_size: int, *, shuffle: bool, seed: int) -> Iterator[list[int]]:
    """Index batches over ``range(n)``, shuffled with a seeded RNG."""
    order = list(range(n))
    if shuffle:
        random.Random(seed).shuffle(order)
    for i in range(0, n, batch_size):
        yield order[i: i + batch_size]


def autocast(device: str):
    """bf16 autocast on CUDA, nothing elsewhere."""
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    import contextlib

    return contextlib.nullcontext()


def save_encoder(folder: Path, model: torch.nn.Module, tokenizer: Any, model_spec: dict[str, Any]) -> None:
    """Write ``encoder.pt`` (encoder weights + model spec) and the tokenizer into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.encoder.state_dict().items()}
    torch.save({"encoder": state, "model": model_spec}, folder / "encoder.pt")
    tokenizer.save(folder / "tokenizer")


def load_encoder(folder: str | Path) -> dict[str, Any]:
    """Read ``encoder.pt`` from a pretraining run folder (``init_from``)."""
    path = Path(folder) / "encoder.pt"
    if not path.exists():
        raise LmbenchError(f"init_from={folder} has no encoder.pt; give the folder of an attention.mlm/tapt run")
    return torch.load(path, map_location="cpu", weights_only=True)
