"""Combine stores made apart: ``lmbench store merge SRC... DST`` and ``lmbench import runs.jsonl``.

The run id is the identity: a run id that the destination lacks is copied whole (run row with its
attempts and times, per-step rows in their order, results, measurements, group memberships and,
for stores, its run folder); a run id it already has is compared, and is either the same run
(nothing to do) or a conflict, reported with what differs and left exactly as it was in the
destination. Nothing is ever overwritten.

Every record of a source is checked before anything of that source is written
(:mod:`lmbench.store_checks`: run ids that name a folder inside the store, final statuses, finite
numbers, a schema not newer than this lmbench's); a bad one is refused with its line or id.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import StoreError
from . import Store, _dumps, schema
from .writes import insert_ignore, upsert_many
from .checks import check_id, check_payload, check_schema

_COMPARED = ("spec", "status", "reason", "results", "measurements", "steps")


@dataclass
class MergeReport:
    """What a merge or import did: runs copied, runs already present and equal, conflicts."""

    copied: list[str] = field(default_factory=list)
    same: list[str] = field(default_factory=list)
    conflicts: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (run id, source, fields)
    groups: int = 0
    duplicates: list[tuple[str, str, str]] = field(default_factory=list)  # (run id, source, where its copy is kept)

    def lines(self) -> list[str]:
        """One line per duplicate and per conflict, then a summary line."""
        out = [f"duplicate: run {run_id} is done in {source} too (another training of the same spec); kept both: "
               f"the destination's in the store, the source's in {where}" for run_id, source, where in self.duplicates]
        out += [f"conflict: run {run_id} from {source} differs in {', '.join(fields)}; kept the destination's"
                for run_id, source, fields in self.conflicts]
        out.append(f"{len(self.copied)} run(s) copied, {len(self.same)} already there, "
                   f"{len(self.duplicates)} duplicate(s), {len(self.conflicts)} conflict(s), {self.groups} group(s) added")
        return out


@dataclass
class RunPayload:
    """Everything stored about one run, in a form both a store and a JSONL line give."""

    row: dict[str, Any]
    results: dict[str, Any]
    measurements: dict[str, Any]
    step_rows: list[tuple[int, str, float | None, float]]  # (step, key, value, time) in write order
    folder: Path | None = None
    where: str = ""  # ``file:line`` of an export file, for errors

    def comparable(self) -> dict[str, Any]:
        """The fields two copies of one run must agree on (steps: each key's last write per step)."""
        series: dict[str, dict[int, Any]] = {}
        for step, key, value, _ in self.step_rows:
            series.setdefault(key, {})[int(step)] = None if value is None or math.isnan(value) else float(value)
        return {"spec": self.row["spec"], "status": _settled(self.row["status"]), "reason": self.row.get("reason"),
                "results": self.results, "measurements": self.measurements,
                "steps": {k: sorted(v.items()) for k, v in series.items()}}


def _settled(status: str) -> str:
    """A run left ``running`` reads as ``abandoned`` once exported: the same state."""
    return "abandoned" if status == "running" else status


def store_payloads(src: Store) -> Iterator[RunPayload]:
    """Every run of a store, raw (stored status, step times kept)."""
    with src.reading() as c:
        check_schema(schema.stored_version(c), f"source store {src.path if src.url else src.root}")
    for record in src.runs():
        with src.reading() as c:
            row = dict(c.execute(sa.select(schema.runs).where(schema.runs.c.id == record.id)).mappings().one())
            s = schema.steps
            steps = [tuple(r) for r in c.execute(sa.select(s.c.step, s.c.key, s.c.value, s.c.time)
                                                 .where(s.c.run_id == record.id).order_by(schema.step_order(src.dialect)))]
        row["spec"], row["env"] = json.loads(row["spec"]), json.loads(row["env"] or "{}")
        yield RunPayload(row, record.results, src.measurements(record.id), steps, Path(record.run_dir))


def jsonl_payloads(lines: Iterable[str], origin: str, groups: list[dict[str, Any]] | None = None) -> Iterator[RunPayload]:
    """Runs from ``lmbench export`` output, one JSON object a line; its group lines (sweeps, experiments)
    are appended to ``groups`` for :func:`add_groups`."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{origin}:{number}"
        try:
            obj = json.loads(line)
            if isinstance(obj, dict) and "group" in obj:
                if groups is not None:
                    groups.append({"row": dict(obj["group"]), "runs": list(obj["runs"]),
                                   "labels": list(obj.get("labels") or [None] * len(obj["runs"]))})
                continue
            row = {k: obj[k] for k in ("id", "spec", "status", "created", "updated")}
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{where} is not a run exported by `lmbench export` ({exc}); fix or drop that line")
        if "schema_version" in obj:
            version = obj["schema_version"]
            check_schema(version if isinstance(version, int) else 0, f"{where}")
        row.update(label=obj.get("label", ""), preset=obj.get("preset", ""), reason=obj.get("reason"),
                   env=obj.get("env", {}), command=obj.get("command", ""), attempts=obj.get("attempts", 1),
                   run_dir=obj.get("run_dir"))
        try:
            steps = [(step, key, value, row["updated"])
                     for key, points in (obj.get("steps") or {}).items() for step, value in points]
        except (AttributeError, TypeError, ValueError) as exc:
            raise StoreError(f"{where}: steps must map each name to [[step, value], ...] ({exc}); "
                             "refused, nothing of it imported")
        steps.sort(key=lambda r: r[0] if isinstance(r[0], int) else -1)
        yield RunPayload(row, obj.get("results") or {}, obj.get("measurements") or {}, steps, where=where)


def merge_into(dst: Store, payloads: Iterable[RunPayload], source: str, report: MergeReport, *,
               source_root: Path | None = None) -> MergeReport:
    """Copy the runs ``dst`` lacks; compare the ones it has (conflicts reported, never overwritten).
    Every payload is checked first (:func:`lmbench.store_checks.check_payload`): one bad record and
    nothing of this source is written."""
    payloads = [check_payload(p, p.where or f"{source}", source_root=source_root, dest_root=dst.root)
                for p in payloads]
    for payload in payloads:
        run_id = payload.row["id"]
        existing = _existing(dst, run_id)
        if existing is None:
            _copy(dst, payload)
            report.copied.append(run_id)
            continue
        mine, theirs = existing.comparable(), payload.comparable()
        differ = [f for f in _COMPARED if _canon(mine[f]) != _canon(theirs[f])]
        if not differ or (mine["status"] == "done" and theirs["status"] != "done" and "spec" not in differ):
            report.same.append(run_id)  # equal, or the destination already has it done: nothing to add
        elif mine["status"] == theirs["status"] == "done" and "spec" not in differ:
            report.duplicates.append((run_id, source, str(_keep_duplicate(dst, payload))))
        else:
            report.conflicts.append((run_id, source, differ))
    return report


def _keep_duplicate(dst: Store, payload: RunPayload) -> Path:
    """Keep another done copy of a run beside the destination's: ``<run folder>/duplicates/<hash>.json``
    (its row, results, measurements and steps, as ``lmbench export`` writes them). The same copy merged
    again lands on the same file: merging stays idempotent."""
    from . import content_id

    comparable = payload.comparable()
    record = {**{k: v for k, v in payload.row.items() if k != "run_dir"}, "results": payload.results,
              "measurements": payload.measurements, "steps": comparable["steps"]}
    path = dst.run_dir(payload.row["id"]) / "duplicates" / f"{content_id(_canon(comparable), payload.row.get('created'))}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1, sort_keys=True, default=str))
    return path


def add_groups(dst: Store, groups: Iterable[dict[str, Any]], report: MergeReport) -> None:
    """Add each group (``{"row", "runs", "labels"}``) the destination lacks, with its runs in order and labels."""
    for group in groups:
        row = dict(group["row"])
        if not isinstance(row.get("spec"), str):
            row["spec"] = _dumps(row.get("spec") or {})
        row = {k: row.get(k) for k in ("id", "kind", "name", "command", "spec", "created")}
        with dst.transaction() as c:
            added = c.execute(insert_ignore(c, schema.groups).values(**row).returning(schema.groups.c.id)).first()
            for position, (run_id, label) in enumerate(zip(group["runs"], group["labels"])):
                c.execute(insert_ignore(c, schema.group_runs).values(group_id=row["id"], run_id=run_id,
                                                                     position=position, label=label))
        report.groups += added is not None


def merge_stores(sources: list[Store], dst: Store) -> MergeReport:
    """``lmbench store merge``: runs, then groups and their memberships, from each source in turn."""
    report = MergeReport()
    for src in sources:
        if (src.url or str(src.root.resolve())) == (dst.url or str(dst.root.resolve())):
            raise StoreError(f"cannot merge store {src.path} into itself; name a different destination")
        merge_into(dst, store_payloads(src), str(src.path if src.url else src.root), report, source_root=src.root)
        groups = []
        for group in src.groups():
            check_id(group["id"], f"{src.path if src.url else src.root}, group")
            info = src.group_info(group["id"])
            groups.append({"row": group, "runs": info["runs"], "labels": info["labels"]})
            launch = Path(src.root) / "launches" / f"{group['id']}.json"  # what `lmbench status` reads
            target = Path(dst.root) / "launches" / launch.name
            if launch.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(launch, target)
        add_groups(dst, groups, report)
    return report


def _existing(dst: Store, run_id: str) -> RunPayload | None:
    record = dst.find(run_id)
    if record is None:
        return None
    with dst.reading() as c:
        row = dict(c.execute(sa.select(schema.runs).where(schema.runs.c.id == run_id)).mappings().one())
        s = schema.steps
        steps = [tuple(r) for r in c.execute(sa.select(s.c.step, s.c.key, s.c.value, s.c.time)
                                             .where(s.c.run_id == run_id).order_by(schema.step_order(dst.dialect)))]
    row["spec"] = json.loads(row["spec"])
    return RunPayload(row, record.results, dst.measurements(run_id), steps)


def _copy(dst: Store, payload: RunPayload) -> None:
    """One transaction per run: a failure leaves the run absent, never half-copied."""
    row = dict(payload.row)
    run_id = row["id"]
    row.update(spec=_dumps(row["spec"]), env=_dumps(row.get("env") or {}), run_dir=run_id)
    row = {k: row.get(k) for k in ("id", "label", "preset", "status", "reason", "spec", "env", "command", "run_dir",
                                    "created", "updated", "attempts")}
    with dst.transaction() as c:
        c.execute(schema.runs.insert().values(**row))
        if payload.step_rows:  # one row per (run, step, key): a repeated step keeps its last value
            upsert_many(c, schema.steps, schema.STEP_KEY, [
                {"run_id": run_id, "step": step, "key": key, "time": when,
                 "value": None if value is None or math.isnan(value) else value}
                for step, key, value, when in payload.step_rows])
        for key, value in payload.results.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            c.execute(schema.results.insert().values(run_id=run_id, key=key, value=float(value) if number else None,
                                                     text=None if number else _dumps(value)))
        for name, data in payload.measurements.items():
            c.execute(schema.measurements.insert().values(run_id=run_id, name=name, data=_dumps(data)))
    if payload.folder is not None and payload.folder.is_dir():
        target = dst.run_dir(run_id)
        if not target.exists():
            shutil.copytree(payload.folder, target)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
