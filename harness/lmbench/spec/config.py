"""Experiment specs: preset, then TOML files, then flags, merged and validated (values: validate.py).

A spec is a dict of tables. Component tables (``dataset``, ``tokenizer``, ``model``,
``attention``, ``recipe``, ``metrics``) hold ``name`` (a registry entry) and that component's
options, validated against its ``Config`` dataclass. Harness tables are ``run`` (seed, device,
label), ``measure`` and ``report``. ``variants`` is a list of ``{label, set}`` tables, each a
separate run. Durations (``budget = "2h"``) and counts (``max_tokens = "5M"``) are parsed by
field type (:class:`Seconds`, :class:`Count`).
"""

from __future__ import annotations

import copy
import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..errors import ConfigError
from ..plugin.registry import Entry, Registries
from .validate import Count, Seconds, _suggest, coerce, make_config

__all__ = ["Count", "Seconds", "coerce", "make_config", "build_spec", "resolve", "merge", "load_toml",
           "expand_variants", "dump_toml", "ResolvedSpec", "ResolvedComponent", "RunConfig", "MeasureConfig",
           "ReportConfig"]

from .explicit import COMPONENT_TABLES, HARNESS_TABLES, TOP_LEVEL_KEYS, add_variants, apply_to_variants, flatten


# -- harness tables -----------------------------------------------------------------------
@dataclass
class RunConfig:
    """The ``[run]`` table: how the harness runs the recipe."""

    seed: int = 0
    device: str = "auto"  # auto (CUDA > MPS > CPU), cpu, cuda, cuda:1, mps
    label: str = ""
    timeout: Seconds | None = None  # wall-clock limit for the whole run; recorded as "timeout"
    deterministic: bool = False  # torch.use_deterministic_algorithms
    threads: int = 0  # torch.set_num_threads on CPU; 0 keeps torch's default
    parallel: Literal["ddp", "fsdp"] = "ddp"  # under torchrun: replicate (DDP) or shard (FSDP2) the model


@dataclass
class MeasureConfig:
    """The ``[measure]`` table: how timings and memory are taken."""

    warmup: int = 3
    min_iters: int = 10
    min_seconds: float = 0.5
    nvml: bool = True  # sample device memory with NVML in a thread (CUDA only)
    rss: bool = True  # sample process RSS with psutil in a thread


@dataclass
class ReportConfig:
    """The ``[report]`` table: what is written when the experiment ends."""

    formats: list[str] = field(default_factory=lambda: ["md"])
    plots: bool = True
    title: str = ""


HARNESS_CONFIGS: dict[str, type] = {"run": RunConfig, "measure": MeasureConfig, "report": ReportConfig}


# -- loading and merging ------------------------------------------------------------------
def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a spec file; a missing file or bad TOML is a one-line :class:`ConfigError`."""
    from ..files import read_text

    path = Path(path)
    text = read_text(path, "spec file")  # missing, binary or non-UTF-8: one line naming the file
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"bad TOML in {path}: {exc}") from exc
    check_top_level(data, str(path))
    return data


def check_top_level(spec: dict[str, Any], where: str) -> None:
    for key in spec:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"unknown table '{key}' in {where}; {_suggest(key, TOP_LEVEL_KEYS)}")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base``.

    When a component table's ``name`` changes, the base table's other keys are dropped: they
    were options of a different component.
    """
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            old = out[key]
            if key in COMPONENT_TABLES and "name" in value and value["name"] != old.get("name"):
                out[key] = copy.deepcopy(value)
            else:
                out[key] = merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax where it parses (``4``, ``true``, ``[1, 2]``), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(assignment: str) -> tuple[list[str], Any]:
    """``model.n_layers=4`` -> (["model", "n_layers"], 4); a malformed one is a ConfigError."""
    key, sep, raw = assignment.partition("=")
    path = [p.strip() for p in key.strip().split(".")]
    if not sep or len(path) < 2 or not all(path):
        raise ConfigError(f"bad --set '{assignment}'; expected TABLE.KEY=VALUE, e.g. model.n_layers=4")
    if path[0] not in TOP_LEVEL_KEYS:
        raise ConfigError(f"bad --set '{assignment}': unknown table '{path[0]}'; {_suggest(path[0], TOP_LEVEL_KEYS)}")
    return path, parse_value(raw.strip())


def assignments_to_spec(assignments: dict[str, Any] | list[str]) -> dict[str, Any]:
    """Turn ``["model.n_layers=4"]`` or ``{"model.n_layers": 4}`` into a nested spec fragment."""
    items = (parse_assignment(a) for a in assignments) if isinstance(assignments, list) else \
        ((k.split("."), v) for k, v in assignments.items())
    spec: dict[str, Any] = {}
    for path, value in items:
        node = spec
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return spec


