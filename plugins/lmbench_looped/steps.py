"""One training step's data and loss for `looped.train`, the same for one process and under torchrun.

- :func:`rank_batch`: the batch a rank trains on at a step (one micro-batch of it), its slice of
  one global batch (``batch_size`` prompts per rank and micro-batch, ``batch_size * grad_accum *
  world_size`` in all), so ``--nproc N`` with batch B trains what one process with batch N*B does,
  and ``grad_accum`` micro-batches of B what one batch of ``grad_accum * B`` does.
- :class:`TaskStream`: the training data position (the next step, and with it the task's d/n
  curriculum and the model's loop curriculum), checkpointed so a resumed run draws the same batches.
- :func:`training_loss`: the loss of the read-outs in the loss window (the last T loops of a
  looped model), computed through the model's ``forward`` so that a DDP/FSDP wrapper sees the
  same computation as the bare model.
"""

from __future__ import annotations

from typing import Any

import torch

from lmbench import LmbenchError

from .encoding import predictions
from .losses import regression_loss
from .tasks import Batch


def rank_batch(task: Any, batch_size: int, *, step: int, seed: int, rank: int = 0, world_size: int = 1,
               micro: int = 0, grad_accum: int = 1) -> Batch:
    """Rank ``rank``'s micro-batch ``micro`` (``batch_size`` prompts) of the global batch at ``step``.

    The global batch holds ``batch_size * grad_accum * world_size`` prompts, drawn from ``(seed,
    step)``; rank r's micro-batch i is rows ``[(r * grad_accum + i) * batch_size, ...)`` of it.
    """
    if world_size == 1 and grad_accum == 1:
        return task.batch(batch_size, step=step, seed=seed)
    full = task.batch(batch_size * grad_accum * world_size, step=step, seed=seed)
    start = (rank * grad_accum + micro) * batch_size
    rows = slice(start, start + batch_size)
    return Batch(full.xs[rows], full.ys[rows], full.dims, full.points)


class TaskStream:
    """Where training is in its data: the step whose batch comes next, with the curricula it implies.

    A batch is a pure function of ``(seed, step)`` (the task seeds a fresh generator per step), the
    task's d/n curriculum and the model's loop curriculum are functions of the step, so the step
    *is* the sampler's position and RNG state. :meth:`state_dict` stores it with the curriculum
    values at that step and the global batch size; :meth:`load_state_dict` refuses a checkpoint
    whose seed, batch or curriculum differ from this run's (it would train on other data).
    """

    def __init__(self, task: Any, model: Any, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1,
                 grad_accum: int = 1):
        self.task, self.model = task, model
        self.batch_size, self.seed, self.rank, self.world_size = batch_size, seed, rank, world_size
        self.grad_accum = grad_accum
        self.step = 0

    def batches(self) -> list[Batch]:
        """This rank's ``grad_accum`` micro-batches of the current step (the position does not move)."""
        return [rank_batch(self.task, self.batch_size, step=self.step, seed=self.seed, rank=self.rank,
                           world_size=self.world_size, micro=i, grad_accum=self.grad_accum)
                for i in range(self.grad_accum)]

    def loops(self) -> int | None:
        """Training loops at the current step (the model's loop curriculum; None for looped.gpt2)."""
        return self.model.loops_at(self.step)

    def advance(self) -> None:
        """Move to the next optimizer step."""
        self.step += 1

    def curriculum(self, step: int) -> list[int]:
        """``[active dims, prompt length, training loops]`` at ``step`` (0 where there is no such curriculum:
        a task without ``schedule(step)``, a model without loops)."""
        schedule = getattr(self.task, "schedule", None)
        dims, points = schedule(step) if schedule is not None else (0, 0)
        return [int(dims), int(points), int(self.model.loops_at(step) or 0)]

    def state_dict(self) -> dict[str, Any]:
        """For checkpoints: the position, and what must match for the same batches to follow."""
        return {"step": self.step, "seed": int(self.seed), "global_batch": self.global_batch,
                "curriculum": self.curriculum(self.step)}

    @property
    def global_batch(self) -> int:
        """Prompts per optimizer step over all ranks and micro-batches."""
        return self.batch_size * self.grad_accum * self.world_size

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue at a checkpoint's position; a checkpoint of other data is one clear error."""
        step = int(state["step"])
        saved = (int(state["seed"]), int(state["global_batch"]), [int(v) for v in state["curriculum"]])
        here = (int(self.seed), self.global_batch, self.curriculum(step))
        if saved != here:
            raise LmbenchError(f"the checkpoint was trained on other data (seed, global batch, [dims, points, loops] "
                               f"at step {step}: {saved} here {here}); run with --force to start over")
        self.step = step


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
