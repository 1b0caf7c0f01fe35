"""The spec's tables, and explicit values laid over a preset's variants.

A preset's variants set their own values; what a user states on top of the preset (flags, ``--set``,
a ``-c`` file without variants of its own, ``--variant`` rows) is explicit and wins over every
variant. :func:`apply_to_variants` puts explicit values into each variant's ``set`` and refuses, in
one line naming the variant, a component an explicit value picks that a variant replaces with
another; :func:`add_variants` appends ``--variant`` rows. :func:`lmbench.spec.config.build_spec`
calls both in the merge order preset, files, ``--variant``, flags, ``--set``.
"""

from __future__ import annotations

import typing
from typing import Any

from ..errors import ConfigError

__all__ = ["COMPONENT_TABLES", "HARNESS_TABLES", "TOP_LEVEL_KEYS", "add_variants", "apply_to_variants", "flatten"]

#: Tables that pick a registry entry by ``name``, and the harness's own tables.
COMPONENT_TABLES = ("dataset", "tokenizer", "model", "attention", "recipe", "metrics")
HARNESS_TABLES = ("run", "measure", "report")
TOP_LEVEL_KEYS = (*COMPONENT_TABLES, *HARNESS_TABLES, "variants", "preset", "description")


def add_variants(spec: dict[str, Any], added: list[dict[str, Any]]) -> dict[str, Any]:
    """``spec`` with ``added`` after its variants (its own experiment as ``base`` if it had none)."""
    if not added:
        return spec
    variants = list(spec.get("variants") or [{"label": "base", "set": {}}])
    labels = [str(v.get("label", "")) for v in variants if isinstance(v, dict)]
    for variant in added:
        if variant["label"] in labels:
            raise ConfigError(f"--variant {variant['label']}: the spec already has a variant of that label "
                              f"({', '.join(labels)}); pick another label")
        labels.append(variant["label"])
        variants.append(variant)
    return {**spec, "variants": variants}


def apply_to_variants(spec: dict[str, Any], explicit: list[tuple[str, dict[str, Any]]], registries: Any,
                       only: typing.Sequence[str]) -> None:
    """Put explicit values into every variant's ``set`` (they win over it); refuse the conflicts."""
    variants = spec["variants"]
    labels = [str(v.get("label") or f"variant{i}") if isinstance(v, dict) else "" for i, v in enumerate(variants)]
    selected = [lb for lb in labels if not only or lb in only]
    where = f"preset {spec['preset']}" if spec.get("preset") else "the spec"
    values: dict[str, Any] = {}
    for source, assignments in explicit:
        for key, value in assignments.items():
            values[key] = value
            table, _, option = key.partition(".")
            if option == "name" and table in COMPONENT_TABLES:
                _check_component(key, value, source, variants, labels, selected, registries, where)
    if "run.label" in values and len(selected) > 1:
        raise ConfigError(f"run.label={values['run.label']} would name all {len(selected)} variants of {where} "
                          f"({', '.join(selected)}) alike; pick one with --only LABEL")
    spec["variants"] = [{**v, "set": {**v.get("set", {}), **values}} if isinstance(v, dict) else v for v in variants]


def _check_component(key: str, value: Any, source: str, variants: list, labels: list[str], selected: list[str],
                     registries: Any, where: str) -> None:
    table = key.split(".", 1)[0]

    def qualified(name: Any) -> str:
        try:
            return registries[table].get(str(name)).name
        except Exception:  # an unknown name is reported when the spec is resolved
            return str(name)

    wanted = qualified(value)
    clash = [(label, v["set"][key]) for label, v in zip(labels, variants)
             if label in selected and isinstance(v, dict) and key in v.get("set", {})
             and qualified(v["set"][key]) != wanted]
    if clash:
        label, theirs = clash[0]
        agree = [lb for lb in selected if lb not in {c[0] for c in clash}]
        flag = f"--{table} {value}" if source == "flag" else f"--set {key}={value}" if source == "--set" else \
            f"{key} = {value!r} in {source}"
        hint = f"run the variants that agree with --only {' --only '.join(agree)}" if agree else \
            "start from a spec without these variants"
        raise ConfigError(f"{flag} conflicts with variant '{label}' of {where}, which sets {key}={theirs}; {hint}")


def flatten(spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
