"""The Weights & Biases reporter (``core.wandb``): one W&B run per lmbench run, offline by default.

``wandb`` is not a dependency of lmbench (``pip install wandb``). Unless ``WANDB_MODE`` is set,
runs are written in offline mode under ``out_dir/wandb`` (no network, no account);
``wandb sync out_dir/wandb/offline-run-*`` uploads them later.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..stats.points import run_name
from ..errors import LmbenchError
from ..store import RunRecord, Store


@dataclass
class WandbConfig:
    """Options of the W&B reporter."""

    project: str = "lmbench"
    mode: str = "offline"  # offline (default, no network), online, disabled; WANDB_MODE overrides


class WandbReporter:
    """Replays each run's per-step metrics into W&B, with the spec as config and results as summary."""

    Config = WandbConfig

    def __init__(self, config: WandbConfig | None = None):
        self.config = config or WandbConfig()

    def write(self, runs: list[RunRecord], out_dir: Path, store: Store) -> list[Path]:
        """Log every run; return the W&B run folders written under ``out_dir``."""
        if importlib.util.find_spec("wandb") is None:
            raise LmbenchError("the wandb reporter needs the wandb package: pip install wandb")
        import wandb

        mode = os.environ.get("WANDB_MODE", self.config.mode)
        root = Path(out_dir)
        root.mkdir(parents=True, exist_ok=True)
        paths = []
        for record in runs:
            run = wandb.init(project=self.config.project, name=run_name(record), id=record.id, dir=str(root), mode=mode,
                             config=record.spec, tags=[record.status], notes=record.command or None)
            try:
                by_step: dict[int, dict[str, float]] = {}
                for key, points in store.steps(record.id).items():
                    for step, value in points:
                        if math.isfinite(value):
                            by_step.setdefault(step, {})[key] = value
                for step in sorted(by_step):
                    run.log(by_step[step], step=step)
                run.summary["status"] = record.status
                if record.reason:
                    run.summary["reason"] = record.reason
                for key, value in record.results.items():
                    run.summary[key] = value
                paths.append(Path(run.dir).parent if run.dir else root)
            finally:
                run.finish(exit_code=0 if record.ok else 1)
        return paths
