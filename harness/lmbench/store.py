"""The results store: one SQLite file (WAL, one transaction per write) under a runs folder.

Layout of a store folder (``runs/`` by default, ``--store DIR`` or ``LMBENCH_STORE``)::

    runs/lmbench.sqlite     runs, per-step metrics, final results, measurements, groups
    runs/<run id>/          spec.toml/spec.json, env.json, log.txt, checkpoints/, report files

Rows are appended; a run's final results and measurements are replaced only by a later attempt of
the same run (same id), so a killed run leaves everything it recorded. Several processes may
write one store at once (a sweep with ``--jobs``): SQLite's locking serialises them, and a run's
lease (:mod:`lmbench.lease`, the ``leases`` table) lets only one of them train a given run.

Run folders are stored relative to the store folder, so a store can be moved, copied or archived
whole. A store on read-only media opens read-only (``mode=ro``, or ``immutable=1`` when SQLite
cannot create its shared-memory file there).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import StoreError, UnknownNameError
from .files import json_dumps
from .store_leases import LeaseRows

DB_NAME = "lmbench.sqlite"
SCHEMA_VERSION = 1
FINISHED = ("done",)
FAILED = ("failed", "oom", "nan", "timeout", "interrupted", "abandoned")
#: Shown instead of ``running`` when the run's owner process is gone (killed, machine lost).
ABANDONED = "abandoned"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs(
    id TEXT PRIMARY KEY, label TEXT, preset TEXT, status TEXT NOT NULL, reason TEXT,
    spec TEXT NOT NULL, env TEXT, command TEXT, run_dir TEXT,
    created REAL NOT NULL, updated REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS steps(
    run_id TEXT NOT NULL, step INTEGER NOT NULL, key TEXT NOT NULL, value REAL, time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS steps_run ON steps(run_id, key, step);
CREATE TABLE IF NOT EXISTS results(
    run_id TEXT NOT NULL, key TEXT NOT NULL, value REAL, text TEXT, PRIMARY KEY(run_id, key));
CREATE TABLE IF NOT EXISTS measurements(
    run_id TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY(run_id, name));
CREATE TABLE IF NOT EXISTS groups(
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT, command TEXT, spec TEXT, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS group_runs(
    group_id TEXT NOT NULL, run_id TEXT NOT NULL, position INTEGER, label TEXT, PRIMARY KEY(group_id, run_id));
CREATE TABLE IF NOT EXISTS leases(
    run_id TEXT PRIMARY KEY, token TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, proc_started REAL,
    started REAL NOT NULL, heartbeat REAL NOT NULL);
"""


def default_store_dir() -> Path:
    """``$LMBENCH_STORE`` or ``./runs``."""
    return Path(os.environ.get("LMBENCH_STORE", "runs"))


