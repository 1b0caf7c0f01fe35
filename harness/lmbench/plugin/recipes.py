"""Recipes of the ``core`` plugin, for measuring and testing the harness itself (no torch)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..errors import NonFiniteError


@dataclass
class NoopConfig:
    """Options of ``core.noop``."""

    steps: int = 100
    nan_at: int = -1  # produce a NaN loss at this step (fault injection); -1 never
    fail_at: int = -1  # raise RuntimeError at this step (fault injection); -1 never


class NoopRecipe:
    """Logs ``steps`` steps of a constant loss and does nothing else: the harness's own cost."""

    Config = NoopConfig

    def __init__(self, config: NoopConfig):
        self.config = config

    def run(self, run: Any) -> dict[str, Any]:
        """Log each step; stop early when asked; return the number of steps done."""
        done = 0
        with run.progress(self.config.steps, "noop") as advance:
            for step in range(self.config.steps):
                if run.should_stop():
                    break
                loss = float("nan") if step == self.config.nan_at else 1.0 / (step + 1)
                if step == self.config.fail_at:
                    raise RuntimeError(f"injected failure at step {step}")
                run.check_finite("loss", loss, step)
                run.log(step, loss=loss)
                advance()
                done += 1
        return {"steps": done, "final_loss": 1.0 / max(done, 1)}


@dataclass
class SleepConfig:
    """Options of ``core.sleep``."""

    steps: int = 5
    seconds: float = 0.01


class SleepRecipe:
    """Sleeps ``seconds`` per step and times it: a known duration for timing, timeout and launcher tests.

    It checkpoints its step after each one and resumes from it, so a pre-empted, killed or
    requeued run continues where it stopped (``resumed_from`` says where) and ends with the same
    ``steps`` as an uninterrupted one.
    """

    Config = SleepConfig

    def __init__(self, config: SleepConfig):
        self.config = config

    def run(self, run: Any) -> dict[str, Any]:
        """Sleep per step, logging and checkpointing; return the steps done and the median step time."""
        saved = run.load_checkpoint("last")
        start = int(saved["step"]) if saved else 0
        done = start
        for step in range(start, self.config.steps):
            if run.should_stop():
                break
            time.sleep(self.config.seconds)
            run.log(step, slept=self.config.seconds)
            done = step + 1
            run.save_checkpoint({"step": done}, "last")
        stats = run.time(lambda: time.sleep(self.config.seconds), name="sleep", warmup=1, min_iters=3, min_seconds=0.0)
        return {"steps": done, "resumed_from": start, "step_time_ms": stats.median * 1e3}


__all__ = ["NoopRecipe", "SleepRecipe", "NonFiniteError"]
