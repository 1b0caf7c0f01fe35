"""pytest fixtures for plugin authors (loaded through the ``pytest11`` entry point).

- ``lmbench_host``: a fresh plugin host with no entry points, only the ``core`` plugin; register
  inline plugins with ``lmbench_host.register(module_or_object, "name")``. It is thrown away
  after the test, so nothing leaks between tests.
- ``lmbench_entry_point_host``: a fresh host with every installed plugin.
- ``run_experiment``: ``run_experiment(spec, host=None) -> list[RunRecord]`` runs a spec end to
  end into a temporary store (``tmp_path / "runs"``), as ``lmbench run`` would.

``fresh_host`` and ``run_spec`` are plain functions that work without pytest (``import
lmbench.testing`` in a script or notebook); the fixtures are defined only where pytest is
installed. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .plugin import builtin
from .plugin.host import PluginHost, make_host
from .store import RunRecord, Store

__all__ = ["fresh_host", "run_spec"]


def fresh_host(*, entry_points: bool = False, plugins: dict[str, Any] | None = None) -> PluginHost:
    """A new host: the core plugin, the given inline plugins, and (optionally) entry points."""
    return make_host(entry_points=entry_points, plugins={"core": builtin, **(plugins or {})})


def run_spec(spec: dict[str, Any], store_dir: str | Path, *, host: PluginHost | None = None,
             force: bool = False, only: tuple[str, ...] = ()) -> list[RunRecord]:
    """Run ``spec`` (a dict as in a TOML spec file) into the store at ``store_dir``."""
    from .run.runner import Runner

    store = Store(store_dir)
    try:
        runner = Runner(store, host or fresh_host(entry_points=True), force=force, progress=False)
        _, records = runner.run_spec(spec, command="pytest", only=only)
        return records
    finally:
        store.close()


try:
    import pytest
except ImportError:  # outside a test session: the functions above still work
    pytest = None

if pytest is not None:

    @pytest.fixture
    def lmbench_host() -> PluginHost:
        """A fresh plugin host without entry points (core plugin only)."""
        return fresh_host()

    @pytest.fixture
    def lmbench_entry_point_host() -> PluginHost:
        """A fresh plugin host with every installed plugin."""
        return fresh_host(entry_points=True)

    @pytest.fixture
    def run_experiment(tmp_path: Path) -> Callable[..., list[RunRecord]]:
        """Run a spec end to end into ``tmp_path / "runs"``; returns the run records."""

        def _run(spec: dict[str, Any], host: PluginHost | None = None, **kwargs: Any) -> list[RunRecord]:
            return run_spec(spec, tmp_path / "runs", host=host, **kwargs)

        return _run
