"""Old module paths (``lmbench.moved.MOVED``) import, warn, and are the very module of the new path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lmbench.moved import MOVED, new_name

_CHECK = r"""
import importlib, json, sys, warnings
from lmbench import moved
moved.MOVED.setdefault("lmbench._old_probe", "lmbench.numbers")  # one entry even before any move
bad = []
for old, new in sorted(moved.MOVED.items()):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    if module is not importlib.import_module(new):
        bad.append(f"{old}: not the module of {new}")
    if module.__spec__.name != new:
        bad.append(f"{old}: its spec names {module.__spec__.name}")
    if not any(w.category is DeprecationWarning and new in str(w.message) for w in caught):
        bad.append(f"{old}: no DeprecationWarning naming {new}")
    if sys.modules[old] is not sys.modules[new]:
        bad.append(f"{old}: two entries in sys.modules")
print(json.dumps(bad))
"""


def test_every_old_path_imports_warns_and_is_the_same_module():
    proc = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_names_below_a_moved_package_follow_it(monkeypatch):
    monkeypatch.setitem(MOVED, "lmbench._old_pkg", "lmbench._new_pkg")
    assert new_name("lmbench._old_pkg") == "lmbench._new_pkg"
    assert new_name("lmbench._old_pkg.sub.leaf") == "lmbench._new_pkg.sub.leaf"
    assert new_name("lmbench._old_pkgx") is None
    assert new_name("lmbench.errors") is None


def test_from_import_of_an_old_path_warns_in_the_importing_file(tmp_path):
    code = ("import warnings, lmbench.moved as m\n"
            "m.MOVED['lmbench._old_probe'] = 'lmbench.numbers'\n"
            "warnings.simplefilter('error')\n"
            "try:\n"
            "    from lmbench._old_probe import fmt_number\n"
            "except DeprecationWarning as w:\n"
            "    print('warned', w)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "warned lmbench._old_probe has moved to lmbench.numbers" in proc.stdout, proc.stderr


def test_rewrite_source_moves_absolute_names_and_relative_imports():
    from lmbench.moved import rewrite_source

    text = ("from lmbench.config import Seconds\n"
            "import lmbench.launchers.slurm\n"
            "TARGET = 'lmbench.plugins:default_host'\n"
            "from lmbench.store import Store\n")
    new, by_hand = rewrite_source(text)
    assert new == ("from lmbench.spec.config import Seconds\n"
                   "import lmbench.launch.slurm\n"
                   "TARGET = 'lmbench.plugin.host:default_host'\n"
                   "from lmbench.store import Store\n")
    assert by_hand == []

    top = "from .config import Seconds\nfrom .errors import ConfigError\nfrom . import runner\n"
    new, by_hand = rewrite_source(top, "lmbench.newmod")
    assert new.splitlines()[:2] == ["from .spec.config import Seconds", "from .errors import ConfigError"]
    assert by_hand == ["3: from . import ... (a moved module)"]

    nested = "from ..store_schema import runs\nfrom ..runner import Runner\n"
    assert rewrite_source(nested, "lmbench.cli.extra")[0] == ("from ..store.schema import runs\n"
                                                              "from ..run.runner import Runner\n")


def test_main_rewrites_a_file_in_place(tmp_path, capsys):
    from lmbench.moved import main

    module = tmp_path / "lmbench" / "report" / "extra.py"
    module.parent.mkdir(parents=True)
    module.write_text("from ..points import run_name\n")
    assert main([str(module)]) == 0
    assert module.read_text() == "from ..stats.points import run_name\n"
    assert "rewrote" in capsys.readouterr().out
    import lmbench.moved

    table = Path(lmbench.moved.__file__).read_text()
    assert main([lmbench.moved.__file__]) == 0 and Path(lmbench.moved.__file__).read_text() == table
