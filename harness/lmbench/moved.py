"""Old module paths of lmbench that moved, kept importable for one release with a DeprecationWarning.

:data:`MOVED` maps each old dotted name to its new one; a name below an old package maps to the
same name below the new one (``lmbench.launchers.slurm`` -> ``lmbench.launch.slurm``).
:func:`install` puts :class:`MovedFinder` first on ``sys.meta_path`` (``lmbench/__init__`` calls
it), so ``import lmbench.config`` warns once and hands back the very module object of
``lmbench.spec.config``: one module, two names, no second copy of its state. No file is left at
an old path. Plugins import from ``lmbench`` itself, never from these paths (docs/plugins.md).

:func:`main` rewrites old module names in source files to the new ones: absolute names anywhere
in the text and, for a file under an ``lmbench/`` folder, relative imports too::

    python -c "import sys, lmbench.moved as m; m.main(sys.argv[1:])" FILE...

This module is part of the ground: it imports nothing of lmbench.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.util
import re
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["MOVED", "new_name", "MovedFinder", "install", "rewrite_source", "main"]

#: Old dotted module name -> new one. Remove an entry one release after its move.
MOVED: dict[str, str] = {
    "lmbench.assets": "lmbench.plugin.assets",
    "lmbench.builtin": "lmbench.plugin.builtin",
    "lmbench.components": "lmbench.plugin.components",
    "lmbench.hookspecs": "lmbench.plugin.hookspecs",
    "lmbench.plugins": "lmbench.plugin.host",
    "lmbench.recipes": "lmbench.plugin.recipes",
    "lmbench.registry": "lmbench.plugin.registry",
    "lmbench.results": "lmbench.plugin.results",
    "lmbench.config": "lmbench.spec.config",
    "lmbench.limits": "lmbench.spec.limits",
    "lmbench.validate": "lmbench.spec.validate",
    "lmbench.checkpoint": "lmbench.run.checkpoint",
    "lmbench.context": "lmbench.run.context",
    "lmbench.distributed": "lmbench.run.distributed",
    "lmbench.identity": "lmbench.run.identity",
    "lmbench.metric_feed": "lmbench.run.metric_feed",
    "lmbench.preflight": "lmbench.run.preflight",
    "lmbench.progress": "lmbench.run.progress",
    "lmbench.runner": "lmbench.run.runner",
    "lmbench.sources": "lmbench.run.sources",
    "lmbench.lease": "lmbench.store.lease",
    "lmbench.migrations": "lmbench.store.migrations",
    "lmbench.store_engine": "lmbench.store.engine",
    "lmbench.store_leases": "lmbench.store.leases",
    "lmbench.store_merge": "lmbench.store.merge",
    "lmbench.store_pgtest": "lmbench.store.pgtest",
    "lmbench.store_schema": "lmbench.store.schema",
    "lmbench.store_writes": "lmbench.store.writes",
    "lmbench.compare": "lmbench.stats.compare",
    "lmbench.noise": "lmbench.stats.noise",
    "lmbench.points": "lmbench.stats.points",
    "lmbench.launchers": "lmbench.launch",
    "lmbench.sweep": "lmbench.launch.sweep",
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


_OLD = re.compile(r"\blmbench(?:\.\w+)+(?![\w])")


def _module_of(path: Path) -> tuple[str, bool] | None:
    """``(dotted name, is a package)`` of a file inside an ``lmbench`` package folder, else None."""
    parts = list(path.resolve().with_suffix("").parts)
    if "lmbench" not in parts:
        return None
    parts = parts[len(parts) - parts[::-1].index("lmbench") - 1:]
    package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if package else parts), package


def rewrite_source(text: str, module: str | None = None, package: bool = False) -> tuple[str, list[str]]:
    """``text`` with every old module name replaced by its new one, and the lines to fix by hand.

    With ``module`` (the file's own dotted name under ``lmbench``) relative imports are rewritten
    as well, staying relative. ``from pkg import old_module`` cannot be rewritten safely when the
    module was also renamed; it is returned in the second list instead.
    """
    def new_dotted(name: str) -> str:  # a module's or a module attribute's new name
        return new_name(name) or name

    lines, by_hand = text.splitlines(keepends=True), []
    if module is not None:
        here = module.split(".") if package else module.split(".")[:-1]
        for node in ast.walk(ast.parse(text)):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                continue
            base = here[:len(here) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
            if new_name(source) is None and any(new_name(f"{source}.{a.name}") for a in node.names):
                by_hand.append(f"{node.lineno}: from {'.' * node.level}{node.module or ''} import ... (a moved module)")
            target = new_dotted(source).split(".")
            if target == source.split("."):
                continue
            common = 0
            while common < min(len(here), len(target)) and here[common] == target[common]:
                common += 1
            relative = "." * (len(here) - common + 1) + ".".join(target[common:])
            old = "." * node.level + (node.module or "")
            line = lines[node.lineno - 1]
            lines[node.lineno - 1] = re.sub(r"from\s+" + re.escape(old) + r"\s+import", f"from {relative} import",
                                            line, count=1)
    return _OLD.sub(lambda m: new_dotted(m.group(0)), "".join(lines)), by_hand


def main(argv: list[str] | None = None) -> int:
    """Rewrite old module names in the files named by ``argv`` in place; say what changed."""
    for name in argv if argv is not None else sys.argv[1:]:
        path = Path(name)
        if path.resolve() == Path(__file__).resolve():
            continue  # the table itself names the old paths on purpose
        text = path.read_text(encoding="utf-8")
        new, by_hand = rewrite_source(text, *(_module_of(path) or (None, False)))
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {path}")
        for line in by_hand:
            print(f"{path}:{line}: fix by hand")
    return 0
