"""Sanity limits checked before any work: sane numbers in the spec, and a run that fits in memory.

:func:`check_limits` runs on every resolved spec (``lmbench run``, ``--dry-run``, sweeps) and
refuses, with one line naming the option:

* a number that is not finite (``recipe.budget=1e400`` is infinite; NaN anywhere);
* a count above :data:`MAX_COUNT` (``recipe.steps=1e23`` would never end), a negative seed,
  ``run.threads`` above the machine's CPU count;
* a negative count or duration: a field typed :class:`~lmbench.spec.validate.Seconds` or
  :class:`~lmbench.spec.validate.Count`, or an integer field whose default is not negative (``-1``
  defaults are "off" markers and stay allowed). A field can opt out with
  ``field(metadata={"allow_negative": True})``.

:func:`check_memory` asks the recipe for an estimate of the memory a run needs: a recipe class
may define ``estimate_memory(resolved) -> int | None`` (bytes, a lower bound). When the estimate
exceeds the free memory of the device (free GPU memory on CUDA, available RAM on CPU and MPS),
the run fails before it starts with both numbers, unless forced (``LMBENCH_FORCE_MEMORY=1``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from typing import Any

from ..errors import LimitError

FORCE_MEMORY_ENV = "LMBENCH_FORCE_MEMORY"
#: The largest count (steps, tokens, examples) a spec may ask for: above it a run would never end.
MAX_COUNT = 10 ** 12


# -- numbers in the spec ------------------------------------------------------------------------
def _is_count_or_duration(hint: Any) -> bool:
    from .validate import Count, Seconds

    args = typing.get_args(hint) or (hint,)
    return any(a in (Seconds, Count) for a in args)


def _is_int(hint: Any) -> bool:
    args = typing.get_args(hint) or (hint,)
    return any(a is int for a in args)


def check_config(config: Any, where: str) -> None:
    """Refuse non-finite numbers and negative counts/durations in one validated ``Config``."""
    if config is None or not dataclasses.is_dataclass(config):
        return
    try:
        hints = typing.get_type_hints(type(config))
    except Exception:  # unresolvable annotations: check finiteness only
        hints = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name, None)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, float) and not math.isfinite(item):
                raise LimitError(f"{where}.{f.name} = {item} is not a finite number; give a finite value")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        hint = hints.get(f.name)
        if value > MAX_COUNT and (_is_int(hint) or _is_count_or_duration(hint)) and not f.metadata.get("allow_large"):
            raise LimitError(f"{where}.{f.name} = {value:g} is too large (at most {MAX_COUNT:g}); "
                             "a run this long would never end")
        if value >= 0:
            continue
        if f.name.endswith("seed"):
            raise LimitError(f"{where}.{f.name} = {value:g} is negative; a seed is a whole number >= 0")
        if f.metadata.get("allow_negative"):
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        negative_marker = isinstance(default, (int, float)) and not isinstance(default, bool) and default < 0
        if _is_count_or_duration(hint) or (_is_int(hint) and not negative_marker):
            raise LimitError(f"{where}.{f.name} = {value:g} is negative; it is a count or duration and must be >= 0")


def check_limits(resolved: Any) -> None:
    """Check every component and harness table of a resolved spec (see the module docstring)."""
    for key, component in resolved.components.items():
        table = key.split(":", 1)[0]
        check_config(component.config, table)
    for table, config in resolved.harness.items():
        check_config(config, table)
    check_threads(getattr(resolved.harness.get("run"), "threads", 0) or 0)


def check_threads(threads: int) -> None:
    """``run.threads`` above this machine's CPU count is refused (100000 threads crash torch)."""
    cores = os.cpu_count() or 1
    if threads > cores:
        raise LimitError(f"run.threads = {threads} is more than the {cores} CPU cores of this machine; "
                         f"give at most {cores} (0 = torch's default)")


def check_process_count(nproc: int) -> None:
    """``--nproc`` must be at least 1."""
    if nproc < 1:
        raise LimitError(f"--nproc {nproc}: the number of processes must be at least 1")


# -- memory --------------------------------------------------------------------------------------
def free_memory(device: str) -> tuple[int, str] | None:
    """(free bytes, what they are) on ``device``: free GPU memory on CUDA, available RAM otherwise."""
    if device.startswith("cuda"):
        try:
            import torch

            free, _total = torch.cuda.mem_get_info(torch.device(device))
            return int(free), f"free memory on {device}"
        except Exception:
            return None
    try:
        import psutil

        return int(psutil.virtual_memory().available), "available RAM"
    except Exception:
        return None


def human_bytes(n: float) -> str:
    """``12.3 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} PiB"


def estimate_memory(resolved: Any) -> int | None:
    """The recipe's own estimate (``estimate_memory(resolved)`` on its class), in bytes, or None."""
    component = resolved.components.get("recipe")
    if component is None:
        return None
    estimator = getattr(component.entry.load(), "estimate_memory", None)
    if not callable(estimator):
        return None
    estimate = estimator(resolved)
    return int(estimate) if estimate is not None else None


def check_memory(resolved: Any, device: str, *, force: bool | None = None) -> int | None:
    """Fail before the run starts when its memory estimate exceeds the device's free memory.

    ``force`` (default: ``LMBENCH_FORCE_MEMORY=1``) runs anyway. Returns the estimate.
    """
    estimate = estimate_memory(resolved)
    if estimate is None:
        return None
    if force is None:
        force = os.environ.get(FORCE_MEMORY_ENV, "").lower() in ("1", "true", "yes")
    free = free_memory(device)
    if free is not None and estimate > free[0] and not force:
        recipe = resolved.components["recipe"].entry.name
        raise LimitError(f"{recipe} needs at least {human_bytes(estimate)} of memory (estimated from the spec) but "
                         f"only {human_bytes(free[0])} is free ({free[1]}); lower "
                         f"recipe.batch_size or the model size, or set {FORCE_MEMORY_ENV}=1 to run anyway")
    return estimate
