"""The CSV reporter (``core.csv``): ``results.csv``, one row per run with every final result."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..stats.points import run_name
from ..store import RunRecord, Store
from .tables import status_text

FIXED = ["run_id", "label", "status", "status_text", "reason", "seed", "command"]


@dataclass
class CsvConfig:
    """Options of the CSV reporter."""

    filename: str = "results.csv"
    steps: bool = True  # also write steps.csv (run_id, step, key, value): the learning curves


class CsvReporter:
    """Writes ``results.csv`` (runs x results) and ``steps.csv`` (per-step metrics, long format)."""

    Config = CsvConfig

    def __init__(self, config: CsvConfig | None = None):
        self.config = config or CsvConfig()

    def write(self, runs: list[RunRecord], out_dir: Path, store: Store) -> list[Path]:
        """Write the CSV file(s); failed runs are rows with their status, and empty results."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        keys: list[str] = []
        for record in runs:
            keys += [k for k in record.results if k not in keys]
        path = out_dir / self.config.filename
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(FIXED + keys)
            for r in runs:
                fixed = [r.id, run_name(r), r.status, status_text(r, max_len=500), r.reason or "",
                         r.spec.get("run", {}).get("seed", ""), r.command]
                writer.writerow(fixed + [_cell(r.results.get(k)) for k in keys])
        paths = [path]
        if self.config.steps:
            steps_path = out_dir / "steps.csv"
            with steps_path.open("w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["run_id", "label", "step", "key", "value"])
                for r in runs:
                    for key, points in store.steps(r.id).items():
                        for step, value in points:
                            writer.writerow([r.id, run_name(r), step, key, _cell(value)])
            paths.append(steps_path)
        return paths


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "nan"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
