"""When training stops, and why: ``max_steps`` and ``budget`` with one meaning in every lab."""

from __future__ import annotations

import time
from typing import Any

from ..measure.timer import TimingStats

#: ``stopped_by`` values in order of precedence; every rank agrees on the highest one any rank saw.
REASONS = ("", "max_steps", "budget", "timeout", "interrupted")


class StopRule:
    """Decides before each optimizer step whether training goes on.

    ``budget`` (seconds) covers the training phase from :meth:`start` on, periodic evaluations
    and checkpoints included (see :class:`TrainingConfig`); ``elapsed`` carries over a resume, so a
    resumed run gets only what is left of its budget. The first optimizer step always runs: a
    budget is checked before each later one (otherwise a tiny budget would train or not depending
    on how long the set-up between :meth:`start` and the first check took on a loaded machine). ``run`` (the recipe's
    :class:`lmbench.context.Run`) adds the harness's stop flag (``run.timeout``, Ctrl-C, SIGTERM);
    under torchrun every rank takes the same decision at the same step, or DDP would hang.

    Typical loop::

        stop = StopRule(c.max_steps, c.budget, run).start(step=state["step"], elapsed=state["elapsed"])
        while not stop.check(step):
            lr = lr_at(step, stop.progress(step), lr=c.lr, ...)
            ...
        results["stopped_by"] = stop.reason
    """

    def __init__(self, max_steps: int = 0, budget: float | None = None, run: Any = None):
        self.max_steps = int(max_steps or 0)
        self.budget = float(budget) if budget else None
        self.run = run
        self.reason = ""
        self._t0 = time.perf_counter()

    def start(self, *, step: int = 0, elapsed: float = 0.0) -> "StopRule":
        """Start the clock now, as if ``elapsed`` seconds of the phase had already run (resume)."""
        self._t0 = time.perf_counter() - float(elapsed)
        self.reason = ""
        return self

    @property
    def elapsed(self) -> float:
        """Seconds of the training phase so far (including time before a resume)."""
        return time.perf_counter() - self._t0

    def progress(self, step: int) -> float:
        """How far training is, in [0, 1]: the larger of step / max_steps and elapsed / budget."""
        by_steps = step / self.max_steps if self.max_steps else 0.0
        by_time = self.elapsed / self.budget if self.budget else 0.0
        return min(1.0, max(by_steps, by_time))

    def check(self, step: int) -> bool:
        """True when training must stop before ``step``; the reason is then in :attr:`reason`."""
        reason = ""
        if self.run is not None and self.run.should_stop():
            reason = self.run.stop.reason if self.run.stop.reason in REASONS else "interrupted"
        elif self.budget is not None and step > 0 and self.elapsed >= self.budget:
            reason = "budget"  # never before step 0: how long the set-up took must not decide if a run trains
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

    def step(self) -> "_Timed":
        """A context manager timing one step."""
        return _Timed(self)

    def add(self, seconds: float) -> None:
        """Record one step's duration (seconds)."""
        self.total += seconds
        if self.skipped < self.skip:
            self.skipped += 1
        else:
            self.samples.append(seconds)

    def stats(self) -> TimingStats | None:
        """Statistics of the recorded steps, or None before the first one past warm-up."""
        return TimingStats.from_samples(self.samples) if self.samples else None

    def state_dict(self) -> dict[str, Any]:
        """For checkpoints: the samples so far, so a resumed run's statistics cover all steps."""
        return {"samples": list(self.samples), "skipped": self.skipped, "total": self.total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.samples = [float(s) for s in state.get("samples", [])]
        self.skipped = int(state.get("skipped", 0))
        self.total = float(state.get("total", 0.0))


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
