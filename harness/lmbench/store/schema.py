"""The store's tables (SQLAlchemy Core) and bringing a store's schema up to date (Alembic).

The version is kept in the ``meta`` table (``schema_version``), read first on every open: a store
that is current is opened without loading Alembic. An older store (a SQLite file from before
migrations, version 1) is upgraded in place by the Alembic environment in ``lmbench/store/migrations``,
run programmatically inside one write transaction (a PostgreSQL advisory lock or SQLite's write
lock keeps two processes from migrating at once).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

#: Bump together with a new revision under ``migrations/versions``.
SCHEMA_VERSION = 4
#: Alembic's own table, named so that other Alembic users of the same database (Optuna) keep theirs.
VERSION_TABLE = "lmbench_alembic_version"
_MIGRATION_LOCK = 0x6C6D6265  # "lmbe": PostgreSQL advisory lock taken while migrating

metadata = sa.MetaData()
meta = sa.Table("meta", metadata, sa.Column("key", sa.Text, primary_key=True), sa.Column("value", sa.Text))
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Text, primary_key=True), sa.Column("label", sa.Text), sa.Column("preset", sa.Text),
    sa.Column("status", sa.Text, nullable=False), sa.Column("reason", sa.Text),
    sa.Column("spec", sa.Text, nullable=False), sa.Column("env", sa.Text), sa.Column("command", sa.Text),
    sa.Column("run_dir", sa.Text), sa.Column("created", sa.Double, nullable=False),
    sa.Column("updated", sa.Double, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"))
#: One row per (run, step, key) (unique index ``steps_unique``, schema 4): a resumed run's later
#: write of a step replaces the earlier one (upsert). Rows keep insertion order (SQLite's rowid, a
#: ``seq`` identity on a server).
steps = sa.Table(
    "steps", metadata,
    sa.Column("run_id", sa.Text, nullable=False), sa.Column("step", sa.Integer, nullable=False),
    sa.Column("key", sa.Text, nullable=False), sa.Column("value", sa.Double), sa.Column("time", sa.Double, nullable=False),
    sa.Index("steps_unique", "run_id", "step", "key", unique=True))
#: The columns of the ``steps`` unique key (the conflict target of its upsert).
STEP_KEY = ("run_id", "step", "key")
results = sa.Table(
    "results", metadata,
    sa.Column("run_id", sa.Text, primary_key=True), sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Double), sa.Column("text", sa.Text))
measurements = sa.Table(
    "measurements", metadata,
    sa.Column("run_id", sa.Text, primary_key=True), sa.Column("name", sa.Text, primary_key=True),
    sa.Column("data", sa.Text, nullable=False))
groups = sa.Table(
    "groups", metadata,
    sa.Column("id", sa.Text, primary_key=True), sa.Column("kind", sa.Text, nullable=False), sa.Column("name", sa.Text),
    sa.Column("command", sa.Text), sa.Column("spec", sa.Text), sa.Column("created", sa.Double, nullable=False))
group_runs = sa.Table(
    "group_runs", metadata,
    sa.Column("group_id", sa.Text, primary_key=True), sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("position", sa.Integer), sa.Column("label", sa.Text))
leases = sa.Table(
    "leases", metadata,
    sa.Column("run_id", sa.Text, primary_key=True), sa.Column("token", sa.Text, nullable=False),
    sa.Column("host", sa.Text, nullable=False), sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("proc_started", sa.Double), sa.Column("started", sa.Double, nullable=False),
    sa.Column("heartbeat", sa.Double, nullable=False),
    # schema 4: the fence (raised at each takeover) and the owner's machine (boot id, machine id, pid namespace)
    sa.Column("generation", sa.Integer, nullable=False, server_default="1"), sa.Column("machine", sa.Text))


def step_order(dialect: str) -> sa.ColumnElement:
    """The column that orders ``steps`` rows by insertion."""
    return sa.literal_column("rowid" if dialect == "sqlite" else "seq")


def stored_version(conn: sa.Connection) -> int:
    """``meta.schema_version`` (0 for an empty database)."""
    if not sa.inspect(conn).has_table("meta"):
        return 0
    value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return int(value) if value else 0


def ensure_schema(engine: sa.Engine) -> None:
    """Create or upgrade the schema to :data:`SCHEMA_VERSION` (no-op, and no Alembic import, when current)."""
    with engine.connect() as conn:
        if stored_version(conn) >= SCHEMA_VERSION:
            return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        if stored_version(conn) >= SCHEMA_VERSION:  # another process migrated while we waited
            return
        upgrade(conn)


def upgrade(conn: sa.Connection, revision: str = "head") -> None:
    """Run the Alembic migrations on ``conn`` (inside the caller's transaction) and record the version."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)
    values = {"key": "schema_version", "value": str(SCHEMA_VERSION)}
    if conn.execute(sa.select(meta.c.key).where(meta.c.key == "schema_version")).first():
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=values["value"]))
    else:
        conn.execute(meta.insert().values(**values))