def content_id(*parts: Any, length: int = 12) -> str:
    """A short, stable hash of JSON-serialisable parts (the run id and group ids)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


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


class Store(LeaseRows):
    """The SQLite results store at ``root/lmbench.sqlite``; run folders under ``root``."""

    def __init__(self, root: str | Path | None = None, *, readonly: bool = False, timeout: float = 60.0):
        self.root = Path(root) if root is not None else default_store_dir()
        self.path = self.root / DB_NAME
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.exists():
                    raise StoreError(f"no results store at {self.path}; run an experiment first or pass --store")
                self.conn = _connect_read_only(self.path, timeout)
            else:
                self.root.mkdir(parents=True, exist_ok=True)
                if not os.access(self.root, os.W_OK):
                    raise StoreError(f"results store folder {self.root} is not writable; pass --store DIR or fix its permissions")
                self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
                self._set_up(timeout)
        except sqlite3.Error as exc:
            raise StoreError(_explain(exc, self.path)) from exc
        except OSError as exc:  # the folder cannot be made: a file in the way, a read-only filesystem
            raise StoreError(f"cannot create results store folder {self.root} ({exc.strerror or exc}); "
                             "pass --store DIR") from exc
        self.conn.row_factory = sqlite3.Row

    def _set_up(self, timeout: float) -> None:
        """WAL mode and the schema, retried while another process is creating the same store.

        Switching to WAL can fail at once with 'database is locked' (SQLite does not wait on its
        busy timeout for it), which torchrun ranks and sweep workers opening a new store hit.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                with self.transaction() as c:
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        c.execute(statement)
                    if "label" not in {r[1] for r in c.execute("PRAGMA table_info(group_runs)")}:
                        c.execute("ALTER TABLE group_runs ADD COLUMN label TEXT")  # stores made before labels
                    c.execute("INSERT OR IGNORE INTO meta VALUES('schema_version', ?)", (str(SCHEMA_VERSION),))
                return
            except (sqlite3.OperationalError, StoreError) as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT); rolled back on any error."""
        if self.readonly:
            raise StoreError(f"results store {self.path} was opened read-only")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(_explain(exc, self.path)) from exc
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(_explain(exc, self.path)) from exc
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        """Roll back unless SQLite already has (it does so itself on a full disk)."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    # -- writing ---------------------------------------------------------------------------
    def start_run(self, run_id: str, spec: dict[str, Any], *, label: str = "", preset: str = "",
                  command: str = "", env: dict[str, Any] | None = None) -> None:
        """Insert the run as ``running`` (or mark a new attempt of an existing one)."""
        now = time.time()
        with self.transaction() as c:
            row = c.execute("SELECT attempts FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                c.execute("INSERT INTO runs(id,label,preset,status,reason,spec,env,command,run_dir,created,updated,attempts)"
                          " VALUES(?,?,?,?,?,?,?,?,?,?,?,1)",
                          (run_id, label, preset, "running", None, _dumps(spec), _dumps(env or {}), command,
                           run_id, now, now))  # relative to the store folder
            else:
                c.execute("UPDATE runs SET status='running', reason=NULL, env=?, command=?, run_dir=?, updated=?,"
                          " attempts=attempts+1 WHERE id=?", (_dumps(env or {}), command, run_id, now, run_id))

    def log_step(self, run_id: str, step: int, values: dict[str, Any]) -> None:
        """Append one step's metrics (numbers only; non-finite values are kept as NULL)."""
        now = time.time()
        rows = [(run_id, int(step), k, _number(v), now) for k, v in values.items() if _is_number(v)]
        if rows:
            with self.transaction() as c:
                c.executemany("INSERT INTO steps VALUES(?,?,?,?,?)", rows)

    def finish_run(self, run_id: str, status: str, *, reason: str | None = None,
                   results: dict[str, Any] | None = None) -> None:
        """Record the final status, reason and results of a run, in one transaction."""
        with self.transaction() as c:
            c.execute("UPDATE runs SET status=?, reason=?, updated=? WHERE id=?", (status, reason, time.time(), run_id))
            _write_results(c, run_id, results or {})

    def record_results(self, run_id: str, results: dict[str, Any]) -> None:
        """Record some results of a running run now (one transaction), so a later failure keeps them;
        a key recorded again is replaced."""
        if results:
            with self.transaction() as c:
                _write_results(c, run_id, results)

    def add_measurement(self, run_id: str, name: str, data: dict[str, Any]) -> None:
        """Store one measurement (timing statistics, memory peaks, ...) as JSON."""
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO measurements VALUES(?,?,?)", (run_id, name, _dumps(data)))

    def set_command(self, run_id: str, command: str) -> None:
        """Replace the command recorded as reproducing a run (a sweep records its own form)."""
        with self.transaction() as c:
            c.execute("UPDATE runs SET command=? WHERE id=?", (command, run_id))

    def add_group(self, group_id: str, kind: str, name: str, command: str, spec: dict[str, Any],
                  run_ids: Iterable[str], labels: Sequence[str] | None = None) -> None:
        """Record an invocation (a run with variants, or a sweep) and its runs, in order; ``labels``
        names each run within this group (a run made earlier under another name keeps it elsewhere)."""
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO groups VALUES(?,?,?,?,?,?)",
                      (group_id, kind, name, command, _dumps(spec), time.time()))
            for position, run_id in enumerate(run_ids):
                label = labels[position] if labels is not None else None
                c.execute("INSERT OR IGNORE INTO group_runs(group_id, run_id, position, label) VALUES(?,?,?,?)",
                          (group_id, run_id, position, label))

    # -- reading ---------------------------------------------------------------------------
    def get(self, run_id: str) -> RunRecord:
        """A run by exact id or unique id prefix (no wildcards); unknown ids raise with close matches."""
        if not run_id:
            raise StoreError("empty run id; give a run id or a prefix of one (see `lmbench export`)")
        rows = self.conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchall() or \
            self.conn.execute("SELECT * FROM runs WHERE substr(id, 1, ?)=?", (len(run_id), run_id)).fetchall()
        if len(rows) != 1:
            if len(rows) > 1:
                raise StoreError(f"run id prefix '{run_id}' matches {len(rows)} runs; give more characters")
            ids = [r[0] for r in self.conn.execute("SELECT id FROM runs ORDER BY updated DESC LIMIT 200")]
            raise UnknownNameError(f"run (store {self.path})", run_id, ids)
        return self._record(rows[0])

    def find(self, run_id: str) -> RunRecord | None:
        row = self.conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return self._record(row) if row else None

    def find_done_by_spec_id(self, spec_id: str) -> RunRecord | None:
        """The newest done run of a spec whatever code made it: its id is ``spec_id`` (a run stored
        before ids covered the code) or its environment records that ``spec_id``."""
        row = self.conn.execute(
            "SELECT * FROM runs WHERE status='done' AND (id=? OR json_extract(env, '$.spec_id')=?) "
            "ORDER BY updated DESC LIMIT 1", (spec_id, spec_id)).fetchone()
        return self._record(row) if row else None

    def runs(self, *, last: int | None = None, status: str | None = None) -> list[RunRecord]:
        """Runs, newest first."""
        query, args = "SELECT * FROM runs", []
        if status:
            query, args = query + " WHERE status=?", [status]
        query += " ORDER BY updated DESC"
        if last:
            query += f" LIMIT {int(last)}"
        return [self._record(r) for r in self.conn.execute(query, args)]

    def group(self, group_id: str) -> tuple[dict[str, Any], list[RunRecord]]:
        """A group (by id prefix or name, newest first) and its runs in order."""
        row = self.conn.execute("SELECT * FROM groups WHERE substr(id, 1, ?)=? OR name=? ORDER BY created DESC",
                                (len(group_id), group_id, group_id)).fetchone() if group_id else None
        if row is None:
            names = [r[0] for r in self.conn.execute("SELECT name FROM groups") if r[0]]
            raise UnknownNameError("sweep or experiment", group_id, names)
        label = "label" if self._group_labels() else "NULL"  # a read-only store made before group labels
        members = self.conn.execute(
            f"SELECT run_id, {label} FROM group_runs WHERE group_id=? ORDER BY position", (row["id"],)).fetchall()
        records = [self.get(i) for i, _ in members]  # each run under the label the group gave it
        return dict(row), [dataclasses.replace(r, label=label) if label else r for r, (_, label) in zip(records, members)]

    def _group_labels(self) -> bool:
        """Whether this store's ``group_runs`` has the ``label`` column."""
        return "label" in {r[1] for r in self.conn.execute("PRAGMA table_info(group_runs)")}

    def group_info(self, group_id: str) -> dict[str, Any]:
        """A group's row (by id prefix or name) with ``runs``: its run ids in order, started or not."""
        row = self.conn.execute("SELECT * FROM groups WHERE substr(id, 1, ?)=? OR name=? ORDER BY created DESC",
                                (len(group_id), group_id, group_id)).fetchone() if group_id else None
        if row is None:
            names = [r[0] for r in self.conn.execute("SELECT name FROM groups") if r[0]]
            raise UnknownNameError("sweep or experiment", group_id, names)
        ids = [r[0] for r in self.conn.execute(
            "SELECT run_id FROM group_runs WHERE group_id=? ORDER BY position", (row["id"],))]
        return {**dict(row), "runs": ids}

    def group_members(self) -> list[tuple[str, str]]:
        """Every (group id, run id) membership, in each group's run order."""
        return [tuple(r) for r in self.conn.execute("SELECT group_id, run_id FROM group_runs ORDER BY position")]

    def groups(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM groups ORDER BY created DESC")]

    def steps(self, run_id: str, key: str | None = None) -> dict[str, list[tuple[int, float]]]:
        """Per-step metrics: key -> [(step, value)], the last write of a step winning (resume)."""
        query = "SELECT step, key, value FROM steps WHERE run_id=?" + (" AND key=?" if key else "") + " ORDER BY rowid"
        series: dict[str, dict[int, float]] = {}
        for step, k, value in self.conn.execute(query, (run_id, key) if key else (run_id,)):
            series.setdefault(k, {})[step] = value if value is not None else math.nan
        return {k: sorted(v.items()) for k, v in series.items()}

    def measurements(self, run_id: str) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self.conn.execute(
            "SELECT name, data FROM measurements WHERE run_id=?", (run_id,))}

    def export_jsonl(self, out: Any, run_ids: Iterable[str] | None = None) -> int:
        """Write one JSON object per run (spec, env, results, steps, measurements); return the count."""
        records = [self.get(i) for i in run_ids] if run_ids is not None else self.runs()
        for record in records:
            obj = {**record.__dict__, "steps": self.steps(record.id), "measurements": self.measurements(record.id)}
            out.write(json_dumps(obj, sort_keys=False) + "\n")
        return len(records)

    def _record(self, row: sqlite3.Row) -> RunRecord:
        results: dict[str, Any] = {}
        for key, value, text in self.conn.execute("SELECT key, value, text FROM results WHERE run_id=?", (row["id"],)):
            results[key] = value if text is None else json.loads(text)
        status, reason = row["status"], row["reason"]
        if status == "running":
            holder = self.lease_holder(row["id"])
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


