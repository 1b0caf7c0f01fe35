"""Plugin loading: a pluggy manager over the ``lmbench`` entry points, with isolation.

:func:`make_host` builds a :class:`PluginHost` (never at import time). It loads every entry
point of the ``lmbench`` group, honouring ``LMBENCH_PLUGINS`` (comma-separated allow-list) and
``LMBENCH_DISABLE_PLUGINS`` (deny-list). A plugin that fails to import, implements a hook that
does not exist (a misspelling), or raises inside a registration hook is recorded with its error
and left out; the other plugins load. ``lmbench plugins`` shows the record.
"""

from __future__ import annotations

import difflib
import os
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from .. import PROJECT
from . import hookspecs
from ..errors import PluginError
from .registry import KINDS, Registries

ENTRY_POINT_GROUP = "lmbench"
_SPEC_NAMES = sorted(n for n in dir(hookspecs) if n.startswith("lmbench_"))


@dataclass
class PluginInfo:
    """What ``lmbench plugins`` shows for one plugin: where it came from and whether it works."""

    name: str
    module: str
    version: str
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    source: str = "entry point"

    @property
    def ok(self) -> bool:
        return self.error is None


def _env_list(var: str) -> set[str] | None:
    raw = os.environ.get(var, "").strip()
    return {p.strip() for p in raw.split(",") if p.strip()} if raw else None


class PluginHost:
    """A pluggy manager, what each plugin contributed, and the registries they filled.

    Registries are filled on first access to :attr:`registries`, one plugin at a time, so that
    one plugin raising in a registration hook cannot take the others down.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._registries: Registries | None = None

    # -- loading -------------------------------------------------------------------------
    def register(self, plugin: Any, name: str, *, version: str | None = None, source: str = "inline") -> PluginInfo:
        """Register a plugin object (usually a module) under ``name``; errors are recorded."""
        module = getattr(plugin, "__name__", type(plugin).__name__)
        info = PluginInfo(name, module, version or str(getattr(plugin, "__version__", "0")), source=source)
        self.plugins[name] = info
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validation error: bad signature for a known hook
            info.error = f"{type(exc).__name__}: {exc}"
            return info
        unknown = [hc.name for hc in self.pm.get_hookcallers(plugin) or [] if not hc.has_spec()]
        if unknown:
            hints = []
            for hook in unknown:
                close = difflib.get_close_matches(hook, _SPEC_NAMES, n=1)
                hints.append(f"{hook}" + (f" (did you mean {close[0]}?)" if close else ""))
            info.error = "implements unknown hook(s): " + ", ".join(hints)
            self.pm.unregister(plugin)
            return info
        info.hooks = sorted(hc.name for hc in self.pm.get_hookcallers(plugin) or [])
        self._registries = None
        return info

    def load_entry_points(self) -> None:
        """Load the ``lmbench`` entry points, filtered by the allow/deny environment variables."""
        allow, deny = _env_list("LMBENCH_PLUGINS"), _env_list("LMBENCH_DISABLE_PLUGINS") or set()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if (allow is not None and ep.name not in allow) or ep.name in deny:
                continue
            if ep.name in self.plugins:  # two distributions claim one plugin name
                first = self.plugins[ep.name]
                key = f"{ep.name} ({ep.value})"
                self.plugins[key] = PluginInfo(key, ep.value, "?", error=(
                    f"plugin name '{ep.name}' is already taken by {first.module}; uninstall or rename one of them"))
                continue
            version = ep.dist.version if ep.dist is not None else "?"
            try:
                module = ep.load()
            except Exception as exc:
                self.plugins[ep.name] = PluginInfo(ep.name, ep.value, version, error=_one_line(exc),
                                                   source="entry point")
                continue
            self.register(module, ep.name, version=version, source="entry point")

    # -- registries ------------------------------------------------------------------------
    @property
    def registries(self) -> Registries:
        """Every kind's registry, filled by calling each plugin's registration hooks."""
        if self._registries is None:
            registries = Registries()
            for kind in KINDS:
                self._fill(kind, registries[kind])
            self._registries = registries
        return self._registries

    def _fill(self, kind: str, registry: Any) -> None:
        hook = getattr(self.pm.hook, f"lmbench_register_{kind}")
        for impl in reversed(hook.get_hookimpls()):  # registration order
            info = self.plugins.get(impl.plugin_name)
            if info is not None and info.error:
                continue
            try:
                impl.function(**{a: registry.bound(impl.plugin_name) for a in impl.argnames})
            except PluginError:
                raise  # a contract violation such as a name collision: the user must act
            except Exception as exc:
                if info is not None:
                    info.error = f"lmbench_register_{kind} raised {_one_line(exc)}"
                for name in [n for n, e in registry.entries.items() if e.plugin == impl.plugin_name]:
                    del registry.entries[name]

    @property
    def versions(self) -> dict[str, str]:
        """Plugin name -> version for every plugin that loaded; part of each run's id."""
        return {n: p.version for n, p in sorted(self.plugins.items()) if p.ok}

    # -- run hooks -----------------------------------------------------------------------
    def call(self, hook_name: str, *, strict: bool = False, **kwargs: Any) -> list[str]:
        """Call a run hook on every plugin; return the errors. ``strict`` raises the first."""
        errors = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            try:
                impl.function(**{a: kwargs[a] for a in impl.argnames})
            except Exception as exc:
                message = f"plugin '{impl.plugin_name}' failed in {hook_name}: {_one_line(exc)}"
                if strict:
                    raise PluginError(message) from exc
                errors.append(message)
        return errors


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0] if text else type(exc).__name__


def make_host(*, entry_points: bool = True, plugins: dict[str, Any] | None = None) -> PluginHost:
    """Build a plugin host: entry-point plugins (unless ``entry_points=False``) plus inline ones."""
    host = PluginHost()
    for name, plugin in (plugins or {}).items():
        host.register(plugin, name)
    if entry_points:
        host.load_entry_points()
    return host


_default_host: PluginHost | None = None


def default_host() -> PluginHost:
    """The process-wide host the CLI uses, built on first use."""
    global _default_host
    if _default_host is None:
        _default_host = make_host()
    return _default_host


def set_default_host(host: PluginHost | None) -> None:
    """Replace (or with ``None`` reset) the process-wide host; used by tests."""
    global _default_host
    _default_host = host


def format_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
