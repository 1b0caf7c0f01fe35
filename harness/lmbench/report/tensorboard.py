"""The TensorBoard reporter (``core.tensorboard``): event files of per-step metrics and results.

Uses ``torch.utils.tensorboard``, which needs the ``tensorboard`` package (not a dependency of
lmbench: ``pip install tensorboard``). One folder per run under ``out_dir/tensorboard``; open with
``tensorboard --logdir out_dir/tensorboard``.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..stats.points import run_name
from ..errors import LmbenchError
from ..store import RunRecord, Store
from .plots import slug


@dataclass
class TensorBoardConfig:
    """Options of the TensorBoard reporter."""

    subdir: str = "tensorboard"


def _require() -> None:
    if importlib.util.find_spec("tensorboard") is None:
        raise LmbenchError("the tensorboard reporter needs the tensorboard package: pip install tensorboard")


class TensorBoardReporter:
    """Writes one TensorBoard run per lmbench run: steps as scalars, results as hparams, spec as text."""

    Config = TensorBoardConfig

    def __init__(self, config: TensorBoardConfig | None = None):
        self.config = config or TensorBoardConfig()

    def write(self, runs: list[RunRecord], out_dir: Path, store: Store) -> list[Path]:
        """Write event files; return the per-run log folders."""
        _require()
        from torch.utils.tensorboard import SummaryWriter

        root = Path(out_dir) / self.config.subdir
        paths = []
        for record in runs:
            logdir = root / f"{slug(run_name(record))}-{record.id}"
            writer = SummaryWriter(log_dir=str(logdir))
            try:
                for key, points in store.steps(record.id).items():
                    for step, value in points:
                        if math.isfinite(value):
                            writer.add_scalar(key, value, step)
                writer.add_text("spec", "```\n" + json.dumps(record.spec, indent=2) + "\n```")
                writer.add_text("status", f"{record.status}: {record.reason or ''}; command: `{record.command}`")
                metrics = {f"result/{k}": float(v) for k, v in record.results.items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
                hparams = {k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                           for k, v in _flat(record.spec).items()}
                if metrics:
                    writer.add_hparams(hparams, metrics, run_name=".")
            finally:
                writer.close()
            paths.append(logdir)
        return paths


def _flat(spec: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in spec.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif not isinstance(value, list):
            out[f"{prefix}{key}"] = value
        else:
            out[f"{prefix}{key}"] = json.dumps(value)
    return out
