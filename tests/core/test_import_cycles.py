"""No import circles in the harness or the labs (docs/architecture.md).

The import graph of ``harness/`` and ``plugins/`` is read from the source (AST), not by importing
it: every ``import``/``from ... import``, at module level or inside a function, is an arrow from the
importing module to the module it names (``from pkg import sub`` names ``pkg.sub`` when that is a
module). Imports under ``if TYPE_CHECKING:`` are type-only and left out. Any strongly connected set
of two or more modules is a circle, and the test names one loop through each.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules(roots: list[Path]) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's __init__) for every .py file under ``roots``."""
    found = {}
    for root in roots:
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            package = parts[-1] == "__init__"
            if package:
                parts = parts[:-1]
            if parts and "__pycache__" not in parts:
                found[".".join(parts)] = (path, package)
    return found


def _type_only(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).split(".")[-1] == "TYPE_CHECKING":
            for child in node.body:
                inside |= {id(n) for n in ast.walk(child)}
    return inside


def import_graph(roots: list[Path]) -> dict[str, set[str]]:
    """Module -> the modules (of ``roots``) it imports at run time."""
    modules = _modules(roots)

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        skip = _type_only(tree)
        targets: set[str | None] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                targets |= {known(a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if package else name.split(".")[:-1]
                    base = base[:len(base) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                subs = {f"{source}.{a.name}" for a in node.names} & modules.keys()
                targets |= subs
                if len(subs) < len(node.names):
                    targets.add(known(source))
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One loop (first module repeated at the end) through each circle of two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.add(w)
                if w == v:
                    break
            if len(part) > 1:
                circles.append(part)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    loops = []
    for part in circles:  # walk inside the circle from its first module back to it
        start = min(part)
        path, seen = [start], {start}
        while True:
            step = sorted(w for w in graph[path[-1]] if w in part)
            if start in step and len(path) > 1:
                loops.append(path + [start])
                break
            nxt = next((w for w in step if w not in seen), step[0])
            if nxt in seen:
                loops.append(path[path.index(nxt):] + [nxt])
                break
            path.append(nxt)
            seen.add(nxt)
    return loops


def test_harness_and_labs_have_no_import_circles():
    graph = import_graph([ROOT / "harness", ROOT / "plugins"])
    assert "lmbench.run.runner" in graph and "lmbench_lm.train" in graph
    found = cycles(graph)
    assert not found, ("import circles (break each: move the shared part down, pass it in, or import it "
                       "under TYPE_CHECKING if it is only a type):\n" + "\n".join(" -> ".join(c) for c in found))


def test_a_circle_is_found_and_named(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .c import g\n")  # function-local imports count
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nimport pkg.a\nif TYPE_CHECKING:\n    from . import d\n")
    (pkg / "d.py").write_text("from pkg import c\n")  # only a type-only arrow comes back: no circle
    assert cycles(import_graph([tmp_path])) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


#: Part -> the parts it may import (docs/architecture.md, "The arrows"); each package's __init__
#: docstring says the same in words. ``ground`` is the top-level modules that import nothing above.
GROUND = {"errors", "numbers", "files", "cache", "hub", "moved", "redact"}
MAY_IMPORT = {
    "ground": set(),
    "lmbench": {"ground"},
    "store": {"ground", "lmbench"},
    "measure": {"ground"},
    "plugin": {"ground", "lmbench"},
    "spec": {"ground", "plugin"},
    "training": {"ground", "measure", "spec"},
    "run": {"ground", "lmbench", "plugin", "spec", "store", "measure"},
    "stats": {"ground", "plugin", "store", "run"},  # run: only stats.noise, which reruns a spec
    "report": {"ground", "plugin", "stats", "store"},
    "launch": {"ground", "plugin", "run", "spec", "stats", "store"},
    "testing": {"lmbench", "plugin", "run", "store"},
    "ui": {"ground", "plugin", "stats", "store", "report"},
    "cli": {"ground", "lmbench", "plugin", "spec", "run", "training", "measure", "store", "stats", "launch",
            "report", "ui"},
}


def _part(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "lmbench"
    return "ground" if parts[1] in GROUND else parts[1]


def test_each_part_imports_only_the_parts_below_it():
    graph = {m: t for m, t in import_graph([ROOT / "harness"]).items() if m.startswith("lmbench")}
    homeless = sorted(m for m in graph if _part(m) not in MAY_IMPORT)
    assert not homeless, ("modules in no part: move each into the part it belongs to (docs/architecture.md) "
                          "or, if it imports nothing above the ground, add it to GROUND: " + ", ".join(homeless))
    wrong = sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets
                   if _part(t) != _part(m) and _part(t) not in MAY_IMPORT[_part(m)])
    assert not wrong, "imports against the arrows of docs/architecture.md:\n" + "\n".join(wrong)
    stats_to_run = {m for m, targets in graph.items() if _part(m) == "stats" and any(_part(t) == "run" for t in targets)}
    assert stats_to_run <= {"lmbench.stats.noise"}, stats_to_run
