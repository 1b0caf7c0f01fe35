"""What ``peft.train`` trains on, step by step, and what it checkpoints of the model.

:class:`EpochBatches` hands out the micro-batches of one optimizer step at a time from a
shuffled pass over the training poems (a fresh order each epoch, drawn from the run's seed and the
epoch number); its ``state_dict`` is the data position (epoch, micro-batch), so a resumed run
trains on exactly the batches an uninterrupted one would have. :class:`TrainableWeights` is the
part of a model a checkpoint needs: its trainable parameters (the adapter for IA3 and LoRA, every
weight for full fine-tuning), not the frozen base model.
"""

from __future__ import annotations

import math
from typing import Any

#: Keeps the per-epoch seeds of neighbouring run seeds apart.
_EPOCH_SEED_STRIDE = 1_000_003


class EpochBatches:
    """Micro-batches of ``batch_size`` examples, ``grad_accum`` of them per optimizer step.

    The last step of an epoch takes the micro-batches that are left (fewer than ``grad_accum``
    when the epoch does not divide evenly); a step never spans two epochs.
    """

    def __init__(self, examples: list[Any], *, batch_size: int, grad_accum: int, seed: int):
        if not examples:
            raise ValueError("no training examples")
        self.examples = examples
        self.batch_size = batch_size
        self.grad_accum = grad_accum
        self.seed = seed
        self.epoch = 0
        self.position = 0  # micro-batches of the current epoch already handed out
        self._order: list[int] | None = None

    @property
    def micro_per_epoch(self) -> int:
        """Micro-batches in one pass over the examples."""
        return math.ceil(len(self.examples) / self.batch_size)

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in one pass over the examples."""
        return math.ceil(self.micro_per_epoch / self.grad_accum)

    def _epoch_order(self) -> list[int]:
        import torch

        if self._order is None:
            generator = torch.Generator().manual_seed(self.seed * _EPOCH_SEED_STRIDE + self.epoch)
            self._order = torch.randperm(len(self.examples), generator=generator).tolist()
        return self._order

    def next_step(self) -> tuple[list[list[Any]], bool]:
        """The micro-batches (lists of examples) of the next optimizer step, and whether they end an epoch."""
        order = self._epoch_order()
        micro = []
        while len(micro) < self.grad_accum and self.position < self.micro_per_epoch:
            start = self.position * self.batch_size
            micro.append([self.examples[i] for i in order[start:start + self.batch_size]])
            self.position += 1
        ended = self.position >= self.micro_per_epoch
        if ended:
            self.epoch, self.position, self._order = self.epoch + 1, 0, None
        return micro, ended

    @property
    def epochs_done(self) -> float:
        """Passes over the examples so far (fractional inside an epoch)."""
        return self.epoch + self.position / self.micro_per_epoch

    def state_dict(self) -> dict[str, int]:
        """The data position, for checkpoints."""
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed, "examples": len(self.examples)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore :meth:`state_dict`; a checkpoint of another data set raises ValueError."""
        if int(state["examples"]) != len(self.examples) or int(state["seed"]) != self.seed:
            raise ValueError(f"the checkpoint's data position is for {state['examples']} examples with seed "
                             f"{state['seed']}, not {len(self.examples)} with seed {self.seed}")
        self.epoch, self.position, self._order = int(state["epoch"]), int(state["position"]), None


class TrainableWeights:
    """The trainable parameters of ``model`` as a state dict, for checkpoints of a fine-tune."""

    def __init__(self, model: Any):
        self.model = model

    def _trainable(self) -> dict[str, Any]:
        return {name: p for name, p in self.model.named_parameters() if p.requires_grad}

    def state_dict(self) -> dict[str, Any]:
        """Name -> tensor of every trainable parameter (a copy on the CPU)."""
        return {name: p.detach().to("cpu", copy=True) for name, p in self._trainable().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy saved values into the trainable parameters; other names or shapes raise KeyError/RuntimeError."""
        import torch

        params = self._trainable()
        if set(state) != set(params):
            missing, extra = sorted(set(params) - set(state)), sorted(set(state) - set(params))
            raise KeyError(f"trainable parameters differ (missing {missing[:3]}, unexpected {extra[:3]})")
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(state[name])
