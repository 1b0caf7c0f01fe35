"""The pre-flight check: every resolved component against what its recipe declares it needs.

Runs after a spec is resolved and before anything is built or trained (``Runner.plan`` calls
:func:`check`), reading only the factories' classes and signatures, so it takes milliseconds.
:func:`check_built` repeats the protocol check on the object a recipe builds (``Run.build``),
which catches what a class cannot show (attributes set in ``__init__``, function factories).

A failure is one :class:`ContractError` line: the component, its plugin, what is missing and the
protocol to read (``lmbench.<Protocol>``, documented in docs/plugins.md).
"""

from __future__ import annotations

import inspect
from typing import Any

from ..plugin.components import INPUT_KINDS, AttentionCapabilities, Needs, Requires, protocol_members
from ..spec.config import ResolvedSpec
from ..errors import ConfigError

__all__ = ["ContractError", "check", "check_built", "recipe_requires"]

#: Tables a recipe may leave undeclared: the recipe itself and metrics (checked by their kind).
_NOT_DECLARED = ("recipe", "metrics")


class ContractError(ConfigError):
    """A component does not fit its recipe's declared needs (found before any work)."""


def recipe_requires(resolved: ResolvedSpec) -> Requires | None:
    """The recipe's :class:`Requires` declaration, or None for a recipe that declares nothing."""
    factory = resolved.components["recipe"].entry.load()
    requires = getattr(factory, "requires", None)
    return requires if isinstance(requires, Requires) else None


def check(resolved: ResolvedSpec) -> None:
    """Raise :class:`ContractError` naming every component that cannot fit its recipe."""
    problems = problems_of(resolved)
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise ContractError(problems[0] + more)
    from .data_checks import check_data

    check_data(resolved)  # the dataset's files decode and parse (lmbench.data_checks)


def problems_of(resolved: ResolvedSpec) -> list[str]:
    """Every mismatch between the spec's components and the recipe's declaration, one line each."""
    requires = recipe_requires(resolved)
    if requires is None:
        return []
    recipe = resolved.components["recipe"].entry.name
    problems: list[str] = []
    for table, needs in requires.tables.items():
        if needs.required and table not in resolved.components:
            problems.append(f"{recipe} needs a [{table}] table in the spec; see `lmbench list {table}`")
    for key, component in resolved.components.items():
        table = component.table
        if table in _NOT_DECLARED:
            continue
        needs = requires.tables.get(table)
        if needs is None:
            problems.append(f"{recipe} does not use a [{table}] table (it would be ignored): remove "
                            f"{component.entry.name} from the spec")
            continue
        problems += _factory_problems(resolved, component, needs, recipe)
    problems += _metric_problems(resolved, requires, recipe)
    return problems


def check_built(table: str, obj: Any, needs: Needs | None, *, name: str, plugin: str, recipe: str,
                deps: dict[str, Any] | None = None) -> None:
    """Raise :class:`ContractError` if a built component lacks a member of its declared protocol, or
    fails its probe (one tiny call, :func:`lmbench.run.probe.probe`)."""
    if needs is None or needs.protocol is None:
        return
    methods, attributes = protocol_members(needs.protocol)
    missing = [f"{m}()" for m in methods if not callable(getattr(obj, m, None))]
    missing += [a for a in attributes if not hasattr(obj, a)]
    if missing:
        raise ContractError(_line(table, name, plugin, f"lacks {', '.join(missing)}", recipe, needs))
    if table == "attention":
        _raise_capabilities(obj, needs, name, plugin, recipe)
    from .probe import probe

    probe(table, obj, needs, dict(deps or {}),
          lambda what: ContractError(f"{table} {name} (plugin {plugin}) {what}; see "
                                     f"lmbench.{needs.protocol.__name__} in docs/plugins.md"))


def _line(table: str, name: str, plugin: str, what: str, recipe: str, needs: Needs) -> str:
    protocol = f"lmbench.{needs.protocol.__name__}" if needs.protocol is not None else "its recipe"
    return f"{table} {name} (plugin {plugin}) {what}, which {recipe} needs; see {protocol} in docs/plugins.md"


