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


def upsert_many(conn: sa.Connection, table: sa.Table, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, replacing the other columns of a row whose ``keys`` (a unique index) exist.

    Rows repeating a key within ``rows`` are reduced to the last one first (one statement cannot
    update a row twice on PostgreSQL).
    """
    if not rows:
        return
    last = {tuple(row[k] for k in keys): row for row in rows}
    statement = _insert(conn, table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={c: statement.excluded[c] for c in rows[0] if c not in keys})
    conn.execute(statement, list(last.values()))
