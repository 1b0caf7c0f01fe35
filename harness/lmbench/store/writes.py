"""Dialect-aware inserts for the store: insert-or-ignore and insert-or-replace on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"results store on {conn.dialect.name} is not supported; use SQLite or PostgreSQL")
    return insert(table)


def insert_ignore(conn: sa.Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` (rowcount 0 when the row was there)."""
    return _insert(conn, table).on_conflict_do_nothing()


def upsert(conn: sa.Connection, table: sa.Table, row: dict[str, Any]) -> Any:
    """Insert ``row`` or replace the non-key columns of the row with the same primary key."""
    keys = [c.name for c in table.primary_key.columns]
    statement = _insert(conn, table).values(**row)
    return statement.on_conflict_do_update(index_elements=keys,
                                           set_={k: statement.excluded[k] for k in row if k not in keys})
