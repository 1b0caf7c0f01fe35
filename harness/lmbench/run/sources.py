"""Another stored run, as a recipe may read it: its spec, its components rebuilt, its checkpoints.

``run.stored_run("3fa9c1")`` (a run id, a unique prefix, or a run folder) returns a
:class:`StoredRun`; recipes that continue earlier work (sampling a trained model, exporting it,
loading an adapter) use it instead of reaching into the results store or the resolver.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..spec.config import ResolvedSpec, resolve
from ..errors import ConfigError, LmbenchError
from ..plugin.registry import Registries

__all__ = ["StoredRun", "find_stored_run"]


class StoredRun:
    """A finished or running run of the same store: ``id``, ``dir``, ``spec``, ``recipe`` name."""

    def __init__(self, run_dir: Path, spec: dict[str, Any], registries: Registries):
        self.dir = Path(run_dir)
        self.id = self.dir.name
        self.spec = spec
        self.recipe = str(spec.get("recipe", {}).get("name", ""))
        self._registries = registries
        self._resolved: ResolvedSpec | None = None

    def _resolve(self) -> ResolvedSpec:
        if self._resolved is None:
            self._resolved = resolve({k: v for k, v in self.spec.items() if k != "preset"}, self._registries)
        return self._resolved

    def has(self, table: str) -> bool:
        """Whether the stored spec has this component table."""
        return table in self.spec

    def build(self, table: str, **deps: Any) -> Any:
        """Build a component of the stored spec, as that run did: ``factory(config, **deps)``."""
        resolved = self._resolve()
        if table not in resolved.components:
            raise LmbenchError(f"run {self.id} has no [{table}] table")
        return resolved.components[table].build(**deps)

    def checkpoint_path(self, *names: str) -> Path:
        """The first existing checkpoint among ``names`` (default ``best``, then ``last``)."""
        for name in names or ("best", "last"):
            path = self.dir / "checkpoints" / f"{name}.pt"
            if path.exists():
                return path
        raise LmbenchError(f"run {self.id} has no checkpoint ({', '.join(names or ('best', 'last'))}) under "
                           f"{self.dir / 'checkpoints'}; train it first")

    def load_checkpoint(self, *names: str, map_location: Any = "cpu") -> dict[str, Any]:
        """Load the first existing checkpoint among ``names`` (``weights_only=True``)."""
        from .checkpoint import load_checked

        return load_checked(self.checkpoint_path(*names), map_location=map_location)


def find_stored_run(ref: str | Path, *, store: Any, runs_root: Path, registries: Registries) -> StoredRun:
    """The run named by ``ref``: a run folder path, a run id, or a unique prefix of one."""
    path = Path(ref)
    if path.is_dir() and (path / "spec.json").exists():
        return StoredRun(path, json.loads((path / "spec.json").read_text()), registries)
    ref = str(ref)
    if store is not None:
        matches = [(Path(r.run_dir), r.spec) for r in store.runs() if r.id.startswith(ref)]
    else:  # off rank 0 there is no store handle; the run folders hold each spec
        matches = [(d, json.loads((d / "spec.json").read_text())) for d in sorted(runs_root.glob(f"{ref}*"))
                   if (d / "spec.json").exists()]
    if len(matches) != 1:
        raise ConfigError(f"'{ref}' matches {len(matches)} runs in this store; give a full run id "
                          "(`lmbench list runs`) or a run folder")
    run_dir, spec = matches[0]
    return StoredRun(run_dir, spec, registries)
