"""`lmbench` itself is the one public surface for plugins: labs and the example import only from it.

Every name in ``lmbench.__all__`` resolves; importing ``lmbench`` loads no heavy library; and no
file under ``plugins/`` or ``examples/`` imports any ``lmbench.<module>`` (AST walk: function-local
and type-only imports count too), so the harness's inside can move without breaking a plugin.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import lmbench

ROOT = Path(__file__).resolve().parents[2]


def _deep_imports(path: Path) -> list[str]:
    """``file:line: import`` for each import of a module below ``lmbench`` in ``path``."""
    found = []
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{shown}:{node.lineno}: {name}" for name in names if name.startswith("lmbench.")]
    return found


def test_plugins_and_examples_import_only_the_public_surface():
    files = sorted(p for d in ("plugins", "examples") for p in (ROOT / d).rglob("*.py"))
    assert len(files) > 50
    deep = [line for p in files for line in _deep_imports(p)]
    assert not deep, ("import these names from `lmbench` itself (its __all__; docs/plugins.md), "
                      "not from its modules:\n" + "\n".join(deep))


def test_the_walk_sees_a_deep_import(tmp_path):
    bad = tmp_path / "probe.py"
    bad.write_text("import lmbench\ndef f():\n    from lmbench.errors import ConfigError\n")
    assert _deep_imports(bad) == ["probe.py:3: lmbench.errors"]


def test_every_public_name_resolves():
    missing = [name for name in lmbench.__all__ if not hasattr(lmbench, name)]
    assert not missing
    assert lmbench.Run.__name__ == "Run"
    assert set(lmbench.__all__) <= set(dir(lmbench))


def test_unknown_name_is_an_attribute_error():
    try:
        lmbench.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("lmbench.no_such_name resolved")


def test_import_lmbench_loads_no_heavy_library():
    code = ("import sys, lmbench; lmbench.hookimpl; lmbench.ConfigError\n"
            "heavy = sorted({'torch', 'numpy', 'sqlalchemy', 'matplotlib', 'scipy'} & set(sys.modules))\n"
            "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_docs_list_every_public_name():
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = text[text.index("## What a plugin may import"):text.index("## Factories and configs")]
    missing = [name for name in lmbench.__all__ if f"`{name}`" not in section]
    assert not missing, f"add to docs/plugins.md, 'What a plugin may import': {missing}"
