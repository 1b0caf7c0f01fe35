"""Reading a store: runs (:class:`RunRecord`), groups, per-step logs, measurements, JSON Lines export.

:class:`RunReads` is the reading half of :class:`lmbench.store.Store` (as :class:`lmbench.store.leases.LeaseRows`
is its leases): the store's methods that never write. It uses the store's ``reading()``
connection, ``root`` and ``path``; every run comes back as one :class:`RunRecord` with its results.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import schema
from .schema import SCHEMA_VERSION
from ..errors import StoreError, UnknownNameError
from ..files import json_dumps

__all__ = ["RunRecord", "RunReads", "FINISHED", "ABANDONED"]

FINISHED = ("done",)
#: Shown instead of ``running`` when the run's owner process is gone (killed, machine lost).
ABANDONED = "abandoned"
_BATCH = 500  # ids per IN (...) when reading many runs' results


@dataclass
class RunRecord:
    """One run as stored: its spec, environment, status and final results."""

    id: str
    label: str
    preset: str
    status: str
    reason: str | None
    spec: dict[str, Any]
    env: dict[str, Any]
    command: str
    run_dir: str
    created: float
    updated: float
    attempts: int
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A human name: the label, or the model and attention names."""
        if self.label:
            return self.label
        parts = [self.spec.get(t, {}).get("name", "") for t in ("model", "attention")]
        return " + ".join(p for p in parts if p) or self.id

    @property
    def ok(self) -> bool:
        return self.status in FINISHED