def _write_results(c: sqlite3.Connection, run_id: str, results: dict[str, Any]) -> None:
    for key, value in results.items():
        if _is_number(value):
            c.execute("INSERT OR REPLACE INTO results VALUES(?,?,?,NULL)", (run_id, key, _number(value)))
        else:
            c.execute("INSERT OR REPLACE INTO results VALUES(?,?,NULL,?)", (run_id, key, _dumps(value)))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) or type(value).__name__ in (
        "float32", "float64", "int64", "int32")


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _dumps(value: Any) -> str:
    return json_dumps(value)


def _connect_read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """Open read-only: ``mode=ro``, or ``immutable=1`` where SQLite cannot use its -shm file
    (read-only media, an archived copy without -wal/-shm)."""
    from urllib.parse import quote

    uri = "file:" + quote(str(path.resolve()))
    conn = None
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        if conn is not None:
            conn.close()
        text = str(exc)
        if "unable to open" not in text and "readonly" not in text and "read-only" not in text:
            raise
    if os.access(path.parent, os.W_OK) and os.access(path, os.W_OK):
        # the folder is writable, so the failure was not the medium: let the caller explain it
        raise sqlite3.OperationalError(f"unable to open database file {path}")
    conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=timeout)
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    return conn


def _explain(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"results store {path} is locked by another process; wait for it or pass --store DIR"
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return f"cannot write results store {path} ({text}); pass --store DIR or fix its permissions"
    if "full" in text:
        return f"results store {path}: database or disk is full; free space or pass --store DIR"
    if "malformed" in text or "not a database" in text:
        return f"results store {path} is corrupt ({text}); move it aside and rerun"
    return f"results store {path}: {text}"