def expand_variants(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One (label, spec) per variant; a spec without variants is its own single variant."""
    variants = spec.get("variants") or []
    base = {k: v for k, v in spec.items() if k != "variants"}
    if not variants:
        return [(base.get("run", {}).get("label", ""), base)]
    out = []
    for i, variant in enumerate(variants):
        if not isinstance(variant, dict):
            raise ConfigError(f"variants[{i}] must be a table with 'label' and 'set'")
        bad = set(variant) - {"label", "set", "replace"}
        if bad:
            raise ConfigError(f"variants[{i}] has unknown key(s) {sorted(bad)}; valid: label, set, replace")
        label = str(variant.get("label") or f"variant{i}")
        fragment = assignments_to_spec(dict(variant.get("set", {})))
        # replace: tables whose component the variant swaps, started from its defaults (lmbench.spec.variants)
        kept = {k: v for k, v in base.items() if k not in (variant.get("replace") or ())}
        merged = merge(kept, fragment)
        # the variant's label names the run unless its own values (or --set run.label) name it
        merged.setdefault("run", {})
        if "label" not in fragment.get("run", {}):
            merged["run"]["label"] = label
        out.append((label, merged))
    return out


@dataclass
class ResolvedComponent:
    """One component table after resolution: its registry entry and validated config."""

    table: str
    entry: Entry
    config: Any

    def build(self, **deps: Any) -> Any:
        """Call the component's factory with its config and the dependencies the recipe gives."""
        factory = self.entry.load()
        return factory(self.config, **deps)


@dataclass
class ResolvedSpec:
    """A spec whose names are qualified and whose every table is validated.

    ``spec`` is the canonical dict (qualified names, defaults filled in) that is saved with the
    run and hashed into its id.
    """

    spec: dict[str, Any]
    components: dict[str, ResolvedComponent]
    harness: dict[str, Any]

    @property
    def run(self) -> RunConfig:
        return self.harness["run"]

    @property
    def measure(self) -> MeasureConfig:
        return self.harness["measure"]

    @property
    def report(self) -> ReportConfig:
        return self.harness["report"]


def _config_cls(factory: Any) -> Any:
    return getattr(factory, "Config", None)


def _jsonable(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    out = dataclasses.asdict(config)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}


def resolve(spec: dict[str, Any], registries: Registries) -> ResolvedSpec:
    """Resolve names, validate every table, and return the canonical spec.

    Component factories are imported here (to read their ``Config``), which is what makes an
    unknown key fail before any data is loaded.
    """
    check_top_level(spec, "the spec")
    if spec.get("variants"):
        raise ConfigError("resolve() takes one variant; expand 'variants' first")
    if "recipe" not in spec:
        raise ConfigError("the spec has no [recipe]; start from a preset (`lmbench list presets`) or add one")
    canonical: dict[str, Any] = {}
    components: dict[str, ResolvedComponent] = {}
    preset_plugin = str(spec.get("preset", "")).split(".", 1)[0] or None
    recipe_plugin = None
    for table in ("recipe", *[t for t in COMPONENT_TABLES if t != "recipe"]):
        if table not in spec:
            continue
        if not isinstance(spec[table], dict):
            raise ConfigError(f"[{table}] must be a table with a 'name'")
        params = dict(spec[table])
        name = params.pop("name", None)
        if not name and not (table == "metrics" and params):
            raise ConfigError(f"[{table}] needs a 'name'; see `lmbench list {table}`")
        registry = registries[table]
        if table == "metrics":  # several metrics: a list of names, plus a table of options per metric
            canonical[table], metric_components = _resolve_metrics(name, params, registry,
                                                                   recipe_plugin or preset_plugin)
            components.update(metric_components)
            continue
        entry = registry.get(str(name), prefer_plugin=recipe_plugin or preset_plugin)
        if table == "recipe":
            recipe_plugin = entry.plugin
        config = make_config(_config_cls(entry.load()), params, f"{table} {entry.name}")
        components[table] = ResolvedComponent(table, entry, config)
        canonical[table] = {"name": entry.name, **_jsonable(config)}
    harness = {}
    for table, cls in HARNESS_CONFIGS.items():
        config = make_config(cls, dict(spec.get(table, {})), f"[{table}]")
        harness[table] = config
        canonical[table] = _jsonable(config)
    if spec.get("preset"):
        canonical["preset"] = spec["preset"]
    return ResolvedSpec(canonical, components, harness)


def _resolve_metrics(name: Any, params: dict[str, Any], registry: Any, prefer: str | None
                     ) -> tuple[dict[str, Any], dict[str, ResolvedComponent]]:
    """``[metrics]``: ``name`` (a list) and/or one options table per metric, keyed by its name:

    ``[metrics.top5]`` / ``[metrics."example.top5"]`` / ``--set metrics.example.top5.k=5``. A
    metric with an options table is computed even if ``name`` does not list it.
    """
    names = [name] if isinstance(name, str) else list(name or [])
    tables = _option_tables(params, "")
    entries = {e.name: e for e in (registry.get(str(n), prefer_plugin=prefer) for n in [*names, *tables])}
    options: dict[str, dict[str, Any]] = {}
    for key, table in tables.items():
        options.setdefault(registry.get(key, prefer_plugin=prefer).name, {}).update(table)
    canonical: dict[str, Any] = {"name": list(entries)}
    components = {}
    for qualified, entry in entries.items():
        config = make_config(_config_cls(entry.load()), options.get(qualified, {}), f"metric {qualified}")
        components[f"metrics:{qualified}"] = ResolvedComponent("metrics", entry, config)
        if config is not None:
            canonical[qualified] = _jsonable(config)
    return canonical, components


def _option_tables(params: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """Nested option tables to ``{dotted metric name: options}``; a scalar outside any table is an error."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        path = f"{prefix}{key}"
        if not isinstance(value, dict):
            if not prefix:
                raise ConfigError(f"[metrics] takes 'name' (a list) and one options table per metric "
                                  f"([metrics.NAME] key = value), got '{key} = {value!r}'")
            continue
        scalars = {k: v for k, v in value.items() if not isinstance(v, dict)}
        if scalars or not value:
            out[path] = scalars
        out.update(_option_tables({k: v for k, v in value.items() if isinstance(v, dict)}, f"{path}."))
    return out


# -- building a spec from its sources -------------------------------------------------------
def load_preset(registries: Registries, name: str) -> dict[str, Any]:
    """A preset's spec dict (from a dict, a ``"module:attr"`` target, or a ``.toml`` path)."""
    entry = registries.presets.get(name)
    target = entry.load()
    if isinstance(target, (str, Path)) and str(target).endswith(".toml"):
        target = load_toml(target)
    if callable(target) and not isinstance(target, dict):
        target = target()
    if not isinstance(target, dict):
        raise ConfigError(f"preset '{entry.name}' is not a spec table (got {type(target).__name__})")
    spec = copy.deepcopy(target)
    spec.pop("description", None)
    check_top_level(spec, f"preset {entry.name}")
    spec["preset"] = entry.name
    return spec


def build_spec(registries: Registries, *, preset: str | None = None, files: typing.Sequence[str | Path] = (),
               overrides: dict[str, Any] | None = None, sets: typing.Sequence[str] = (),
               only: typing.Sequence[str] = (), variants: typing.Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Merge preset, then TOML files, then ``--variant`` rows, then flag overrides (``{"model.name": ...}``),
    then ``--set``.

    Flags, ``--set`` and the values of a ``-c`` file laid over a preset's variants (a file without
    variants of its own) are explicit, so they apply to every variant, after the variant's own
    values. An explicit value that picks a component (``model.name``) which a variant replaces
    with another fails naming that variant; ``run.label`` is refused when several variants would
    share it. ``only`` (``--only`` labels) limits both checks to the variants that will run.
    """
    spec: dict[str, Any] = load_preset(registries, preset) if preset else {}
    explicit: list[tuple[str, dict[str, Any]]] = []
    for path in files:
        loaded = load_toml(path)
        if spec.get("variants") and "variants" not in loaded:  # a file is as explicit as a flag
            tables = {k: v for k, v in loaded.items() if k in COMPONENT_TABLES + HARNESS_TABLES}
            explicit.append((f"-c {path}", flatten(tables)))
        spec = merge(spec, loaded)
    if variants:  # --variant LABEL:key=value,... rows beside the preset's (lmbench.spec.variants)
        spec = add_variants(spec, variants)
    if overrides:
        flags = {k: v for k, v in overrides.items() if v is not None}
        explicit.append(("flag", flags))
        spec = merge(spec, assignments_to_spec(flags))
    if sets:
        fragment = assignments_to_spec(list(sets))
        explicit.append(("--set", flatten(fragment)))
        spec = merge(spec, fragment)
    if spec.get("variants") and explicit:
        apply_to_variants(spec, explicit, registries, only)
    return spec


def dump_toml(spec: dict[str, Any]) -> str:
    """Write a resolved spec as TOML (scalars, lists and one level of tables), for ``-c``."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v) if not isinstance(v, float) or v == v and abs(v) != float("inf") else f'"{v}"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"{k} = {value(v)}" for k, v in spec.items() if not isinstance(v, dict) and v is not None]
    for table, body in spec.items():
        if isinstance(body, dict):
            lines.append(f"\n[{table}]")
            lines += [f"{k} = {value(v)}" for k, v in body.items() if v is not None]
    return "\n".join(lines).lstrip() + "\n"
