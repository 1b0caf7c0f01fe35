"""The plugin author's documentation builds with every warning an error, and its reference covers the
contract: every hook specification and every Protocol of the public surface has its page entry."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocstrings", reason="the docs need mkdocs + mkdocstrings[python] (the test extra)")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield out
    shutil.rmtree(out, ignore_errors=True)


def test_every_hook_is_in_the_reference(site):
    from lmbench.plugin import hookspecs

    page = (site / "reference" / "hooks" / "index.html").read_text()
    hooks = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("lmbench_")]
    assert len(hooks) >= 10
    missing = [h for h in hooks if f'id="lmbench.plugin.hookspecs.{h}"' not in page]
    assert not missing, f"hooks without a reference entry: {missing}"


def test_every_public_protocol_is_in_the_reference(site):
    import lmbench

    page = (site / "reference" / "components" / "index.html").read_text()
    protocols = [name for name in lmbench.__all__ if inspect.isclass(obj := getattr(lmbench, name))
                 and (getattr(obj, "_is_protocol", False) or name in ("AttentionCapabilities", "Needs", "Requires"))]
    assert {"CausalLM", "AttentionKernel", "AttentionCapabilities", "Metric", "Recipe"} <= set(protocols)
    missing = [p for p in protocols if f'id="lmbench.{p}"' not in page]
    assert not missing, f"public protocols without a reference entry: {missing}"
