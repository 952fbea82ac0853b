"""Scans: the scanner instance that runs a scan (``runner``), so a restart can finish what it left RUNNING.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scanner_scans") as batch:
        batch.add_column(sa.Column("runner", sa.String(200), nullable=False, server_default=""))
        batch.create_index("ix_scanner_scans_runner", ["runner"])


def downgrade() -> None:
    with op.batch_alter_table("scanner_scans") as batch:
        batch.drop_index("ix_scanner_scans_runner")
        batch.drop_column("runner")
