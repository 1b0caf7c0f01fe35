"""Sweeps: a grid of spec values times seeds, each point a run with its own content-addressed id.

``lmbench sweep -c exp.toml --grid attention.n_hashes=2,4 --grid attention.chunk=64,128 --seeds 0,1,2``

* :func:`parse_grid` / :func:`parse_seeds` read the flags; :func:`expand` turns them into the
  spec's ``variants`` (crossed with the spec's own variants, if it has some);
* :func:`validate_grid` fails before anything runs when a grid key is not in the spec, naming
  the valid keys, or a value does not fit the variant's resolved spec; every point is then resolved
  by the runner's ``plan``; :func:`select_variants` keeps the ``--only`` variants, and a key written
  ``VARIANT:TABLE.KEY`` is swept in that variant only;
* :func:`run_sweep` hands the points to a launcher (``core.local`` by default, ``core.slurm``...):
  points already ``done`` in the store are skipped (a killed sweep resumes); :func:`run_points`
  (``core.local``) with ``jobs > 1`` runs points in parallel worker processes (``lmbench run
  --spec-json FILE`` with the working directory off ``sys.path``; each measurement in a clean process), one point's failure
  is recorded and the others go on; workers die with the sweep (``LMBENCH_PARENT_PID``), and a point
  another live process is running (its lease) is left to it;
* :func:`aggregate` summarises the points across seeds: mean and a t-based 95% interval.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..stats.compare import group_points, summarize
from ..spec.config import COMPONENT_TABLES, HARNESS_CONFIGS, TOP_LEVEL_KEYS, expand_variants, parse_value
from ..spec.variants import split_top
from ..errors import ConfigError, LmbenchError, UnknownNameError
from ..files import finite_json
from ..store import FAILED, RunRecord, Store, content_id


# -- parsing ----------------------------------------------------------------------------------
def grid_target(key: str) -> tuple[str | None, str]:
    """``"lstm:model.hidden_size"`` -> ``("lstm", "model.hidden_size")``; a plain key -> ``(None, key)``."""
    variant, sep, path = key.rpartition(":")
    return (variant.strip() if sep else None), path.strip()


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["attention.n_hashes=2,4"]`` -> ``{"attention.n_hashes": [2, 4]}`` (values in TOML syntax).

    A key may name one variant of the spec: ``lstm:model.hidden_size=64,128`` sweeps only that variant.
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        variant, path = grid_target(key)
        parts = path.split(".")
        if not sep or len(parts) < 2 or not all(parts) or not raw.strip() or variant == "":
            raise ConfigError(f"bad --grid '{item}'; expected [VARIANT:]TABLE.KEY=V1,V2,..., e.g. attention.n_hashes=2,4 "
                              "or lstm:model.hidden_size=64,128")
        key = f"{variant}:{path}" if variant else path
        values = [parse_value(v) for v in split_top(raw) if v != ""]
        if not values:
            raise ConfigError(f"bad --grid '{item}': no values")
        if key in grid:
            raise ConfigError(f"--grid {key} given twice; put all its values in one flag: {key}=v1,v2")
        grid[key] = values
    return grid


#: The most points one sweep may have (grid values x seeds x variants): more is a typing slip, and
#: expanding it would take minutes before anything is said.
MAX_POINTS = 10_000


def check_size(grid: dict[str, list[Any]], seeds: Sequence[int], variants: int = 1) -> None:
    """Refuse a sweep of more than :data:`MAX_POINTS` points before expanding it."""
    size = max(variants, 1) * max(len(seeds), 1)
    for values in grid.values():
        size *= max(len(values), 1)
    if size > MAX_POINTS:
        shape = " x ".join([str(len(v)) for v in grid.values()] + ([str(len(seeds))] if seeds else []))
        raise ConfigError(f"the sweep has {size} points ({shape}), more than {MAX_POINTS}; "
                          "narrow --grid or --seeds")


def parse_seeds(text: str | None) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` (inclusive) -> a list of distinct seeds; empty/None -> []."""
    if not text:
        return []
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
                if int(hi) < int(lo):
                    raise ConfigError(f"bad --seeds '{text}': the range {part} is empty (its first seed is above "
                                      f"its last); write {hi}-{lo}")
                if int(hi) - int(lo) + 1 > MAX_POINTS:
                    raise ConfigError(f"bad --seeds '{text}': {int(hi) - int(lo) + 1} seeds is more than "
                                      f"{MAX_POINTS} points; sweep fewer seeds")
                seeds.extend(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ConfigError(f"bad --seeds '{text}'; expected integers like 0,1,2 or a range 0-4") from None
    return list(dict.fromkeys(seeds))


# -- expansion and validation ----------------------------------------------------------------
def _fmt(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _short_keys(paths: Sequence[str]) -> dict[str, str]:
    """Each grid option's label form: the option name when unique in the grid, else the full key."""
    paths = list(dict.fromkeys(paths))
    last = [k.split(".")[-1] for k in paths]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(paths, last)}


def select_variants(spec: dict[str, Any], only: Sequence[str] = ()) -> dict[str, Any]:
    """The spec with only the variants named by ``--only`` (all when none is named)."""
    if not only:
        return spec
    variants = spec.get("variants") or []
    labels = [str(v.get("label") or f"variant{i}") for i, v in enumerate(variants)]
    for wanted in only:
        if wanted not in labels:
            if not labels:
                raise ConfigError(f"--only {wanted}: the spec has no variants to choose from; drop --only")
            raise UnknownNameError("variant", wanted, labels)
    return {**spec, "variants": [v for v, label in zip(variants, labels) if label in only]}


def _applies(key: str, variant_label: str) -> bool:
    target, _ = grid_target(key)
    return target is None or target == variant_label


def expand(spec: dict[str, Any], grid: dict[str, list[Any]], seeds: Sequence[int] = ()) -> dict[str, Any]:
    """The spec with ``variants`` = (its own variants or one) x grid points x seeds.

    Labels read ``<variant> n_hashes=2 chunk=64 seed=0``; a key addressed to one variant
    (``lstm:model.hidden_size``) multiplies only that variant's points.
    """
    base_variants = spec.get("variants") or [{"label": spec.get("run", {}).get("label", ""), "set": {}}]
    short = _short_keys([grid_target(k)[1] for k in grid])
    variants = []
    for i, variant in enumerate(base_variants):
        variant_label = str(variant.get("label") or (f"variant{i}" if spec.get("variants") else ""))
        keys = [k for k in grid if _applies(k, variant_label)]
        paths = [grid_target(k)[1] for k in keys]
        for combo in itertools.product(*(grid[k] for k in keys)):
            for seed in (list(seeds) or [None]):
                sets = dict(variant.get("set", {}))
                sets.update(zip(paths, combo))
                parts = [variant_label] + [f"{short[k]}={_fmt(v)}" for k, v in zip(paths, combo)]
                if seed is not None:
                    sets["run.seed"] = seed
                    parts.append(f"seed={seed}")
                variants.append({"label": " ".join(p for p in parts if p) or "base", "set": sets})
    out = {k: v for k, v in spec.items() if k != "variants"}
    out["variants"] = variants
    return out


def validate_grid(spec: dict[str, Any], grid: dict[str, list[Any]], registries: Any) -> None:
    """Fail before anything runs when a grid key names a table, option or variant that is not in the
    spec, or a value its option cannot take: each value is checked against each variant it applies
    to, resolved with the rest of that variant's spec (so a recipe's own cross-key rules hold)."""
    from ..spec.config import assignments_to_spec, merge, resolve

    variants = expand_variants(spec)
    labels = [label for label, _ in variants]
    has_variants = bool(spec.get("variants"))
    tables_in_spec = sorted(t for t in variants[0][1] if t in COMPONENT_TABLES) + list(HARNESS_CONFIGS)
    resolved: dict[str, Any] = {}
    for key, values in grid.items():
        target, path = grid_target(key)
        if target is not None and not has_variants:
            raise ConfigError(f"grid key '{key}' names variant '{target}' but the spec has no variants; "
                              f"write --grid {path}=...")
        if target is not None and target not in labels:
            raise UnknownNameError("variant (grid key {key})".format(key=key), target, labels)
        table, option = path.split(".", 1)
        if table not in TOP_LEVEL_KEYS or table in ("variants", "preset", "description"):
            raise ConfigError(f"grid key '{key}': unknown table '{table}'; tables in the spec: {', '.join(tables_in_spec)}")
        if table in HARNESS_CONFIGS:
            fields = [f.name for f in dataclasses.fields(HARNESS_CONFIGS[table])]
            if option not in fields:
                raise ConfigError(f"grid key '{key}' is not an option of [{table}]; valid: "
                                  + ", ".join(f"{table}.{f}" for f in fields))
        for label, variant in variants:
            if not _applies(key, label):
                continue
            where = f" (variant '{label}')" if has_variants else ""
            if table not in variant and table not in HARNESS_CONFIGS:
                raise ConfigError(f"grid key '{key}': the spec{where} has no [{table}] table; tables in the spec: "
                                  f"{', '.join(tables_in_spec)}")
            if option == "name" or any(grid_target(k)[1] == f"{table}.name" for k in grid) or table == "metrics":
                continue  # options depend on the component picked: each point is resolved by the runner
            if table not in HARNESS_CONFIGS:
                if label not in resolved:
                    resolved[label] = resolve(variant, registries)
                _check_option(key, table, option, resolved[label], where, has_variants and target is None, labels)
            for value in values:  # each value, with the rest of the variant's resolved spec
                try:
                    resolve(merge(variant, assignments_to_spec({path: value})), registries)
                except LmbenchError as exc:
                    raise ConfigError(f"grid value {path}={_fmt(value)}{where}: {exc}") from None


def _check_option(key: str, table: str, option: str, resolved: Any, where: str, addressable: bool,
                  labels: Sequence[str]) -> None:
    """The option must be a field of the component the variant resolves ``table`` to."""
    component = resolved.components.get(table)
    cls = getattr(component.entry.load(), "Config", None) if component else None
    fields = [f.name for f in dataclasses.fields(cls) if f.init] if cls and dataclasses.is_dataclass(cls) else []
    if option in fields:
        return
    valid = ", ".join(f"{table}.{f}" for f in ["name", *fields])
    hint = (f"; to sweep it in one variant only, address it: --grid VARIANT:{table}.{option}=... "
            f"(variants: {', '.join(labels)})") if addressable else ""
    raise ConfigError(f"grid key '{key}' is not an option of {table} {component.entry.name}{where}; valid: {valid}{hint}")


# -- running --------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """What a sweep did: its group, the points' records, and how many were skipped as done."""

    group_id: str
    name: str
    records: list[RunRecord]
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    submissions: list[Any] = field(default_factory=list)  # where each launched point went (job ids)
    launched: bool = False  # True: a non-blocking launcher queued the points; records come later


def sweep_name(spec: dict[str, Any]) -> str:
    """A stable default name: the same sweep command gives the same name, so it resumes in place."""
    base = str(spec.get("preset") or spec.get("recipe", {}).get("name") or "spec").replace(" ", "-")
    return f"sweep-{base}-{content_id(spec, length=8)}"


def point_command(base_args: Sequence[str], label: str, sets: dict[str, Any], has_base_variants: bool,
                  base_label: str) -> str:
    """``lmbench run ...`` that reproduces one point: the sweep's spec flags plus ``--set`` per value."""
    args = ["lmbench", "run", *base_args]
    if has_base_variants and base_label:
        args += ["--only", base_label]
    for key, value in sets.items():
        args += ["--set", f"{key}={_toml(value)}"]
    return " ".join(shlex.quote(a) for a in args)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def run_sweep(store: Store, spec: dict[str, Any], *, host: Any = None, jobs: int = 1, name: str | None = None,
              command: str = "", point_commands: dict[str, str] | None = None, force: bool = False,
              console: Any = None, worker_timeout: float | None = None, launcher: Any = None,
              launcher_name: str = "core.local", reuse_stale: bool = False) -> SweepResult:
    """Run every point of an expanded spec (see :func:`expand`) and record the sweep as a group.

    Each point keeps the sweep's label in the group, also when the store had it done under another
    name (an earlier run or sweep), so its seeds pool into one row and pair up in ``lmbench compare``.
    ``reuse_stale`` counts a point done when a run of its spec is done, whatever code made it.

    ``launcher`` (default: ``core.local`` with ``jobs``) decides where the points run. A blocking
    launcher returns when every point has ended and the result holds their records; a non-blocking
    one (``core.slurm``) only queues them: the job ids are written for ``lmbench status``
    (:func:`lmbench.launch.status.record_launch`) and returned in ``submissions``.
    """
    from .base import Point
    from .local import LocalConfig, LocalLauncher
    from .status import record_launch
    from ..plugin.host import default_host
    from ..run.runner import Runner

    host = host or default_host()
    launcher = launcher or LocalLauncher(LocalConfig(jobs=jobs))
    in_process = isinstance(launcher, LocalLauncher) and launcher.config.jobs <= 1
    target = getattr(launcher, "execution_target", None)  # a launcher that runs points elsewhere says how
    runner = Runner(store, host, console=console, force=force, progress=in_process and console is not None,
                    reuse_stale=reuse_stale, target=target() if callable(target) else None)
    planned = runner.plan(spec)  # resolves every point: a bad value fails here, before any work
    name = name or sweep_name(spec)
    ids = [p.run_id for p in planned]
    if len(set(ids)) != len(ids):
        dup = next(p.label for p in planned if ids.count(p.run_id) > 1)
        raise ConfigError(f"sweep points resolve to the same run (e.g. '{dup}'): a grid value has no effect; "
                          "drop the duplicate values")
    group_id = content_id("sweep", name, ids)
    store.add_group(group_id, "sweep", name, command, spec, ids, labels=[p.label for p in planned])
    commands = point_commands or {}
    done_before = {p.run_id for p in planned if (r := store.find(p.run_id)) is not None and r.status == "done"}
    skipped = 0 if force else len(done_before)
    todo = [Point(p.run_id, p.label, p.resolved.spec, commands.get(p.label, command), planned=p)
            for p in planned if force or p.run_id not in done_before]
    if console is not None and skipped:
        console.print(f"[dim]{skipped} of {len(planned)} point(s) already done in the store: skipped[/dim]")
    if isinstance(launcher, LocalLauncher):
        submissions = launcher.launch(store, todo, force=force, console=console, runner=runner, timeout=worker_timeout)
    else:
        submissions = launcher.launch(store, todo, force=force, console=console)
    if not getattr(launcher, "blocking", True):
        record_launch(store, group_id, launcher_name, submissions)
        return SweepResult(group_id, name, [], skipped, [], submissions=submissions, launched=True)
    records = [dataclasses.replace(store.get(p.run_id), label=p.label) for p in planned
               if store.find(p.run_id) is not None]  # labelled by this sweep, as in its stored group
    failed = [f"{r.name}: {r.status}" for r in records if r.status in FAILED or r.status == "running"]
    return SweepResult(group_id, name, records, skipped, failed, submissions=submissions)


# -- aggregation ------------------------------------------------------------------------------
def aggregate(records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """One dict per point: label, n seeds ok / total, and per metric mean, std and 95% CI half-width
    (None where undefined, e.g. the spread of one seed: the rows go out as strict JSON)."""
    out = []
    for label, runs in group_points(records).items():
        ok = [r for r in runs if r.ok]
        row: dict[str, Any] = {"point": label, "runs": len(runs), "ok": len(ok),
                               "status": "ok" if len(ok) == len(runs) else
                               ", ".join(sorted({r.status for r in runs if not r.ok}))}
        keys = [k for r in ok for k, v in r.results.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        for key in dict.fromkeys(keys):
            summary = summarize([r.results[key] for r in ok if isinstance(r.results.get(key), (int, float))])
            if summary is not None:
                row[key] = {"mean": summary.mean, "std": summary.std, "ci95": summary.half_ci, "n": summary.n}
        out.append(finite_json(row))
    return out

