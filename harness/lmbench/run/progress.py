"""Progress display on stderr with rich: one bar per task, the latest logged metrics beside it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class ProgressDisplay:
    """A rich Progress that recipes drive through ``run.progress(...)`` and ``run.log(...)``."""

    def __init__(self, console: Any):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[metrics]}"),
                                 console=console, transient=True)
        self._task: Any = None

    def __enter__(self) -> "ProgressDisplay":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    @contextmanager
    def task(self, total: int | None, description: str) -> Iterator[Callable[..., None]]:
        """Add a bar; yield ``advance(n=1)``; remove the bar when the block ends."""
        task = self.progress.add_task(description, total=total, metrics="")
        previous, self._task = self._task, task
        try:
            yield lambda n=1: self.progress.advance(task, n)
        finally:
            self.progress.remove_task(task)
            self._task = previous

    def update_fields(self, values: dict[str, Any]) -> None:
        """Show the latest logged numbers next to the current bar."""
        if self._task is None:
            return
        shown = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(values.items())[:4])
        self.progress.update(self._task, metrics=shown)
