"""Validation of every run record that enters a store from outside (``lmbench import``, ``store merge``).

A source is untrusted: a store or an export file made elsewhere, possibly edited or hostile. Before
anything of a source is written, every record is checked, and the first bad one is refused with
its line (export files) or id (stores) and what to fix; nothing of that source is imported.

* the run id matches :data:`RUN_ID` (letters, digits, ``.``, ``_``, ``-``; no ``/``, no ``..``): it
  names the run folder, so an id like ``../../x`` or ``/etc`` could write outside the store;
* a source store's run folder resolves inside the source store (no symlink out of it), holds no
  symlink, and the destination folder resolves inside the destination store;
* the status is a final one; a run exported or copied while ``running`` (or ``abandoned``) enters
  as ``interrupted``, so it is never shown as running without an owner;
* times and attempts are finite numbers, the spec, environment, results and measurements are JSON
  objects, each step is ``[step, number or null]`` with a step >= 0; non-finite step or result
  values are recorded as missing (null), as lmbench records them itself;
* a source whose schema version is newer than this lmbench's is refused, naming both versions.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ..errors import StoreError
from .schema import SCHEMA_VERSION

#: What a run (or group) id may look like: it is a folder name inside the store.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: Statuses a run may enter a store with; ``running``/``abandoned`` become ``interrupted``.
FINAL = ("done", "failed", "oom", "nan", "timeout", "interrupted")
UNSETTLED = ("running", "abandoned")


def valid_id(value: Any) -> bool:
    """Whether ``value`` is a run id that can only name a folder directly inside the store."""
    return isinstance(value, str) and RUN_ID.fullmatch(value) is not None and ".." not in value


def check_id(value: Any, where: str) -> str:
    """``value`` if it is a valid run id, else a :class:`StoreError` naming ``where``."""
    if not valid_id(value):
        raise StoreError(f"{where}: run id {value!r} is not a run id (letters, digits, '.', '_', '-'; "
                         "no '/' or '..'); refused, nothing of it imported; fix or drop that run")
    return value


def check_schema(version: int, source: str) -> None:
    """Refuse a source written by a newer lmbench (its schema version above :data:`SCHEMA_VERSION`)."""
    if version > SCHEMA_VERSION:
        raise StoreError(f"{source} has store schema version {version}, newer than this lmbench's "
                         f"{SCHEMA_VERSION}; upgrade lmbench (pip install -U lmbench) to read it")


def _finite(value: Any, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StoreError(f"{where}: {what} is {value!r}, not a finite number; refused, nothing of it imported")
    return float(value)


def _object(value: Any, what: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise StoreError(f"{where}: {what} must be a JSON object, got {type(value).__name__}; "
                         "refused, nothing of it imported")
    return value


def _plain(value: Any) -> Any:
    """Non-finite numbers anywhere in a value become null (how the store records them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def check_payload(payload: Any, where: str, *, source_root: Path | None = None,
                  dest_root: Path | None = None) -> Any:
    """Check one :class:`~lmbench.store.merge.RunPayload` (fixed in place where the fix is safe);
    return it, or raise :class:`StoreError` with ``where`` (``file:line`` or ``store, run ID``)."""
    row = payload.row
    run_id = check_id(row.get("id"), where)
    where = f"{where} (run {run_id})" if run_id not in where else where
    status = row.get("status")
    if status in UNSETTLED:
        row["status"] = "interrupted"
        row["reason"] = (f"imported while {status}" + (f": {row['reason']}" if row.get("reason") else "")
                         + "; run it again to resume")
    elif status not in FINAL:
        raise StoreError(f"{where}: status {status!r} is not one of {', '.join(FINAL)}; "
                         "refused, nothing of it imported")
    if row.get("reason") is not None and not isinstance(row["reason"], str):
        raise StoreError(f"{where}: reason must be text; refused, nothing of it imported")
    for key in ("created", "updated"):
        _finite(row.get(key), key, where)
    attempts = row.get("attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise StoreError(f"{where}: attempts is {attempts!r}, not a whole number >= 1; refused, nothing of it imported")
    _object(row.get("spec"), "spec", where)
    _object(row.get("env") or {}, "env", where)
    for key in ("label", "preset", "command"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise StoreError(f"{where}: {key} must be text; refused, nothing of it imported")
    stored_dir = row.get("run_dir")
    if stored_dir and Path(str(stored_dir)).name != run_id:
        raise StoreError(f"{where}: run_dir {stored_dir!r} is not the run's own folder ({run_id}); "
                         "refused, nothing of it imported")
    payload.results = _plain(_object(payload.results, "results", where))
    for name, data in _object(payload.measurements, "measurements", where).items():
        _object(data, f"measurement {name!r}", where)
    payload.measurements = _plain(payload.measurements)
    steps = []
    for item in payload.step_rows:
        step, key, value, when = item
        if isinstance(step, bool) or not isinstance(step, int) or step < 0 or not isinstance(key, str):
            raise StoreError(f"{where}: step {step!r} of {key!r} is not a whole number >= 0; "
                             "refused, nothing of it imported")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise StoreError(f"{where}: step {step} of {key!r} has value {value!r}, not a number; "
                             "refused, nothing of it imported")
        steps.append((step, key, None if value is None or not math.isfinite(value) else float(value),
                      _finite(when, f"time of step {step}", where)))
    payload.step_rows = steps
    if payload.folder is not None and source_root is not None:
        _check_folder(payload.folder, source_root, where)
    if dest_root is not None and not (dest_root / run_id).resolve().is_relative_to(dest_root.resolve()):
        raise StoreError(f"{where}: its folder would be outside the destination store; refused")
    return payload


def _check_folder(folder: Path, root: Path, where: str) -> None:
    """A source run folder must lie inside its store and hold no symlink (which a copy would follow)."""
    if not folder.exists():
        return
    if folder.is_symlink() or not folder.resolve().is_relative_to(root.resolve()):
        raise StoreError(f"{where}: its run folder {folder} is outside the source store; refused, nothing of it imported")
    for path in folder.rglob("*"):
        if path.is_symlink():
            raise StoreError(f"{where}: its run folder holds a symlink ({path.relative_to(folder)}); "
                             "a copy would follow it out of the store; remove it, then merge again")