def _factory_problems(resolved: ResolvedSpec, component: Any, needs: Needs, recipe: str) -> list[str]:
    entry = component.entry
    try:
        factory = entry.load()
    except Exception as exc:  # noqa: BLE001 - reported as a problem of this component
        return [f"{component.table} {entry.name} (plugin {entry.plugin}) cannot be imported: {exc}"]
    problems = []
    if needs.protocol is not None and inspect.isclass(factory):
        methods, _ = protocol_members(needs.protocol)
        missing = [f"{m}()" for m in methods if not callable(getattr(factory, m, None))]
        if missing:
            problems.append(_line(component.table, entry.name, entry.plugin, f"lacks {', '.join(missing)}",
                                  recipe, needs))
    passed = list(needs.deps) + [d for d in needs.optional_deps if d in resolved.components]
    refused = _refused_keywords(factory, passed)
    if refused:
        problems.append(_line(component.table, entry.name, entry.plugin,
                              f"takes no {', '.join(f'{d}=' for d in refused)} keyword (its factory must accept "
                              "it, or **kwargs)", recipe, needs))
    if component.table == "attention" and needs.capabilities:
        caps = getattr(factory, "capabilities", None)
        if caps is None and not refused:  # set in __init__: a kernel is cheap to build, so ask an instance
            try:
                caps = getattr(component.build(), "capabilities", None)
            except Exception as exc:  # noqa: BLE001 - reported as a problem of this component
                return problems + [f"attention {entry.name} (plugin {entry.plugin}) cannot be built: "
                                   f"{type(exc).__name__}: {exc}"]
        if isinstance(caps, AttentionCapabilities):
            lacks = caps.missing(**needs.capabilities)
            if lacks:
                problems.append(_line("attention", entry.name, entry.plugin, f"lacks {', '.join(lacks)}", recipe,
                                      needs))
    return problems


def _raise_capabilities(obj: Any, needs: Needs, name: str, plugin: str, recipe: str) -> None:
    caps = getattr(obj, "capabilities", None)
    if needs.capabilities and isinstance(caps, AttentionCapabilities):
        lacks = caps.missing(**needs.capabilities)
        if lacks:
            raise ContractError(_line("attention", name, plugin, f"lacks {', '.join(lacks)}", recipe, needs))


def _refused_keywords(factory: Any, keywords: list[str]) -> list[str]:
    """The keywords ``factory(config, **{k: ...})`` would reject (none if it takes **kwargs)."""
    if not keywords:
        return []
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins and C extensions: cannot tell, do not refuse
        return []
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return []
    accepted = {p.name for p in params if p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                     inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    return [k for k in keywords if k not in accepted]


def _metric_problems(resolved: ResolvedSpec, requires: Requires, recipe: str) -> list[str]:
    problems = []
    for key, component in resolved.components.items():
        if component.table != "metrics":
            continue
        entry = component.entry
        try:
            factory = entry.load()
        except Exception as exc:  # noqa: BLE001
            problems.append(f"metric {entry.name} (plugin {entry.plugin}) cannot be imported: {exc}")
            continue
        kind = getattr(factory, "input", None)
        where = f"metric {entry.name} (plugin {entry.plugin})"
        if not requires.feeds:
            problems.append(f"{where} cannot be computed: {recipe} feeds no metrics; remove it from [metrics]")
        elif kind not in INPUT_KINDS:
            problems.append(f"{where} declares no input kind (class attribute input = one of "
                            f"{', '.join(INPUT_KINDS)}); see lmbench.Metric in docs/plugins.md")
        elif not _produces(component, factory):
            problems.append(f"{where} declares no result names (class attribute produces = (\"name\", ...), the "
                            "keys compute() returns); see lmbench.Metric in docs/plugins.md")
        elif kind not in requires.feeds:
            problems.append(f"{where} consumes {kind} but {recipe} feeds only {', '.join(requires.feeds)}; "
                            "remove it from [metrics] or pick a metric of that kind (`lmbench list metrics`)")
    return problems


def _produces(component: Any, factory: Any) -> tuple[str, ...]:
    """A metric's declared result names: its class attribute, else an instance's (set in ``__init__``
    from its options; a metric is cheap to build). Empty when it declares none."""
    names = getattr(factory, "produces", None)
    if names is None:
        try:
            names = getattr(component.build(), "produces", None)
        except Exception:  # noqa: BLE001 - a metric that cannot be built fails when the recipe builds it
            return ("?",)
    return tuple(names) if isinstance(names, (tuple, list)) else ()
