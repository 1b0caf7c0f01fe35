"""Runs grouped into points: display names, seed-free labels, and the runs a name selects.

A *point* is a set of runs that differ only in their seed (``run.seed``/``run.label``): reports
show it as one row with its spread, ``lmbench compare`` pairs points of two sides by label.
Nothing here computes statistics or renders anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import LmbenchError, UnknownNameError
from ..store import RunRecord, Store, content_id

__all__ = ["run_name", "point_label", "point_key", "group_points", "resolve_side", "select_point", "recipe_plugin"]

_SEED_LABEL = re.compile(r"[\s,_-]*seed[=_]?-?\d+")
_SELECTOR = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<selector>[^\[\]]+)\]$")  # SWEEP[key=value,...] or SWEEP[label]


def run_name(record: RunRecord) -> str:
    """A run's display name: its label, its model/attention names, else its recipe's name."""
    name = record.name
    if name == record.id:
        recipe = record.spec.get("recipe", {}).get("name")
        return str(recipe) if recipe else record.id
    return name


def recipe_plugin(record: RunRecord) -> str | None:
    """The plugin whose recipe produced the run (``lm`` for ``lm.train``), or None."""
    recipe = str(record.spec.get("recipe", {}).get("name") or "")
    return recipe.split(".", 1)[0] if "." in recipe else None


def point_label(record: RunRecord) -> str:
    """A run's name with its seed part removed: the name of the point its seeds share. A name that
    was only its seed (``seed=3``, a sweep over seeds alone) gives the recipe's name, so all the
    seeds of such a sweep are one point."""
    name = run_name(record)
    stripped = _SEED_LABEL.sub("", name).strip()
    if stripped:
        return stripped
    recipe = record.spec.get("recipe", {}).get("name")
    return str(recipe) if recipe else name


def point_key(record: RunRecord) -> str:
    """The identity of a run apart from its seed: its spec without ``run.seed`` / ``run.label``."""
    spec = {k: v for k, v in record.spec.items() if k != "run"}
    run = {k: v for k, v in record.spec.get("run", {}).items() if k not in ("seed", "label")}
    return content_id(spec, run, point_label(record))


def group_points(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs that differ only in their seed, together, by point label, in first-seen order.

    Runs whose specs differ in more than the seed are never pooled: a label shared by two such
    points gets the first run's id appended (``lstm [3fa2c1]``).
    """
    by_key: dict[str, list[RunRecord]] = {}
    for record in records:
        by_key.setdefault(point_key(record), []).append(record)
    labels = [point_label(runs[0]) for runs in by_key.values()]
    points: dict[str, list[RunRecord]] = {}
    for label, runs in zip(labels, by_key.values()):
        if labels.count(label) > 1:
            short = f"{label} [{runs[0].id[:6]}]"
            label = short if short not in points else f"{label} [{runs[0].id}]"
        points[label] = runs
    return points


def resolve_side(store: Store, name: str) -> tuple[str, list[RunRecord]]:
    """A run id (or unique prefix), a sweep/group name or id, or one point of a sweep
    (``SWEEP[key=value,...]`` or ``SWEEP[label]``, :func:`select_point`): its display name and runs."""
    chosen = _SELECTOR.match(name.strip())
    if chosen:
        base, records = resolve_side(store, chosen["base"].strip())
        return f"{base}[{chosen['selector']}]", select_point(records, chosen["selector"], chosen["base"].strip())
    try:
        record = store.get(name)
        return run_name(record), [record]
    except UnknownNameError:
        pass
    try:
        group, records = store.group(name)
    except UnknownNameError:
        raise LmbenchError(f"no run or sweep named '{name}' in {store.path}; see `lmbench list runs` "
                           "or pass a run id or sweep name") from None
    if not records:
        raise LmbenchError(f"sweep '{name}' has no runs")
    return group.get("name") or group["id"], records


def select_point(records: Sequence[RunRecord], selector: str, where: str = "the sweep") -> list[RunRecord]:
    """The runs of one point: ``key=value[,key=value]`` on the resolved spec (``attention.n_hashes=4``,
    values read as TOML, else as text), or a point label (``lstm``, as reports show it)."""
    import tomllib

    def parsed(text: str) -> object:
        try:
            return tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            return text

    def value_at(spec: dict, key: str) -> object:
        for part in key.split("."):
            spec = spec.get(part) if isinstance(spec, dict) else None
        return spec

    wanted = [(k.strip(), v.strip()) for k, _, v in (item.partition("=") for item in selector.split(","))]
    keys_known = "=" in selector and all(any(value_at(r.spec, k) is not None for r in records) for k, _ in wanted)
    if keys_known:  # spec keys; otherwise the selector is a label (labels may hold '=': "lr=0.001")
        chosen = [r for r in records if all(value_at(r.spec, k) == parsed(v) or str(value_at(r.spec, k)) == v
                                            for k, v in wanted)]
    else:
        chosen = [r for r in records if point_label(r) == selector.strip() or r.label == selector.strip()]
    if not chosen:
        labels = ", ".join(list(group_points(records))[:6])
        raise LmbenchError(f"no run of '{where}' matches [{selector}]; pick a point by key=value on its spec "
                           f"(e.g. [recipe.lr=0.001]) or by label ({labels})")
    return chosen
