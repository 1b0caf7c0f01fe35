"""Each run's label within a group (a sweep names a point reused from an earlier run its own way).

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``group_runs.label`` where missing (version 2 and older stores)."""
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("group_runs")}
    if "label" not in columns:
        op.add_column("group_runs", sa.Column("label", sa.Text))


def downgrade() -> None:
    """Drop ``group_runs.label``."""
    op.drop_column("group_runs", "label")
