"""``lmbench.testing`` is importable outside a test session (scripts, notebooks)."""

from __future__ import annotations

import subprocess
import sys


def test_import_lmbench_testing_without_pytest():
    code = "import sys; sys.modules['pytest'] = None; import lmbench.testing as t; print(sorted(t.fresh_host().plugins))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['core']"
