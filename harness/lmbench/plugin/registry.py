"""Typed registries of components, filled by plugin hooks.

Each component kind (datasets, tokenizers, models, attention, recipes, metrics, reporters,
presets, launchers) has one :class:`Registry`. Plugins fill them in ``lmbench_register_<kind>`` hooks with
``registry.add("lstm", "lmbench_lm.models.lstm:LSTMLanguageModel")``; the name is qualified with
the plugin's name (``lm.lstm``) and the target string is imported only when the entry is used,
so registering never imports torch. A duplicate name raises naming both plugins; an unknown name
raises with the close matches; a short name (``lstm``) resolves when it is unambiguous.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import LmbenchError, PluginError, UnknownNameError

#: Component kinds, in the order the CLI lists them, with the spec table that selects each.
KINDS: dict[str, str] = {
    "datasets": "dataset",
    "tokenizers": "tokenizer",
    "models": "model",
    "attention": "attention",
    "recipes": "recipe",
    "metrics": "metrics",
    "reporters": "report",
    "presets": "preset",
    "launchers": "launcher",
}
#: Spec table name -> registry kind (``model`` -> ``models``).
TABLE_TO_KIND = {table: kind for kind, table in KINDS.items()}

#: Which install extra brings a first-party plugin's dependencies, for error messages.
_EXTRA_HINT = {"lmbench_lm": "lm", "lmbench_attention": "attention", "lmbench_peft": "peft", "lmbench_looped": "looped"}


def _singular(kind: str) -> str:
    """``models`` -> ``model``; ``attention`` stays."""
    return kind[:-1] if kind.endswith("s") else kind


@dataclass(frozen=True)
class Entry:
    """One registered component: its qualified name, the plugin that added it, and its target.

    ``target`` is the object itself (a class, function or dict) or a lazy ``"module:attr"`` string.
    """

    kind: str
    name: str
    plugin: str
    target: Any
    summary: str = ""

    @property
    def short(self) -> str:
        """The name without the plugin prefix: ``lstm`` for ``lm.lstm``."""
        return self.name.split(".", 1)[1] if "." in self.name else self.name

    @property
    def is_lazy(self) -> bool:
        return isinstance(self.target, str) and ":" in self.target

    def load(self) -> Any:
        """Import (if lazy) and return the target; import failures name the missing extra."""
        if not self.is_lazy:
            return self.target
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except ModuleNotFoundError as exc:
            extra = _EXTRA_HINT.get(module_name.split(".")[0])
            hint = f"; install it: pip install 'lmbench[{extra}]'" if extra else f" (needed by plugin '{self.plugin}')"
            raise PluginError(f"cannot load {_singular(self.kind)} '{self.name}': "
                              f"missing module '{exc.name}'{hint}") from exc
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"cannot load '{self.name}' from {self.target}: {type(exc).__name__}: {exc}") from exc
        return obj


@dataclass
class Registry:
    """All entries of one kind, keyed by qualified name."""

    kind: str
    entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, name: str, target: Any, *, summary: str = "", plugin: str | None = None) -> Entry:
        """Register ``target`` under ``name``; inside a hook, ``plugin`` is filled in for you."""
        if plugin is None:
            raise PluginError(f"registering '{name}' needs the plugin name (use the registry passed to the hook)")
        if not name or " " in name:
            raise PluginError(f"plugin '{plugin}' registered an invalid {self.kind} name {name!r}")
        qualified = name if name.startswith(plugin + ".") else f"{plugin}.{name}"
        if qualified in self.entries:
            other = self.entries[qualified].plugin
            raise PluginError(f"{_singular(self.kind)} '{qualified}' is registered twice: by plugin '{other}' and by plugin '{plugin}'")
        if not summary and not isinstance(target, str):
            summary = (getattr(target, "__doc__", None) or "").strip().split("\n", 1)[0] if not isinstance(target, dict) \
                else str(target.get("description", ""))
        entry = Entry(self.kind, qualified, plugin, target, summary)
        self.entries[qualified] = entry
        return entry

    def bound(self, plugin: str) -> "BoundRegistry":
        """A view whose ``add`` registers under ``plugin``: what a hook implementation receives."""
        return BoundRegistry(self, plugin)

    def get(self, name: str, *, prefer_plugin: str | None = None) -> Entry:
        """Find an entry by qualified or unambiguous short name; else raise with close matches."""
        if name in self.entries:
            return self.entries[name]
        matches = [e for e in self.entries.values() if e.short == name or e.name.endswith("." + name)]
        if len(matches) > 1 and prefer_plugin:
            preferred = [e for e in matches if e.plugin == prefer_plugin]
            matches = preferred or matches
        if len(matches) == 1:
            return matches[0]
        singular = _singular(self.kind)
        if len(matches) > 1:
            raise LmbenchError(f"{singular} name '{name}' is ambiguous: "
                               f"{', '.join(sorted(e.name for e in matches))}; use the qualified name")
        raise UnknownNameError(singular, name, self.entries)

    def load(self, name: str, **kw: Any) -> Any:
        """Shortcut for ``get(name).load()``."""
        return self.get(name, **kw).load()

    def names(self) -> list[str]:
        return sorted(self.entries)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except LmbenchError:
            return False
        return True

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self.entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class BoundRegistry:
    """A registry seen from one plugin's hook: ``add`` qualifies names with that plugin."""

    registry: Registry
    plugin: str

    @property
    def kind(self) -> str:
        return self.registry.kind

    def add(self, name: str, target: Any, *, summary: str = "") -> Entry:
        """Register ``target`` (object or ``"module:attr"``) as ``<plugin>.<name>``."""
        return self.registry.add(name, target, summary=summary, plugin=self.plugin)


class Registries:
    """One :class:`Registry` per component kind: ``registries.models``, ``registries["models"]``."""

    def __init__(self) -> None:
        self._by_kind = {kind: Registry(kind) for kind in KINDS}

    def __getitem__(self, kind: str) -> Registry:
        kind = TABLE_TO_KIND.get(kind, kind)
        if kind not in self._by_kind:
            raise UnknownNameError("component kind", kind, KINDS)
        return self._by_kind[kind]

    def __getattr__(self, kind: str) -> Registry:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise AttributeError(kind) from None

    def __iter__(self) -> Iterator[Registry]:
        return iter(self._by_kind.values())
