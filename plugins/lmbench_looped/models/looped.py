"""`looped.looped`: the looped transformer with input injection (Yang et al. 2023).

A shared block of ``n_block_layers`` layers is applied ``b = loops`` times; before every loop
the prompt embedding ``e`` is added to the running state (input injection):
``h_t = f(h_{t-1} + e)``, ``h_0 = 0``. Training back-propagates through the last
``T = grad_loops`` loops only: the first ``b - T`` loops run under ``torch.no_grad()``, and the
loss averages the read-outs of the ``T`` loops in the window (``loss_window = "window"``, as in the
paper) or uses the last one only (``"last"``). Inference may run any number of loops.

Loop curriculum (``loops_start > 0``): the number of training loops grows from ``loops_start``
by ``loops_step`` every ``loops_every`` steps up to ``b`` (Yang et al.'s released code starts it
at ``T`` and adds 2 loops every 500 steps); the window stays the last ``T`` loops (all of them
while fewer than ``T`` are run). ``loop_norm`` applies the final LayerNorm at the end of every
loop, so the state carried to the next loop is normalised, as in their code (the GPT-2
backbone, final LayerNorm included, is the looped function); the read-out is then linear.

Variants: ``ema_alpha`` mixes the state, ``h_t = alpha * h_{t-1} + (1 - alpha) * f(h_{t-1} + e)``;
``last_n > 0`` carries the state of only the last N tokens into the next loop (the other tokens
restart from the injection alone); ``mixer = "ssm"`` swaps attention for a diagonal SSM.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmbench import ConfigError

from ..tasks import Curriculum
from .backbone import Block, VectorIO, init_weights
from .gpt2 import ModelShape, resolve_io


@dataclass
class LoopedConfig(ModelShape):
    """Options of `looped.looped`."""

    n_block_layers: int = 1  # layers in the shared block
    loops: int = 12  # b: loops in training (and by default at inference)
    grad_loops: int = 0  # T: loops back-propagated through (the last T of b); 0: all b
    eval_loops: int = 0  # loops at inference; 0: b
    loss_window: Literal["window", "last"] = "window"  # loss on the read-outs of the last T loops, or the last only
    inject: bool = True  # add the prompt embedding before every loop
    ema_alpha: float = 0.0  # state mixing h_t = alpha h_{t-1} + (1 - alpha) f(.)
    last_n: int = 0  # > 0: only the last N tokens' state is fed to the next loop
    loop_norm: bool = False  # final LayerNorm at the end of every loop (Yang et al.'s code), linear read-out
    loops_start: int = 0  # loop curriculum: training loops at step 0 (0: no curriculum, b throughout)
    loops_step: int = 2  # loops added every loops_every steps (Yang et al.: 2)
    loops_every: int = 500  # steps between loop increments (Yang et al.: 500)

    def __post_init__(self) -> None:
        self.check_shape()
        if self.n_block_layers < 1 or self.loops < 1:
            raise ConfigError(f"n_block_layers and loops must be >= 1, got {self.n_block_layers} and {self.loops}")
        if self.grad_loops < 0 or self.grad_loops > self.loops:
            raise ConfigError(f"grad_loops (T={self.grad_loops}) must be in [0, loops] (b={self.loops}): "
                              "training back-propagates through the last T of the b loops")
        if self.eval_loops < 0 or self.last_n < 0:
            raise ConfigError("eval_loops and last_n must be >= 0")
        if not 0.0 <= self.ema_alpha < 1.0:
            raise ConfigError(f"ema_alpha must be in [0, 1), got {self.ema_alpha}")
        if not 0 <= self.loops_start <= self.loops:
            raise ConfigError(f"loops_start must be in [0, loops={self.loops}] (0 = no loop curriculum): the loop "
                              f"curriculum grows the training loops up to b, got {self.loops_start}")
        if self.loops_start and (self.loops_step < 1 or self.loops_every < 1):
            raise ConfigError(f"the loop curriculum needs loops_step >= 1 and loops_every >= 1, got "
                              f"{self.loops_step} and {self.loops_every}")


class LoopedTransformer(nn.Module):
    """A shared block looped over the prompt's hidden states; tokens (B, 2n, d) -> outputs (B, 2n)."""

    Config = LoopedConfig
    supports_loops = True

    def __init__(self, config: LoopedConfig | None = None, *, n_dims: int | None = None, n_points: int | None = None):
        super().__init__()
        self.config = config = config or LoopedConfig()
        dims, points = resolve_io(config, n_dims, n_points)
        self.io = VectorIO(dims, config.d_model, 2 * points)
        self.blocks = nn.ModuleList(Block(config.d_model, config.n_heads, mixer=config.mixer,
                                          ssm_state=config.ssm_state, dropout=config.dropout)
                                    for _ in range(config.n_block_layers))
        init_weights(self)
        self.inject = config.inject
        self.start_from_embedding = not config.inject  # Universal Transformer: h_0 = e
        # Yang et al.'s baseline loops the whole GPT-2 backbone, which adds the positions on every call
        self.positions_each_loop = not config.inject and getattr(config, "positions_each_loop", False)
        self.train_loops = config.loops
        self.window = config.grad_loops or config.loops
        self.default_eval_loops = config.eval_loops or config.loops
        self.loop_norm = config.loop_norm
        start = config.loops_start or config.loops
        self.loop_schedule = Curriculum(start, config.loops, config.loops_step if config.loops_start else 0,
                                        config.loops_every)

    @property
    def n_dims(self) -> int:
        return self.io.n_dims

    @property
    def depth(self) -> int:
        """Block applications per training forward pass (loops x layers per block)."""
        return self.train_loops * len(self.blocks)

    def loops_at(self, step: int) -> int:
        """Training loops at optimizer step ``step`` under the loop curriculum (b without one)."""
        return self.loop_schedule.at(step)

    def blocks_for_loop(self, t: int) -> nn.ModuleList:
        """The layers applied at loop ``t`` (0-based): the one shared block here."""
        return self.blocks

    def _loop(self, h: torch.Tensor, e: torch.Tensor, keep: torch.Tensor | None,
              t: int, pos: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Loop ``t``: returns (state read out at this loop, state carried to the next loop).

        ``pos`` (1, T, C): positions added before the block on every loop (no injection)."""
        out = h + e if self.inject else (h + pos if pos is not None else h)  # (B, T, C)
        for block in self.blocks_for_loop(t):
            out = block(out)
        if self.loop_norm:
            out = self.io.ln_f(out)
        alpha = getattr(self.config, "ema_alpha", 0.0)
        if alpha:
            out = alpha * h + (1.0 - alpha) * out
        carried = out if keep is None else out * keep
        return out, carried

    def run_loops(self, zs: torch.Tensor, loops: int, grad_loops: int | None = None,
                  collect_last: int = 1) -> list[torch.Tensor]:
        """Run ``loops`` loops; return the read-outs (B, T) of the last ``collect_last`` loops.

        With autograd on, the first ``loops - grad_loops`` loops run under ``torch.no_grad()``.
        """
        if loops < 1:
            raise ConfigError(f"loops must be >= 1, got {loops}")
        grad_loops = loops if grad_loops is None else min(grad_loops, loops)
        e = self.io.embed(zs)  # (B, T, C)
        pos = self.io.positions(zs.shape[1], zs.device) if self.positions_each_loop else None  # (1, T, C)
        h = (e - pos if pos is not None else e) if self.start_from_embedding else torch.zeros_like(e)
        keep = None
        last_n = getattr(self.config, "last_n", 0)
        if last_n:
            keep = torch.zeros(1, e.shape[1], 1, device=e.device, dtype=e.dtype)
            keep[:, -last_n:] = 1.0  # (1, T, 1): tokens whose state is fed to the next loop
        no_grad_loops = loops - grad_loops if torch.is_grad_enabled() else 0
        outputs = []
        for t in range(loops):
            with torch.no_grad() if t < no_grad_loops else nullcontext():
                out, h = self._loop(h, e, keep, t, pos)
            if t >= loops - collect_last:
                outputs.append(self.io.head(out, normalised=self.loop_norm))  # (B, T)
        return outputs

    def forward(self, zs: torch.Tensor, loops: int | None = None, *, window: bool = False) -> torch.Tensor:
        """Tokens (B, T, d) -> outputs (B, T) after ``loops`` loops (default: eval_loops, else b).

        ``window=True`` returns the read-outs the training loss averages over, stacked (W, B, T):
        the last ``min(T, loops)`` loops (``loss_window = "window"``) or the last one. The training
        loss goes through here, not through another method, so that a DDP/FSDP wrapper (which
        only hooks ``forward``) sees the same computation as the bare model.
        """
        loops = loops or (self.default_eval_loops if not self.training else self.train_loops)
        if not window:
            return self.run_loops(zs, loops, self.window, collect_last=1)[-1]
        last = self.window if getattr(self.config, "loss_window", "last") == "window" else 1
        return torch.stack(self.run_loops(zs, loops, self.window, collect_last=min(last, loops)))  # (W, B, T)

    def train_outputs(self, zs: torch.Tensor, loops: int | None = None) -> list[torch.Tensor]:
        """Read-outs the training loss averages over (a list of (B, T)): see ``forward(window=True)``."""
        return list(self(zs, loops or self.train_loops, window=True))
