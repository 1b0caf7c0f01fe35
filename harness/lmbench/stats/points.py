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

__all__ = ["run_name", "point_label", "point_key", "group_points", "resolve_side", "recipe_plugin"]

_SEED_LABEL = re.compile(r"[\s,_-]*seed[=_]?-?\d+")


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
    """A run's name with its seed part removed: the name of the point its seeds share."""
    name = run_name(record)
    return _SEED_LABEL.sub("", name).strip() or name


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
    """A run id (or unique prefix), or a sweep/group name or id: its display name and runs."""
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
