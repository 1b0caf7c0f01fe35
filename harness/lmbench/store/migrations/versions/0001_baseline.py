"""Baseline: the schema of version 1 stores; tables an older store lacks (``leases``) are created.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create each missing table (a version 1 SQLite store already has most of them)."""
    bind = op.get_bind()
    have = set(sa.inspect(bind).get_table_names())
    server = bind.dialect.name != "sqlite"

    def table(name, *columns):
        if name not in have:
            op.create_table(name, *columns)

    table("meta", sa.Column("key", sa.Text, primary_key=True), sa.Column("value", sa.Text))
    table("runs", sa.Column("id", sa.Text, primary_key=True), sa.Column("label", sa.Text),
          sa.Column("preset", sa.Text), sa.Column("status", sa.Text, nullable=False), sa.Column("reason", sa.Text),
          sa.Column("spec", sa.Text, nullable=False), sa.Column("env", sa.Text), sa.Column("command", sa.Text),
          sa.Column("run_dir", sa.Text), sa.Column("created", sa.Double, nullable=False),
          sa.Column("updated", sa.Double, nullable=False),
          sa.Column("attempts", sa.Integer, nullable=False, server_default="1"))
    step_columns = [sa.Column("run_id", sa.Text, nullable=False), sa.Column("step", sa.Integer, nullable=False),
                    sa.Column("key", sa.Text, nullable=False), sa.Column("value", sa.Double),
                    sa.Column("time", sa.Double, nullable=False)]
    if server:  # SQLite orders rows by its rowid; a server needs an explicit insertion order
        step_columns.insert(0, sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True))
    if "steps" not in have:
        op.create_table("steps", *step_columns)
        op.create_index("steps_run", "steps", ["run_id", "key", "step"])
    table("results", sa.Column("run_id", sa.Text, primary_key=True), sa.Column("key", sa.Text, primary_key=True),
          sa.Column("value", sa.Double), sa.Column("text", sa.Text))
    table("measurements", sa.Column("run_id", sa.Text, primary_key=True),
          sa.Column("name", sa.Text, primary_key=True), sa.Column("data", sa.Text, nullable=False))
    table("groups", sa.Column("id", sa.Text, primary_key=True), sa.Column("kind", sa.Text, nullable=False),
          sa.Column("name", sa.Text), sa.Column("command", sa.Text), sa.Column("spec", sa.Text),
          sa.Column("created", sa.Double, nullable=False))
    table("group_runs", sa.Column("group_id", sa.Text, primary_key=True),
          sa.Column("run_id", sa.Text, primary_key=True), sa.Column("position", sa.Integer))
    table("leases", sa.Column("run_id", sa.Text, primary_key=True), sa.Column("token", sa.Text, nullable=False),
          sa.Column("host", sa.Text, nullable=False), sa.Column("pid", sa.Integer, nullable=False),
          sa.Column("proc_started", sa.Double), sa.Column("started", sa.Double, nullable=False),
          sa.Column("heartbeat", sa.Double, nullable=False))


def downgrade() -> None:
    """Not supported: the baseline is where every store starts."""
    raise NotImplementedError("the baseline schema cannot be downgraded")