class RunReads:
    """The read-only methods of a store (mixed into :class:`lmbench.store.Store`)."""

    def get(self, run_id: str) -> RunRecord:
        """A run by exact id or unique id prefix (no wildcards); unknown ids raise with close matches."""
        if not run_id:
            raise StoreError("empty run id; give a run id or a prefix of one (see `lmbench export`)")
        runs = schema.runs
        with self.reading() as c:
            rows = c.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().all() or \
                c.execute(sa.select(runs).where(runs.c.id.startswith(run_id, autoescape=True))).mappings().all()
            if len(rows) != 1:
                if len(rows) > 1:
                    raise StoreError(f"run id prefix '{run_id}' matches {len(rows)} runs; give more characters")
                ids = list(c.execute(sa.select(runs.c.id).order_by(runs.c.updated.desc()).limit(200)).scalars())
                raise UnknownNameError(f"run (store {self.path})", run_id, ids)
            return self._records(c, rows)[0]

    def find(self, run_id: str) -> RunRecord | None:
        with self.reading() as c:
            rows = c.execute(sa.select(schema.runs).where(schema.runs.c.id == run_id)).mappings().all()
            return self._records(c, rows)[0] if rows else None

    def records(self, run_ids: Iterable[str]) -> list[RunRecord]:
        """Runs by exact id, in the order given (ids not in the store left out), their results read in
        batches: one page of a listing (``lmbench ui``) without one query per run."""
        wanted = list(dict.fromkeys(run_ids))
        rows: dict[str, Any] = {}
        with self.reading() as c:
            for start in range(0, len(wanted), _BATCH):
                for row in c.execute(sa.select(schema.runs).where(schema.runs.c.id.in_(wanted[start:start + _BATCH]))
                                     ).mappings():
                    rows[row["id"]] = row
            return self._records(c, [rows[i] for i in wanted if i in rows])

    def runs(self, *, last: int | None = None, status: str | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        query = sa.select(schema.runs).order_by(schema.runs.c.updated.desc())
        if status:
            query = query.where(schema.runs.c.status == status)
        if last:
            query = query.limit(int(last))
        with self.reading() as c:
            return self._records(c, c.execute(query).mappings().all())

    def group(self, group_id: str) -> tuple[dict[str, Any], list[RunRecord]]:
        """A group (by id prefix or name, newest first) and its runs in order."""
        info = self.group_info(group_id)
        records = [self.get(i) for i in info["runs"]]  # each run under the label the group gave it
        return ({k: v for k, v in info.items() if k not in ("runs", "labels")},
                [dataclasses.replace(r, label=label) if label else r for r, label in zip(records, info["labels"])])

    def group_info(self, group_id: str) -> dict[str, Any]:
        """A group's row (by id prefix or name) with ``runs``: its run ids in order, started or not, and
        ``labels``: each run's label in this group (None where the group gave none)."""
        groups, members = schema.groups, schema.group_runs
        with self.reading() as c:
            row = c.execute(sa.select(groups).where(sa.or_(groups.c.id.startswith(group_id, autoescape=True),
                                                           groups.c.name == group_id))
                            .order_by(groups.c.created.desc())).mappings().first() if group_id else None
            if row is None:
                names = [n for n in c.execute(sa.select(groups.c.name)).scalars() if n]
                raise UnknownNameError("sweep or experiment", group_id, names)
            label = members.c.label if "label" in self._columns(c, "group_runs") else sa.null()  # old read-only store
            rows = c.execute(sa.select(members.c.run_id, label).where(members.c.group_id == row["id"])
                             .order_by(members.c.position)).all()
        return {**dict(row), "runs": [r[0] for r in rows], "labels": [r[1] for r in rows]}

    @staticmethod
    def _columns(c: sa.Connection, table: str) -> set[str]:
        return {col["name"] for col in sa.inspect(c).get_columns(table)}

    def find_done_by_spec_id(self, spec_id: str) -> RunRecord | None:
        """The newest done run of a spec whatever code made it: its id is ``spec_id`` (a run stored
        before ids covered the code) or its environment records that ``spec_id``."""
        runs = schema.runs
        with self.reading() as c:
            rows = c.execute(sa.select(runs).where(runs.c.status == "done")
                             .where(sa.or_(runs.c.id == spec_id, runs.c.env.contains(spec_id, autoescape=True)))
                             .order_by(runs.c.updated.desc())).mappings().all()
            rows = [r for r in rows if r["id"] == spec_id or json.loads(r["env"] or "{}").get("spec_id") == spec_id]
            return self._records(c, rows[:1])[0] if rows else None

    def group_members(self) -> list[tuple[str, str]]:
        """Every (group id, run id) membership, in each group's run order."""
        m = schema.group_runs
        with self.reading() as c:
            return [tuple(r) for r in c.execute(sa.select(m.c.group_id, m.c.run_id).order_by(m.c.position))]

    def groups(self) -> list[dict[str, Any]]:
        with self.reading() as c:
            return [dict(r) for r in c.execute(sa.select(schema.groups).order_by(schema.groups.c.created.desc())).mappings()]

    def steps(self, run_id: str, key: str | None = None) -> dict[str, list[tuple[int, float]]]:
        """Per-step metrics: key -> [(step, value)], the last write of a step winning (resume)."""
        s = schema.steps
        query = sa.select(s.c.step, s.c.key, s.c.value).where(s.c.run_id == run_id)
        if key:
            query = query.where(s.c.key == key)
        series: dict[str, dict[int, float]] = {}
        with self.reading() as c:
            for step, k, value in c.execute(query.order_by(schema.step_order(self.dialect))):
                series.setdefault(k, {})[step] = value if value is not None else math.nan
        return {k: sorted(v.items()) for k, v in series.items()}

    def step_times(self, run_id: str) -> list[tuple[int, float]]:
        """(step, wall time) of every logged row of a run, in the order written."""
        s = schema.steps
        with self.reading() as c:
            return [(int(a), float(b)) for a, b in c.execute(
                sa.select(s.c.step, s.c.time).where(s.c.run_id == run_id).order_by(schema.step_order(self.dialect)))]

    def measurements(self, run_id: str) -> dict[str, dict[str, Any]]:
        m = schema.measurements
        with self.reading() as c:
            return {n: json.loads(d) for n, d in c.execute(sa.select(m.c.name, m.c.data).where(m.c.run_id == run_id))}

    def export_jsonl(self, out: Any, run_ids: Iterable[str] | None = None) -> int:
        """Write one JSON object per run (spec, env, results, steps, measurements), then one per group
        (``{"group": ..., "runs": [...], "labels": [...]}``) holding an exported run; return the run count."""
        records = [self.get(i) for i in run_ids] if run_ids is not None else self.runs()
        for record in records:
            obj = {**record.__dict__, "steps": self.steps(record.id), "measurements": self.measurements(record.id),
                   "schema_version": SCHEMA_VERSION}  # `lmbench import` refuses lines from a newer lmbench
            out.write(json_dumps(obj, sort_keys=False) + "\n")
        exported = {r.id for r in records}
        for group in self.groups():  # sweeps and experiments with their runs in order: `lmbench import` restores them
            info = self.group_info(group["id"])
            if run_ids is None or exported.intersection(info["runs"]):
                row = {k: v for k, v in info.items() if k not in ("runs", "labels")}
                row["spec"] = json.loads(row["spec"]) if row.get("spec") else {}
                out.write(json_dumps({"group": row, "runs": info["runs"], "labels": info["labels"]}, sort_keys=False) + "\n")
        return len(records)

    def _records(self, c: sa.Connection, rows: list[Any]) -> list[RunRecord]:
        """Records for run rows, their results read in batches (one query per 500 runs, not one per run)."""
        res = schema.results
        results: dict[str, dict[str, Any]] = {}
        ids = [row["id"] for row in rows]
        for start in range(0, len(ids), _BATCH):
            for run_id, key, value, text in c.execute(sa.select(res.c.run_id, res.c.key, res.c.value, res.c.text)
                                                      .where(res.c.run_id.in_(ids[start:start + _BATCH]))):
                results.setdefault(run_id, {})[key] = value if text is None else json.loads(text)
        return [self._record(row, results.get(row["id"], {}), c) for row in rows]

    def _record(self, row: Any, results: dict[str, Any], c: sa.Connection) -> RunRecord:
        status, reason = row["status"], row["reason"]
        if status == "running":
            holder = self._lease_row(c, row["id"])
            if holder is None or not holder.alive():
                status = ABANDONED
                reason = reason or ("its process is gone" + (f" (pid {holder.pid} on {holder.host})" if holder else "")
                                    + "; run it again to resume")
        return RunRecord(id=row["id"], label=row["label"] or "", preset=row["preset"] or "", status=status,
                         reason=reason, spec=json.loads(row["spec"]), env=json.loads(row["env"] or "{}"),
                         command=row["command"] or "", run_dir=str(self._run_folder(row["id"], row["run_dir"])),
                         created=row["created"], updated=row["updated"], attempts=row["attempts"], results=results)

    def _run_folder(self, run_id: str, stored: str | None) -> Path:
        """A run's folder (absolute) under this store's root: stored relative; older stores stored it as
        typed (absolute or relative to the working directory), whose last part is the run id."""
        return self.root.absolute() / (Path(stored).name if stored else run_id)
