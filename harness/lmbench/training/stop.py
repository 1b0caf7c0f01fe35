"""When training stops, and why: ``max_steps``, ``budget_tokens``, ``budget_flops`` and ``budget``
with one meaning in every lab.

Steps, tokens and FLOPs are budgets that do not depend on the machine: two runs of one spec stop at
the same point on an idle and on a loaded machine. A wall-clock ``budget`` does depend on it, so the
stop rule samples the machine's load average while training (:class:`LoadMonitor`) and the lab records
it beside the results (``train_load_avg``, ``train_load_max``, ``cpu_count``); reports mark a run
trained under load above its core count (its speed is the machine's, and under a wall-clock budget
so is its quality).
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..measure.timer import TimingStats

#: ``stopped_by`` values in order of precedence; every rank agrees on the highest one any rank saw.
REASONS = ("", "max_steps", "budget_tokens", "budget_flops", "budget", "timeout", "interrupted")


class LoadMonitor:
    """The 1-minute load average of the machine, sampled at most once a second while training runs.

    ``results()`` gives ``train_load_avg`` (mean of the samples), ``train_load_max`` and ``cpu_count``
    (the cores this process may use); empty where the OS has no load average (Windows).
    """

    def __init__(self, every: float = 1.0):
        self.every = every
        self.samples: list[float] = []
        self._last = -float("inf")

    def sample(self) -> None:
        """Take a sample unless one was taken less than ``every`` seconds ago."""
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        try:
            self.samples.append(float(os.getloadavg()[0]))
        except (AttributeError, OSError):
            pass

    def results(self) -> dict[str, Any]:
        """The load results (see the class docstring)."""
        if not self.samples:
            return {}
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return {"train_load_avg": round(sum(self.samples) / len(self.samples), 2),
                "train_load_max": round(max(self.samples), 2), "cpu_count": cores}


class StopRule:
    """Decides before each optimizer step whether training goes on.

    ``budget`` (seconds) covers the training phase from :meth:`start` on, periodic evaluations
    and checkpoints included (see :class:`TrainingConfig`); ``elapsed`` carries over a resume, so a
    resumed run gets only what is left of its budget. The first optimizer step always runs: a
    budget is checked before each later one (otherwise a tiny budget would train or not depending
    on how long the set-up between :meth:`start` and the first check took on a loaded machine). ``run`` (the recipe's
    :class:`lmbench.run.context.Run`) adds the harness's stop flag (``run.timeout``, Ctrl-C, SIGTERM);
    under torchrun every rank takes the same decision at the same step, or DDP would hang.

    ``budget_tokens`` stops once :meth:`count` has been told of that many trained tokens (all ranks
    together, the tokens the lab's ``train_tokens`` counts); ``budget_flops`` once those tokens times
    ``flops_per_token`` (the model's training FLOPs per token, from the same count the lab's MFU uses)
    reach it. Both are independent of the machine's speed and of the world size.

    Typical loop::

        stop = StopRule.of(c, run, flops_per_token=f).start(step=state["step"], elapsed=state["elapsed"],
                                                             tokens=state["tokens"])
        while not stop.check(step):
            lr = lr_at(step, stop.progress(step), lr=c.lr, ...)
            ...
            stop.count(tokens_this_step)
        results["stopped_by"] = stop.reason
        results.update(stop.load_results())   # the machine's load average while training ran
    """

    def __init__(self, max_steps: int = 0, budget: float | None = None, run: Any = None, *,
                 budget_tokens: int | None = None, budget_flops: float | None = None,
                 flops_per_token: float | None = None):
        self.max_steps = int(max_steps or 0)
        self.budget = float(budget) if budget else None
        self.budget_tokens = int(budget_tokens) if budget_tokens else None
        self.budget_flops = float(budget_flops) if budget_flops else None
        if self.budget_flops and not (flops_per_token and flops_per_token > 0):
            from ..errors import ConfigError

            raise ConfigError("recipe.budget_flops needs the model's training FLOPs per token, and this model "
                              "gives none (lmbench.plugin.components.FlopsCounter); use recipe.budget_tokens instead")
        self.flops_per_token = float(flops_per_token) if flops_per_token else None
        self.run = run
        self.reason = ""
        self.tokens = 0
        self.load = LoadMonitor()
        self._t0 = time.perf_counter()

    @classmethod
    def of(cls, config: Any, run: Any = None, *, max_steps: int | None = None,
           flops_per_token: float | None = None) -> "StopRule":
        """The stop rule of a :class:`TrainingConfig` (``max_steps`` overrides the config's)."""
        return cls(config.max_steps if max_steps is None else max_steps, config.budget, run,
                   budget_tokens=getattr(config, "budget_tokens", None),
                   budget_flops=getattr(config, "budget_flops", None), flops_per_token=flops_per_token)

    def start(self, *, step: int = 0, elapsed: float = 0.0, tokens: int = 0) -> "StopRule":
        """Start the clock now, as if ``elapsed`` seconds and ``tokens`` trained tokens of the phase
        had already run (resume)."""
        self._t0 = time.perf_counter() - float(elapsed)
        self.tokens = int(tokens)
        self.reason = ""
        return self

    def count(self, tokens: int) -> None:
        """Add the trained tokens of one step (all ranks together)."""
        self.tokens += int(tokens)

    @property
    def flops(self) -> float | None:
        """Training FLOPs so far (None without a FLOPs-per-token count)."""
        return self.tokens * self.flops_per_token if self.flops_per_token else None

    def load_results(self) -> dict[str, Any]:
        """The machine's load while training ran (see :class:`LoadMonitor`)."""
        return self.load.results()

    @property
    def elapsed(self) -> float:
        """Seconds of the training phase so far (including time before a resume)."""
        return time.perf_counter() - self._t0

    def progress(self, step: int) -> float:
        """How far training is, in [0, 1]: the largest of step / max_steps, elapsed / budget,
        tokens / budget_tokens and FLOPs / budget_flops."""
        by_steps = step / self.max_steps if self.max_steps else 0.0
        by_time = self.elapsed / self.budget if self.budget else 0.0
        by_tokens = self.tokens / self.budget_tokens if self.budget_tokens else 0.0
        by_flops = (self.flops or 0.0) / self.budget_flops if self.budget_flops else 0.0
        return min(1.0, max(by_steps, by_time, by_tokens, by_flops))

    def check(self, step: int) -> bool:
        """True when training must stop before ``step``; the reason is then in :attr:`reason`."""
        reason = ""
        self.load.sample()
        if self.run is not None and self.run.should_stop():
            reason = self.run.stop.reason if self.run.stop.reason in REASONS else "interrupted"
        elif self.budget is not None and step > 0 and self.elapsed >= self.budget:
            reason = "budget"  # never before step 0: how long the set-up took must not decide if a run trains
        elif self.budget_flops is not None and (self.flops or 0.0) >= self.budget_flops:
            reason = "budget_flops"
        elif self.budget_tokens is not None and self.tokens >= self.budget_tokens:
            reason = "budget_tokens"
        elif self.max_steps and step >= self.max_steps:
            reason = "max_steps"
        self.reason = REASONS[_agree(self.run, REASONS.index(reason))]
        return bool(self.reason)


def _agree(run: Any, code: int) -> int:
    """The largest ``code`` over all ranks (the code itself without torchrun)."""
    if run is None or not getattr(run, "dist", None) or not run.dist.enabled:
        return code
    import torch
    import torch.distributed as dist

    device = run.device if str(run.device).startswith("cuda") else "cpu"
    tensor = torch.tensor([code], dtype=torch.int64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return int(tensor.item())


class StepClock:
    """Wall-clock time of each optimizer step (device synchronised), summarised as :class:`TimingStats`.

    ``with clock.step(): ...`` around the work of one step (data, forward, backward, optimizer,
    not periodic evaluation). The first ``skip`` steps (warm-up: allocation, autotuning,
    compilation) are kept out of the statistics but counted in :attr:`total`.
    """

    def __init__(self, device: str = "cpu", skip: int = 1):
        self.device = str(device)
        self.skip = skip
        self.samples: list[float] = []
        self.skipped = 0
        self.total = 0.0
        self.first: float | None = None  # the first step's seconds (with compile: includes compilation)

    def step(self) -> "_Timed":
        """A context manager timing one step."""
        return _Timed(self)

    def add(self, seconds: float) -> None:
        """Record one step's duration (seconds)."""
        self.total += seconds
        if self.first is None:
            self.first = seconds
        if self.skipped < self.skip:
            self.skipped += 1
        else:
            self.samples.append(seconds)

    def stats(self) -> TimingStats | None:
        """Statistics of the recorded steps, or None before the first one past warm-up."""
        return TimingStats.from_samples(self.samples) if self.samples else None

    def state_dict(self) -> dict[str, Any]:
        """For checkpoints: the samples so far, so a resumed run's statistics cover all steps."""
        return {"samples": list(self.samples), "skipped": self.skipped, "total": self.total, "first": self.first}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.samples = [float(s) for s in state.get("samples", [])]
        self.skipped = int(state.get("skipped", 0))
        self.total = float(state.get("total", 0.0))
        self.first = state.get("first")


class _Timed:
    def __init__(self, clock: StepClock):
        self.clock = clock

    def __enter__(self) -> "_Timed":
        _sync(self.clock.device)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            _sync(self.clock.device)
            self.clock.add(time.perf_counter() - self.t0)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(torch.device(device))
