"""Old module paths of lmbench that moved, kept importable for one release with a DeprecationWarning.

:data:`MOVED` maps each old dotted name to its new one; a name below an old package maps to the
same name below the new one (``lmbench.launchers.slurm`` -> ``lmbench.launch.slurm``).
:func:`install` puts :class:`MovedFinder` first on ``sys.meta_path`` (``lmbench/__init__`` calls
it), so ``import lmbench.config`` warns once and hands back the very module object of
``lmbench.spec.config``: one module, two names, no second copy of its state. No file is left at
an old path. Plugins import from ``lmbench`` itself, never from these paths (docs/plugins.md).

This module is part of the ground: it imports nothing of lmbench.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

__all__ = ["MOVED", "new_name", "MovedFinder", "install"]

#: Old dotted module name -> new one. Remove an entry one release after its move.
MOVED: dict[str, str] = {
    "lmbench.sweep": "lmbench.launch.sweep",
    "lmbench.launchers": "lmbench.launch",
    "lmbench.noise": "lmbench.stats.noise",
    "lmbench.points": "lmbench.stats.points",
    "lmbench.compare": "lmbench.stats.compare",
    "lmbench.store_engine": "lmbench.store.engine",
    "lmbench.store_schema": "lmbench.store.schema",
    "lmbench.store_writes": "lmbench.store.writes",
    "lmbench.store_leases": "lmbench.store.leases",
    "lmbench.store_merge": "lmbench.store.merge",
    "lmbench.store_pgtest": "lmbench.store.pgtest",
    "lmbench.lease": "lmbench.store.lease",
    "lmbench.migrations": "lmbench.store.migrations",
    "lmbench.runner": "lmbench.run.runner",
    "lmbench.context": "lmbench.run.context",
    "lmbench.preflight": "lmbench.run.preflight",
    "lmbench.identity": "lmbench.run.identity",
    "lmbench.checkpoint": "lmbench.run.checkpoint",
    "lmbench.distributed": "lmbench.run.distributed",
    "lmbench.progress": "lmbench.run.progress",
    "lmbench.sources": "lmbench.run.sources",
    "lmbench.metric_feed": "lmbench.run.metric_feed",
    "lmbench.config": "lmbench.spec.config",
    "lmbench.validate": "lmbench.spec.validate",
    "lmbench.limits": "lmbench.spec.limits",
    "lmbench.hookspecs": "lmbench.plugin.hookspecs",
    "lmbench.registry": "lmbench.plugin.registry",
    "lmbench.components": "lmbench.plugin.components",
    "lmbench.plugins": "lmbench.plugin.host",
    "lmbench.builtin": "lmbench.plugin.builtin",
    "lmbench.assets": "lmbench.plugin.assets",
    "lmbench.results": "lmbench.plugin.results",
    "lmbench.recipes": "lmbench.plugin.recipes",
}


def new_name(old: str) -> str | None:
    """The current name of the module once called ``old``, or None if ``old`` did not move."""
    if old in MOVED:
        return MOVED[old]
    head, _, tail = old.rpartition(".")
    while head:
        if head in MOVED:
            return f"{MOVED[head]}.{old[len(head) + 1:]}"
        head, _, _ = head.rpartition(".")
    return None


class _AliasLoader(importlib.abc.Loader):
    """Loads an old name as the module already known under its new name."""

    def __init__(self, new: str) -> None:
        self.new = new
        self._spec: Any = None

    def create_module(self, spec: Any) -> ModuleType:
        warnings.warn(f"{spec.name} has moved to {self.new}; import from there (plugins: from `lmbench` itself). "
                      "The old path goes in the next release.", DeprecationWarning, stacklevel=2)
        module = importlib.import_module(self.new)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system stamped the old name's spec on the module; give it back its own
        module.__spec__ = self._spec


class MovedFinder(importlib.abc.MetaPathFinder):
    """Finds old module names of :data:`MOVED` and loads them as their new modules."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith("lmbench."):
            return None
        new = new_name(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def install() -> None:
    """Put one :class:`MovedFinder` first on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedFinder())
