"""Fenced leases and one row per step: ``leases.generation`` and ``leases.machine``; a unique key on
``steps (run_id, step, key)`` after removing the duplicate rows older versions wrote on resume.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the lease columns where missing; keep the last written row of each (run, step, key); add the key."""
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    columns = {c["name"] for c in inspector.get_columns("leases")}
    if "generation" not in columns:
        op.add_column("leases", sa.Column("generation", sa.Integer, nullable=False, server_default="1"))
    if "machine" not in columns:
        op.add_column("leases", sa.Column("machine", sa.Text))
    if "steps_unique" not in {ix["name"] for ix in inspector.get_indexes("steps")}:
        order = "rowid" if bind.dialect.name == "sqlite" else "seq"  # insertion order: the last write wins
        op.execute(f"DELETE FROM steps WHERE {order} NOT IN "
                   f"(SELECT MAX({order}) FROM steps GROUP BY run_id, step, key)")
        op.create_index("steps_unique", "steps", ["run_id", "step", "key"], unique=True)


def downgrade() -> None:
    """Drop the unique key and the lease columns (the removed duplicates stay removed)."""
    op.drop_index("steps_unique", "steps")
    with op.batch_alter_table("leases") as batch:
        batch.drop_column("machine")
        batch.drop_column("generation")
