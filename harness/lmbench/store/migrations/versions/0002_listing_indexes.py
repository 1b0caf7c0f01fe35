"""Indexes for large stores: runs newest first (``lmbench list``, reports) and a run's groups.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``runs_updated`` and ``group_runs_run`` where missing."""
    have = {ix["name"] for t in ("runs", "group_runs") for ix in sa.inspect(op.get_bind()).get_indexes(t)}
    if "runs_updated" not in have:
        op.create_index("runs_updated", "runs", ["updated"])
    if "group_runs_run" not in have:
        op.create_index("group_runs_run", "group_runs", ["run_id"])


def downgrade() -> None:
    """Drop the two indexes."""
    op.drop_index("group_runs_run", "group_runs")
    op.drop_index("runs_updated", "runs")
