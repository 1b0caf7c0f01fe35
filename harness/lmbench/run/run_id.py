"""What enters a run's id: every spec key that can change a result, and how the run is executed.

A run id is the key for resume, skip-if-done and the store, so two runs that can give different
numbers must never share one. The spec enters whole (every recipe, model, dataset, tokenizer,
attention, metric and ``[measure]`` key, defaults filled in) except the keys listed in
:data:`NOT_RESULT_CHANGING`, which only name, label or render a run. Beside the spec, the execution
enters (:func:`execution_identity`): the device kind the run really uses (``run.device = "auto"``
resolves to ``cpu``, ``cuda`` or ``mps``; a dtype of ``auto`` follows it), the world size and the node
count of a torchrun job, and the deterministic-algorithms flag (``run.deterministic``, also in the spec).
So ``lmbench run --nproc 2`` and ``lmbench run`` of one spec are two runs.
"""

from __future__ import annotations

import copy
import os
from typing import Any

__all__ = ["NOT_RESULT_CHANGING", "identity_spec", "execution_identity", "device_kind"]

#: Spec keys that cannot change a result: a top-level table (``"report"``) or ``"table.key"``.
#: Every other key of a resolved spec changes the run id (``tests/core/test_run_identity.py``).
NOT_RESULT_CHANGING: tuple[str, ...] = (
    "report",          # output formats, plots, title: how results are rendered
    "preset",          # the name of the preset the spec came from (its values are in the spec)
    "description",     # free text
    "run.label",       # the variant's display name
    "run.device",      # replaced by the device kind it resolves to (auto/cpu/cuda:1 -> cpu or cuda)
)


def identity_spec(spec: dict[str, Any], *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """``spec`` without :data:`NOT_RESULT_CHANGING` (and ``drop``, e.g. ``("run.seed",)``)."""
    out = copy.deepcopy({k: v for k, v in spec.items() if k not in NOT_RESULT_CHANGING and k not in drop})
    for dotted in (*NOT_RESULT_CHANGING, *drop):
        if "." in dotted:
            table, key = dotted.split(".", 1)
            if isinstance(out.get(table), dict):
                out[table].pop(key, None)
    return out


def device_kind(requested: str) -> str:
    """The kind of device a run asking for ``requested`` uses here: ``cpu``, ``cuda`` or ``mps``."""
    from .device import pick_device

    return pick_device(requested or "auto").split(":")[0]


def execution_identity(spec: dict[str, Any], dist: Any = None, target: dict[str, Any] | None = None) -> dict[str, Any]:
    """How the run executes, as far as it can change results: device kind, world size, node count,
    deterministic mode. ``dist`` is the process's :class:`lmbench.run.context.DistInfo`; ``target``
    (``device_kind``, ``world_size``, ``nodes``) is where a launcher will run it, when that is not
    this process (a SLURM array of GPU or multi-node points planned on a login node), so that the
    sweep and its workers compute the same id."""
    run = spec.get("run", {}) if isinstance(spec.get("run"), dict) else {}
    out: dict[str, Any] = {"deterministic": bool(run.get("deterministic", False))}
    if target:
        out.update({k: target[k] for k in ("device_kind", "world_size", "nodes") if k in target})
    if "world_size" not in out:
        world = int(getattr(dist, "world_size", 1) or 1)
        local = int(os.environ.get("LOCAL_WORLD_SIZE", world) or world) if world > 1 else 1
        out.update(world_size=world, nodes=max(1, world // max(local, 1)))
    out.setdefault("nodes", 1)
    if "device_kind" not in out:
        out["device_kind"] = device_kind(str(run.get("device", "auto")))
    return {k: out[k] for k in ("device_kind", "world_size", "nodes", "deterministic")}
