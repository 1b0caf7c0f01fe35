"""Shared training pieces of the attention recipes: the config, batching, resumable batch order, encoder files.

The optimizer (:func:`lmbench.training.adamw`), the schedule (:func:`lmbench.training.lr_at`), the
stop rule, step timing, checkpoints and cost keys come from :mod:`lmbench.training`; this module
holds only what is particular to the attention lab: batches sized in tokens, padding, and the
encoder files that ``init_from`` reads.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lmbench import (LEGACY_KEYS, ConfigError, LmbenchError, TrainingConfig, clip_and_step, mfu_against_peak,
                     transformer_flops_per_token)


@dataclass
class AttentionTrainingConfig(TrainingConfig):
    """The shared training keys (:class:`lmbench.training.TrainingConfig`) plus the lab's batch sizing.

    - ``tokens_per_batch``: the batch size as a token budget: ``tokens_per_batch // seq_len``
      sequences per optimizer step, so a batch holds about the same number of tokens at every
      sequence length (the MLM length stages). ``0`` = use ``batch_size`` sequences instead; setting
      both to non-default values is an error. With ``grad_accum = k`` a step trains on k such
      batches (each a micro-batch), as in every lab.
    - ``min_lr_ratio``: the old floor as a fraction of ``lr``; still read (with a warning) as
      ``min_lr = lr * min_lr_ratio``. Old ``warmup_ratio`` is read as ``warmup`` (a fraction < 1).
    - ``checkpoint_every``: steps between resumable ``last`` checkpoints (0 = only at evaluations
      and the end); ``resume``: continue from the run's ``last`` checkpoint when there is one.
    - ``compile``: ``torch.compile`` the model in place; its overhead is ``compile_seconds``.
    """

    max_seq_len: int = 256
    tokens_per_batch: int = 8192
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: float = 0.06
    min_lr_ratio: float | None = None
    checkpoint_every: int = 100
    resume: bool = True
    compile: bool = False  # torch.compile the model in place (CPU and CUDA; lmbench.training.compiling)

    aliases = LEGACY_KEYS

    def __post_init__(self) -> None:
        if self.min_lr_ratio is not None:
            if not 0 <= self.min_lr_ratio <= 1:
                raise ConfigError(f"recipe.min_lr_ratio must be in [0, 1] (got {self.min_lr_ratio}); prefer recipe.min_lr")
            logging.getLogger("lmbench").warning("recipe.min_lr_ratio is now recipe.min_lr (an absolute rate): "
                                                 "read as min_lr = lr * %g", self.min_lr_ratio)
            self.min_lr, self.min_lr_ratio = self.lr * self.min_lr_ratio, None
        default_bs = next(f.default for f in dataclasses.fields(TrainingConfig) if f.name == "batch_size")
        if self.tokens_per_batch < 0:
            raise ConfigError(f"recipe.tokens_per_batch must be >= 0 (got {self.tokens_per_batch})")
        if self.tokens_per_batch and self.batch_size != default_bs:
            raise ConfigError("set recipe.tokens_per_batch (tokens per step) or recipe.batch_size (sequences per "
                              "step), not both; recipe.tokens_per_batch=0 uses batch_size")
        if self.checkpoint_every < 0:
            raise ConfigError(f"recipe.checkpoint_every must be >= 0 (got {self.checkpoint_every})")
        super().__post_init__()

    def sequences_per_batch(self, seq_len: int | None = None) -> int:
        """Sequences per optimizer step at ``seq_len`` (default ``max_seq_len``)."""
        if not self.tokens_per_batch:
            return self.batch_size
        return max(1, self.tokens_per_batch // (seq_len or self.max_seq_len))


def train_step(train_model: Any, optimizer: torch.optim.Optimizer, ids: torch.Tensor, mask: torch.Tensor,
               labels: torch.Tensor, *, lr: float, grad_clip: float, grad_accum: int, device: str) -> torch.Tensor:
    """One optimizer step over the batch cut into ``grad_accum`` micro-batches; return the mean loss.

    ``train_model(ids, mask, labels=...)`` returns ``(loss, logits)``; ids/mask are (B, N). The
    optimizer step is :func:`lmbench.training.clip_and_step` (set ``lr``, clip, step, zero).
    """
    total = torch.zeros((), device=ids.device)
    for part in range(grad_accum):
        rows = slice(part * len(ids) // grad_accum, (part + 1) * len(ids) // grad_accum)
        if rows.start == rows.stop:
            continue
        with autocast(device):
            loss, _ = train_model(ids[rows], mask[rows], labels=labels[rows])
        (loss / grad_accum).backward()
        total += loss.detach() / grad_accum
    clip_and_step(optimizer, grad_clip, lr=lr)
    return total


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


class EpochBatches:
    """Index batches over ``range(n)``, reshuffled each epoch with seed ``seed + epoch``; resumable.

    The position (epoch, batch index within it, seed) is the checkpoint's data position: a
    resumed run draws exactly the batches an uninterrupted one would.
    """

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.epoch, self.index = 0, 0
        self._order: tuple[int, list[int]] | None = None

    def order(self) -> list[int]:
        """This epoch's shuffled order of examples."""
        if self._order is None or self._order[0] != self.epoch:
            order = list(range(self.n))
            random.Random(self.seed + self.epoch).shuffle(order)
            self._order = (self.epoch, order)
        return self._order[1]

    @property
    def per_epoch(self) -> int:
        """Batches in one epoch."""
        return -(-self.n // self.batch_size)

    def next_batch(self) -> list[int]:
        """The next batch of this epoch (call :meth:`next_epoch` once ``index == per_epoch``)."""
        if self.index >= self.per_epoch:
            raise IndexError("the epoch is over: call next_epoch()")
        start = self.index * self.batch_size
        self.index += 1
        return self.order()[start: start + self.batch_size]

    def next_epoch(self) -> None:
        """Move to the start of the next epoch."""
        self.epoch, self.index = self.epoch + 1, 0

    def state_dict(self) -> dict[str, int]:
        """The data position: epoch, batch index within it, shuffle seed."""
        return {"epoch": self.epoch, "index": self.index, "seed": self.seed, "n": self.n, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore :meth:`state_dict`; a different data set or batch size is refused."""
        if (state["n"], state["batch_size"], state["seed"]) != (self.n, self.batch_size, self.seed):
            raise ValueError(f"checkpoint batches ({state['n']} examples, {state['batch_size']} a batch, seed "
                             f"{state['seed']}) differ from this run's ({self.n}, {self.batch_size}, {self.seed})")
        self.epoch, self.index = int(state["epoch"]), int(state["index"])


def encoder_mfu(run: Any, model: torch.nn.Module, *, tokens: int, seconds: float, seq_len: int,
                device: str) -> dict[str, Any]:
    """``train_flops_per_token`` and MFU of an encoder's training phase (6N + 12·L·T·d, the formula the
    lm lab uses): N the parameters outside the token and position embeddings, T ``seq_len``, d the
    attention width (heads x head size); tokens/s over the training phase, its evaluations included.
    ``mfu`` is per device against the vendor or the measured peak (:func:`lmbench.mfu_against_peak`)."""
    cfg = model.encoder.cfg
    body = sum(p.numel() for name, p in model.named_parameters()
               if not name.startswith(("encoder.tokens.", "encoder.learned.")))
    flops = transformer_flops_per_token(body, cfg.n_layers, seq_len, cfg.n_heads * cfg.head_dim, training=True)
    dtype = "bf16" if device.startswith("cuda") else torch.float32  # what autocast() trains in
    out, note = mfu_against_peak(device, dtype, tokens / max(seconds, 1e-9) * flops, run.dist.world_size)
    if note:
        run.info(note)
    return {"train_flops_per_token": flops, **out}


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
