"""Where a results store lives and how it is opened: a folder with SQLite, or a database server.

``--store`` (or ``LMBENCH_STORE``) is either a folder (``runs/``: ``runs/lmbench.sqlite`` plus the
run folders) or a SQLAlchemy URL such as ``postgresql+psycopg://USER@HOST/DB``. A server keeps the
rows; run folders (checkpoints, artifacts, reports) then live under ``--artifacts DIR`` (or
``LMBENCH_ARTIFACTS``) on a filesystem every node sees. That folder remembers its database in
``store.json`` (the URL without its password; libpq takes it from ``PGPASSWORD`` or ``~/.pgpass``),
so passing the folder alone (a sweep's workers, a lease's heartbeat) opens the same store.

SQLite-only behaviour stays with SQLite: WAL, ``BEGIN IMMEDIATE`` writes, read-only opening
(``mode=ro``, ``immutable=1`` on read-only media) and its locked/full/corrupt messages.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from ..errors import StoreError

DB_NAME = "lmbench.sqlite"
POINTER = "store.json"


def is_url(location: str | os.PathLike | None) -> bool:
    """``postgresql+psycopg://...`` and other SQLAlchemy URLs (not a folder path)."""
    return isinstance(location, str) and "://" in location


@dataclass(frozen=True)
class Location:
    """A resolved store: the database URL (None for the folder's SQLite file) and the run-folder root."""

    url: str | None
    root: Path

    @property
    def display(self) -> str:
        """What messages name: the URL without password, or the SQLite file."""
        if self.url is None:
            return str(self.root / DB_NAME)
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)


def resolve(location: str | os.PathLike | None, artifacts: str | os.PathLike | None = None) -> Location:
    """Turn ``--store``/``--artifacts`` (or their environment variables) into a :class:`Location`."""
    location = location if location is not None else os.environ.get("LMBENCH_STORE", "runs")
    if not str(location).strip():  # Path("") is the working directory: never write a store there by accident
        raise StoreError("--store (or LMBENCH_STORE) is empty; give a folder such as runs/ or a database URL")
    artifacts = artifacts if artifacts is not None else os.environ.get("LMBENCH_ARTIFACTS")
    if is_url(location):
        if not artifacts:  # the folder the database recorded when it was created (lmbench.store.artifacts)
            artifacts = lookup(str(location))
        if not artifacts:
            raise StoreError(f"a database store ({_hide(str(location))}) keeps run folders elsewhere: pass "
                             "--artifacts DIR (or set LMBENCH_ARTIFACTS) to a folder every node can reach")
        return Location(str(location), Path(artifacts))
    root = Path(location)
    pointer = root / POINTER
    if pointer.is_file():
        try:
            return Location(json.loads(pointer.read_text())["url"], root)
        except (ValueError, KeyError) as exc:
            raise StoreError(f"{pointer} is not a store pointer ({exc}); move it aside or pass --store URL") from exc
    return Location(None, root)


def write_pointer(where: Location) -> None:
    """Record a server store's URL (no password) in its artifacts folder, once."""
    pointer = where.root / POINTER
    if where.url is None or pointer.exists():
        return
    where.root.mkdir(parents=True, exist_ok=True)
    tmp = pointer.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"url": sa.engine.make_url(where.url).render_as_string(hide_password=True)}) + "\n")
    from ..redact import private_file

    private_file(tmp)
    os.replace(tmp, pointer)


def _hide(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def sqlite_engine(path: Path, *, readonly: bool, timeout: float) -> sa.Engine:
    """An engine on one SQLite file: WAL, ``BEGIN IMMEDIATE`` for writes, read-only opening when asked."""

    def connect() -> sqlite3.Connection:
        if readonly:
            conn = connect_read_only(path, timeout)
        else:
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
            _wal(conn, timeout)
        return conn

    # one connection per store, as SQLite wants (PRAGMAs such as max_page_count hold per connection);
    # a thread that needs its own (the lease heartbeat) opens its own store
    engine = sa.create_engine(f"sqlite:///{path}", creator=connect, poolclass=sa.pool.StaticPool)

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:  # pysqlite's own BEGIN is deferred: take the write lock now
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL, retried: it fails at once with 'database is locked' (no busy wait) while another
    process creates the same store (torchrun ranks, sweep workers)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def lookup(url: str) -> str | None:
    """The artifacts folder recorded in the database at ``url`` (None when none is, or it cannot be read)."""
    from .artifacts import recorded

    try:
        engine = server_engine(url, timeout=10)
        try:
            with engine.connect() as conn:
                known = recorded(conn)
        finally:
            engine.dispose()
    except (sa.exc.SQLAlchemyError, StoreError):
        return None
    return known[0] if known else None


def server_engine(url: str, *, timeout: float) -> sa.Engine:
    """An engine on a database server (PostgreSQL through psycopg); connections checked before use."""
    args: dict[str, Any] = {}
    if url.startswith("postgresql"):
        args = {"connect_timeout": max(1, int(min(timeout, 30)))}
    try:
        return sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=8, connect_args=args)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"cannot use results store {_hide(url)} ({exc}); for PostgreSQL install "
                         "'lmbench[store]' and give postgresql+psycopg://USER@HOST/DB") from exc


def connect_read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """Open read-only: ``mode=ro``, or ``immutable=1`` where SQLite cannot use its -shm file
    (read-only media, an archived copy without -wal/-shm)."""
    from urllib.parse import quote

    uri = "file:" + quote(str(path.resolve()))
    conn = None
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout, check_same_thread=False)
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
    conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=timeout, check_same_thread=False)
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    return conn


def explain(exc: BaseException, where: Location) -> str:
    """One line saying what went wrong with the store and what to do."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    name = where.display
    if where.url is None:
        if "locked" in text or "busy" in text:
            return f"results store {name} is locked by another process; wait for it or pass --store DIR"
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return f"cannot write results store {name} ({text}); pass --store DIR or fix its permissions"
        if "full" in text:
            return f"results store {name}: database or disk is full; free space or pass --store DIR"
        if "malformed" in text or "not a database" in text:
            return f"results store {name} is corrupt ({text}); move it aside and rerun"
        return f"results store {name}: {text}"
    if isinstance(exc, sa.exc.OperationalError) and ("connect" in text or "server" in text or "timeout" in text):
        return f"cannot reach results store {name} ({text}); check the server and the URL, or pass --store DIR"
    return f"results store {name}: {text}"
