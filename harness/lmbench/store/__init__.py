"""The results store: runs, per-step metrics, results, measurements and groups (SQLAlchemy Core).

A store is a folder with one SQLite file (the default), or a database server::

    runs/lmbench.sqlite     runs, per-step metrics, final results, measurements, groups, leases
    runs/<run id>/          spec.toml/spec.json, env.json, log.txt, checkpoints/, report files

``--store postgresql+psycopg://USER@HOST/DB`` (or ``LMBENCH_STORE``) keeps the same tables in
PostgreSQL, with the run folders under ``--artifacts DIR`` (or ``LMBENCH_ARTIFACTS``) on a shared
filesystem (see :mod:`lmbench.store.engine`). The schema is versioned and upgraded in place
(:mod:`lmbench.store.schema`, Alembic).

Rows are appended; a run's final results and measurements are replaced only by a later attempt of
the same run (same id), so a killed run leaves everything it recorded. Several processes, on one
host or many, may write one store at once: each write is one transaction, and a run's lease
(:mod:`lmbench.store.lease`, the ``leases`` table) lets only one of them train a given run.

Run folders are stored relative to the store folder, so a store can be moved, copied or archived
whole. A SQLite store on read-only media opens read-only (``mode=ro``, or ``immutable=1`` when
SQLite cannot create its shared-memory file there).

The package owns the engines (:mod:`.engine`: SQLite, PostgreSQL), the schema and its Alembic
migrations (:mod:`.schema`, ``migrations/``), dialect-neutral writes (:mod:`.writes`), reads (:mod:`.reads`), run leases
(:mod:`.lease` the holder and heartbeat, :mod:`.leases` their rows), merging stores
(:mod:`.merge`) and throw-away PostgreSQL databases for tests (:mod:`.pgtest`). The
:class:`Store` itself is defined here. May import: the ground (``lmbench.errors``,
``lmbench.files``), ``lmbench`` for its version, SQLAlchemy and Alembic; no other part.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import artifacts as store_artifacts, engine as engines, schema
from ..errors import StoreError
from ..files import json_dumps
from .leases import LeaseRows
from .reads import ABANDONED, FINISHED, RunReads, RunRecord  # noqa: F401  (re-exported)
from .schema import SCHEMA_VERSION  # noqa: F401  (re-exported)
from .writes import insert_ignore, upsert, upsert_many
from ..redact import private_file, redact

DB_NAME = engines.DB_NAME
FAILED = ("failed", "oom", "nan", "timeout", "interrupted", "abandoned")


def default_store_dir() -> Path:
    """``$LMBENCH_STORE`` or ``./runs`` (a folder store; see :func:`lmbench.store.engine.resolve` for URLs)."""
    return Path(os.environ.get("LMBENCH_STORE", "runs"))


def content_id(*parts: Any, length: int = 12) -> str:
    """A short, stable hash of JSON-serialisable parts (the run id and group ids)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


class Store(LeaseRows, RunReads):
    """A results store: ``root/lmbench.sqlite``, or a database URL with run folders under ``artifacts``.

    ``root`` is a folder or a URL (default ``$LMBENCH_STORE`` or ``runs``); ``self.root`` is always
    the folder that holds run folders and ``self.location`` what reopens this store in another
    process (that folder: a server store's folder names its database in ``store.json``).
    """

    def __init__(self, root: str | Path | None = None, *, readonly: bool = False, timeout: float = 60.0,
                 artifacts: str | Path | None = None):
        self.where = engines.resolve(str(root) if root is not None and engines.is_url(str(root)) else root, artifacts)
        self.root = self.where.root
        self.path = self.root / DB_NAME if self.where.url is None else self.where.display
        self.location = str(self.root)  # reopens either kind: a server store's folder names its database
        self.url = self.where.url
        self.readonly = readonly
        try:
            if self.where.url is None:
                self.engine = self._open_sqlite(readonly, timeout)
            else:
                self.engine = engines.server_engine(self.where.url, timeout=timeout)
                if not readonly:
                    self.root.mkdir(parents=True, exist_ok=True)
            if not readonly:
                schema.ensure_schema(self.engine)
                engines.write_pointer(self.where)
            elif self.where.url is not None:
                with self.engine.connect() as c:
                    if not schema.stored_version(c):
                        raise StoreError(f"no results store at {self.where.display}; run an experiment first")
            if self.where.url is not None:  # one database, one artifacts folder (or its recorded mirrors)
                store_artifacts.bind(self.engine, self.root, self.where.display, readonly=readonly)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(engines.explain(exc, self.where)) from exc
        except OSError as exc:  # the folder cannot be made: a file in the way, a read-only filesystem
            raise StoreError(f"cannot create results store folder {self.root} ({exc.strerror or exc}); "
                             "pass --store DIR") from exc
        self.dialect = self.engine.dialect.name

    def _open_sqlite(self, readonly: bool, timeout: float) -> sa.Engine:
        path = self.root / DB_NAME
        if readonly:
            if not path.exists():
                raise StoreError(f"no results store at {path}; run an experiment first or pass --store")
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise StoreError(f"results store folder {self.root} is not writable; pass --store DIR or fix its permissions")
        new = not readonly and not path.exists()
        engine = engines.sqlite_engine(path, readonly=readonly, timeout=timeout)
        with engine.connect() as c:  # open now, so a bad file fails here with its own message
            self._sqlite = c.connection.driver_connection
        if new:  # it records commands and environments: no world access (SQLite's -wal/-shm follow it)
            private_file(path)
        return engine

    @property
    def conn(self) -> Any:
        """SQLite stores: the store's one ``sqlite3`` connection (PRAGMAs, ad-hoc reads)."""
        if self.url is not None:
            raise StoreError(f"results store {self.path} is a database server; it has no SQLite connection")
        return self._sqlite

    def reopen(self, *, readonly: bool | None = None, timeout: float = 60.0) -> "Store":
        """Another handle on this same store (its own connections: a heartbeat thread, a worker)."""
        return Store(self.where.url or self.root, readonly=self.readonly if readonly is None else readonly,
                     timeout=timeout, artifacts=self.root)

    def worker_env(self) -> dict[str, str]:
        """Environment for a worker process opening this store by its folder: the URL's password as
        ``PGPASSWORD`` (never on a command line; :mod:`lmbench.redact`)."""
        from ..redact import password_env

        return password_env(self.where.url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE ... COMMIT); rolled back on any error."""
        if self.readonly:
            raise StoreError(f"results store {self.path} was opened read-only")
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(engines.explain(exc, self.where)) from exc

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A connection for reads (SQLite errors become one-line :class:`StoreError`)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(engines.explain(exc, self.where)) from exc

    def run_dir(self, run_id: str) -> Path:
        """The run's folder, directly inside the store folder (an id that would leave it is refused)."""
        from .checks import valid_id

        if not valid_id(run_id):
            raise StoreError(f"run id {run_id!r} cannot name a run folder (letters, digits, '.', '_', '-'; "
                             "no '/' or '..')")
        return self.root / run_id

    def optuna_url(self) -> str | None:
        """For a server store, a URL on the same database for Optuna studies (schema ``optuna``, so its
        tables never meet the store's); None for a SQLite store (a search keeps its own file)."""
        if self.where.url is None or self.dialect != "postgresql":
            return None
        with self.transaction() as c:
            c.execute(sa.text("CREATE SCHEMA IF NOT EXISTS optuna"))
        url = sa.engine.make_url(self.where.url)
        return url.update_query_dict({"options": "-csearch_path=optuna"}).render_as_string(hide_password=False)

    # -- writing ---------------------------------------------------------------------------
    def start_run(self, run_id: str, spec: dict[str, Any], *, label: str = "", preset: str = "",
                  command: str = "", env: dict[str, Any] | None = None) -> None:
        """Insert the run as ``running`` (or mark a new attempt of an existing one)."""
        now = time.time()
        runs = schema.runs
        with self.transaction() as c:
            self._fenced(c, run_id)
            inserted = c.execute(insert_ignore(c, runs).values(
                id=run_id, label=label, preset=preset, status="running", reason=None, spec=_dumps(spec),
                env=_dumps(env or {}), command=redact(command), run_dir=run_id, created=now, updated=now, attempts=1)
                .returning(runs.c.id)).first()
            if inserted is None:  # run_dir is relative to the store folder
                c.execute(runs.update().where(runs.c.id == run_id).values(
                    status="running", reason=None, env=_dumps(env or {}), command=redact(command), run_dir=run_id,
                    updated=now, attempts=runs.c.attempts + 1))

    def log_step(self, run_id: str, step: int, values: dict[str, Any]) -> None:
        """Record one step's metrics (numbers only; non-finite values are kept as NULL); a step
        written again (a resumed run) replaces its earlier row."""
        self.log_steps(run_id, [(step, values)])

    def log_steps(self, run_id: str, steps: Iterable[tuple[int, dict[str, Any]]], *,
                  when: float | None = None) -> int:
        """Record many steps' metrics in one transaction (import, merge); return the rows written.
        One row per (run, step, key): a later write of a step replaces the earlier one."""
        now = time.time() if when is None else when
        rows = [{"run_id": run_id, "step": int(step), "key": k, "value": _number(v), "time": now}
                for step, values in steps for k, v in values.items() if _is_number(v)]
        if rows:
            with self.transaction() as c:
                self._fenced(c, run_id)
                upsert_many(c, schema.steps, schema.STEP_KEY, rows)
        return len(rows)

    def finish_run(self, run_id: str, status: str, *, reason: str | None = None,
                   results: dict[str, Any] | None = None) -> None:
        """Record the final status, reason and results of a run, in one transaction."""
        runs = schema.runs
        with self.transaction() as c:
            self._fenced(c, run_id)
            c.execute(runs.update().where(runs.c.id == run_id).values(
                status=status, reason=reason, updated=time.time()))
            _write_results(c, run_id, results or {})

    def record_results(self, run_id: str, results: dict[str, Any]) -> None:
        """Record some results of a running run now (one transaction), so a later failure keeps them;
        a key recorded again is replaced."""
        if results:
            with self.transaction() as c:
                self._fenced(c, run_id)
                _write_results(c, run_id, results)

    def add_measurement(self, run_id: str, name: str, data: dict[str, Any]) -> None:
        """Store one measurement (timing statistics, memory peaks, ...) as JSON."""
        with self.transaction() as c:
            self._fenced(c, run_id)
            c.execute(upsert(c, schema.measurements, {"run_id": run_id, "name": name, "data": _dumps(data)}))

    def set_command(self, run_id: str, command: str) -> None:
        """Replace the command recorded as reproducing a run (a sweep records its own form)."""
        with self.transaction() as c:
            self._fenced(c, run_id)
            c.execute(schema.runs.update().where(schema.runs.c.id == run_id).values(command=redact(command)))

    def add_group(self, group_id: str, kind: str, name: str, command: str, spec: dict[str, Any],
                  run_ids: Iterable[str], labels: Sequence[str] | None = None, *,
                  created: float | None = None) -> None:
        """Record an invocation (a run with variants, or a sweep) and its runs, in order; ``labels``
        names each run within this group (a run made earlier under another name keeps it elsewhere)."""
        created = time.time() if created is None else created
        with self.transaction() as c:
            c.execute(insert_ignore(c, schema.groups).values(
                id=group_id, kind=kind, name=name, command=redact(command), spec=_dumps(spec), created=created))
            for position, run_id in enumerate(run_ids):
                label = labels[position] if labels is not None else None
                c.execute(insert_ignore(c, schema.group_runs).values(group_id=group_id, run_id=run_id,
                                                                     position=position, label=label))

    # -- reading ---------------------------------------------------------------------------


def _write_results(c: sa.Connection, run_id: str, results: dict[str, Any]) -> None:
    for key, value in results.items():
        row = {"run_id": run_id, "key": key, "value": None, "text": None}
        if _is_number(value):
            row["value"] = _number(value)
        else:
            row["text"] = _dumps(value)
        c.execute(upsert(c, schema.results, row))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) or type(value).__name__ in (
        "float32", "float64", "int64", "int32")


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _dumps(value: Any) -> str:
    return json_dumps(value)
