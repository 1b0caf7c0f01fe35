"""``core.local``: sweep points on this machine, in order or ``jobs`` at a time in worker processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import LmbenchError
from .base import Point, Submission


@dataclass
class LocalConfig:
    """Options of ``core.local``: ``jobs`` points at once (1 = in this process, one after another)."""

    jobs: int = 1

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise LmbenchError(f"--jobs must be at least 1 (got {self.jobs})")


class LocalLauncher:
    """Run the points here and return when all have ended (the sweep's default)."""

    Config = LocalConfig
    blocking = True

    def __init__(self, config: LocalConfig | None = None):
        self.config = config or LocalConfig()

    def launch(self, store: Any, points: list[Point], *, force: bool = False, console: Any = None,
               runner: Any = None, timeout: float | None = None) -> list[Submission]:
        """In-process with ``jobs == 1`` (``runner`` plans and executes), else worker processes
        (:func:`lmbench.launch.points.run_points`)."""
        from .points import run_points

        run_points(store, points, jobs=self.config.jobs, force=force, console=console, runner=runner,
                   worker_timeout=timeout)
        return [Submission(p.run_id, p.label, None, str(store.run_dir(p.run_id))) for p in points]
