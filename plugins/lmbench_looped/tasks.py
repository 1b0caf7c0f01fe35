"""In-context regression tasks, sampled on the fly and seeded: `looped.linreg` and friends.

A prompt is ``n`` pairs ``(x_i, f(x_i))`` with ``x_i ~ N(0, I_d)`` and ``f`` drawn afresh per
prompt from a function class (Garg et al. 2022, "What Can Transformers Learn In-Context?"):

- ``linear``:        ``f(x) = w . x``, ``w ~ N(0, I_d)``
- ``sparse_linear``: as linear with only ``sparsity`` random coordinates of ``w`` non-zero
- ``relu_net``:      ``f(x) = sqrt(2/h) * relu(x W1) W2``, ``W1, W2 ~ N(0, 1)``, ``h = hidden``
- ``decision_tree``: a depth-``depth`` tree splitting on ``x_c > 0`` for a random coordinate ``c`` per
                     node, leaves ``~ N(0, 1)``

plus optional Gaussian noise on ``y``. A curriculum grows the active dimension and the prompt
length every ``curriculum_every`` steps (inactive coordinates of ``x`` are zero), as in Garg et
al. 2022 and Yang et al. 2023. Batches are a pure function of ``(seed, step)``, so a run is
reproducible and resumable without saving sampler state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch

from lmbench import ConfigError

FUNCTIONS = ("linear", "sparse_linear", "relu_net", "decision_tree")


class Batch(NamedTuple):
    """One batch of prompts: ``xs`` (B, n, d) with zeros beyond ``dims``, ``ys`` (B, n)."""

    xs: torch.Tensor
    ys: torch.Tensor
    dims: int
    points: int


@dataclass
class LinRegConfig:
    """Options of the regression task (`looped.linreg`); the curriculum options are its schedule."""

    n_dims: int = 4  # d: the full input dimension (evaluation always uses all of it)
    n_points: int = 12  # n: (x, y) pairs per prompt at the end of the curriculum
    noise_std: float = 0.0  # Gaussian noise added to every y (train and evaluation)
    function: Literal["linear", "sparse_linear", "relu_net", "decision_tree"] = "linear"
    sparsity: int = 3  # non-zero coordinates of w for sparse_linear
    hidden: int = 100  # hidden units for relu_net
    depth: int = 4  # tree depth for decision_tree
    curriculum: bool = True  # grow dims and points during training
    dims_start: int = 0  # active dims at step 0 (0: n_dims, i.e. no dims curriculum)
    dims_step: int = 1  # dims added every curriculum_every steps
    points_start: int = 0  # prompt length at step 0 (0: n_points)
    points_step: int = 2  # points added every curriculum_every steps
    curriculum_every: int = 200  # steps between curriculum increments

    def __post_init__(self) -> None:
        if self.n_dims < 1:
            raise ConfigError(f"n_dims must be >= 1, got {self.n_dims}")
        if self.n_points < 1:
            raise ConfigError(f"n_points must be >= 1 (a prompt needs at least one pair), got {self.n_points}")
        if self.noise_std < 0:
            raise ConfigError(f"noise_std must be >= 0, got {self.noise_std}")
        if self.function == "sparse_linear" and not 1 <= self.sparsity <= self.n_dims:
            raise ConfigError(f"sparsity must be in [1, n_dims={self.n_dims}], got {self.sparsity}")
        if self.hidden < 1 or self.depth < 1:
            raise ConfigError("hidden and depth must be >= 1")
        if not 0 <= self.dims_start <= self.n_dims:
            raise ConfigError(f"dims_start must be in [0, n_dims={self.n_dims}] (0 = no dims curriculum), "
                              f"got {self.dims_start}")
        if not 0 <= self.points_start <= self.n_points:
            raise ConfigError(f"points_start must be in [0, n_points={self.n_points}] (0 = no points curriculum), "
                              f"got {self.points_start}")
        if self.dims_step < 0 or self.points_step < 0 or self.curriculum_every < 1:
            raise ConfigError("dims_step and points_step must be >= 0 and curriculum_every >= 1")


@dataclass(frozen=True)
class Curriculum:
    """A value that starts at ``start`` and grows by ``inc`` every ``every`` steps up to ``end``."""

    start: int
    end: int
    inc: int
    every: int

    def at(self, step: int) -> int:
        """The value at training step ``step`` (0-based)."""
        return min(self.end, self.start + self.inc * (max(step, 0) // self.every))

    def done_at(self) -> int:
        """The first step at which the value reaches ``end``."""
        if self.start >= self.end or self.inc == 0:
            return 0
        return -(-(self.end - self.start) // self.inc) * self.every


class RegressionTask:
    """In-context regression prompts from one function class, with a curriculum.

    ``batch(B, step=s, seed=r)`` is deterministic in ``(r, s)``; ``eval_set(P, seed=r)`` draws
    ``P`` prompts at the full dimension and length. ``normaliser`` is ``E[f(x)^2]`` at the full
    dimension (``d`` for linear): squared errors divided by it give the normalised error, for
    which the zero predictor scores 1.
    """

    Config = LinRegConfig

    def __init__(self, config: LinRegConfig | None = None, **_: object):
        self.config = config or self.Config()
        c = self.config
        self.n_dims, self.n_points = c.n_dims, c.n_points
        on = c.curriculum
        self.dims = Curriculum((c.dims_start or c.n_dims) if on else c.n_dims, c.n_dims, c.dims_step, c.curriculum_every)
        self.points = Curriculum((c.points_start or c.n_points) if on else c.n_points, c.n_points, c.points_step,
                                 c.curriculum_every)

    @property
    def function(self) -> str:
        return self.config.function

    @property
    def normaliser(self) -> float:
        """``E[y^2]`` without noise at the full dimension: ``d`` (linear, relu_net), ``s`` (sparse), 1 (tree)."""
        return {"linear": float(self.n_dims), "sparse_linear": float(self.config.sparsity),
                "relu_net": float(self.n_dims), "decision_tree": 1.0}[self.function]

    def schedule(self, step: int) -> tuple[int, int]:
        """(active dims, prompt length) at training step ``step``."""
        return self.dims.at(step), self.points.at(step)

    def batch(self, batch_size: int, *, step: int = 0, seed: int = 0, dims: int | None = None,
              points: int | None = None) -> Batch:
        """A training batch for ``step`` (curriculum applied unless ``dims``/``points`` are given)."""
        d_cur, n_cur = self.schedule(step)
        gen = torch.Generator().manual_seed(_mix(seed, step))
        return self.sample(batch_size, dims or d_cur, points or n_cur, gen)

    def eval_set(self, n_prompts: int, *, seed: int = 0) -> Batch:
        """``n_prompts`` prompts at the full dimension and length (a fixed, seeded test set)."""
        gen = torch.Generator().manual_seed(_mix(seed, -1))
        return self.sample(n_prompts, self.n_dims, self.n_points, gen)

    def sample(self, batch_size: int, dims: int, points: int, gen: torch.Generator) -> Batch:
        """Draw ``batch_size`` prompts with ``dims`` active coordinates and ``points`` pairs."""
        if not 1 <= dims <= self.n_dims or points < 1:
            raise ConfigError(f"cannot sample dims={dims} (1..{self.n_dims}), points={points} (>= 1)")
        xs = torch.zeros(batch_size, points, self.n_dims)  # (B, n, d)
        xs[:, :, :dims] = torch.randn(batch_size, points, dims, generator=gen)
        ys = self._function(xs[:, :, :dims], gen)  # (B, n)
        if self.config.noise_std > 0:
            ys = ys + self.config.noise_std * torch.randn(ys.shape, generator=gen)
        return Batch(xs, ys, dims, points)

    def _function(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b, n, d = x.shape
        kind = self.function
        if kind in ("linear", "sparse_linear"):
            w = torch.randn(b, d, 1, generator=gen)  # (B, d, 1)
            if kind == "sparse_linear":
                s = min(self.config.sparsity, d)
                keep = torch.rand(b, d, generator=gen).argsort(dim=1)[:, :s]  # (B, s)
                mask = torch.zeros(b, d).scatter_(1, keep, 1.0)
                w = w * mask.unsqueeze(-1)
            return (x @ w).squeeze(-1)  # (B, n)
        if kind == "relu_net":
            h = self.config.hidden
            w1 = torch.randn(b, d, h, generator=gen)
            w2 = torch.randn(b, h, 1, generator=gen)
            return (torch.relu(x @ w1) @ w2).squeeze(-1) * (2.0 / h) ** 0.5  # (B, n)
        depth = self.config.depth  # decision_tree
        n_inner = 2 ** depth - 1
        coords = torch.randint(0, d, (b, n_inner), generator=gen)  # split coordinate per node
        leaves = torch.randn(b, 2 ** depth, generator=gen)
        node = torch.zeros(b, n, dtype=torch.long)
        for _ in range(depth):
            c = coords.gather(1, node)  # (B, n) coordinate tested at each prompt point's node
            right = (x.gather(2, c.unsqueeze(-1)).squeeze(-1) > 0).long()
            node = 2 * node + 1 + right
        return leaves.gather(1, node - n_inner)  # (B, n)


@dataclass
class SparseLinRegConfig(LinRegConfig):
    """`looped.sparse_linreg`: the task options with ``function = "sparse_linear"``."""

    function: Literal["linear", "sparse_linear", "relu_net", "decision_tree"] = "sparse_linear"


@dataclass
class ReluNetConfig(LinRegConfig):
    """`looped.relu_net`: the task options with ``function = "relu_net"``."""

    function: Literal["linear", "sparse_linear", "relu_net", "decision_tree"] = "relu_net"


@dataclass
class DecisionTreeConfig(LinRegConfig):
    """`looped.decision_tree`: the task options with ``function = "decision_tree"``."""

    function: Literal["linear", "sparse_linear", "relu_net", "decision_tree"] = "decision_tree"


class SparseLinReg(RegressionTask):
    """Sparse linear regression prompts (``function = "sparse_linear"`` by default)."""

    Config = SparseLinRegConfig


class ReluNetRegression(RegressionTask):
    """Two-layer ReLU network prompts (``function = "relu_net"`` by default)."""

    Config = ReluNetConfig


class DecisionTreeRegression(RegressionTask):
    """Depth-4 decision tree prompts (``function = "decision_tree"`` by default)."""

    Config = DecisionTreeConfig


def _mix(seed: int, step: int) -> int:
    """A 63-bit generator seed from (seed, step), distinct for every pair (splitmix64 finaliser)."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + int(step) + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFF
