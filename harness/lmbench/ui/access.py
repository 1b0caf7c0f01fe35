"""Opening a store for the UI: read-only in the database itself, wherever the engine allows.

A SQLite store is opened with SQLite's read-only URI (``mode=ro``; ``immutable=1`` on read-only
media) by :class:`lmbench.store.Store` itself (``readonly=True``). A PostgreSQL store is opened
read-only by the store too (it never migrates or records its artifacts folder), and on top every
transaction the UI begins is ``SET TRANSACTION READ ONLY``: the server refuses any write.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import event

from ..store import Store


def open_read_only(location: str | os.PathLike | None, artifacts: str | os.PathLike | None = None) -> Store:
    """The store at ``location`` (a folder or a database URL; ``$LMBENCH_STORE`` or ``runs`` when
    None), opened for reading only."""
    store = Store(location, readonly=True, artifacts=artifacts, timeout=10.0)
    if store.dialect == "postgresql":
        read_only_transactions(store.engine)
    return store


def read_only_transactions(engine: Any) -> None:
    """Make every transaction begun on ``engine`` read-only (PostgreSQL)."""

    @event.listens_for(engine, "begin")
    def _read_only(conn: Any) -> None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def store_label(store: Store) -> str:
    """What the pages name the store by: its folder, or its URL without the password."""
    return store.where.display
