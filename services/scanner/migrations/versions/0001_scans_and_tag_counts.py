"""Scans and tag counts.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scanner_scans",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("usage_intent", sa.String(32), nullable=False, index=True),
        sa.Column("model_id", sa.String(64), nullable=False, server_default="", index=True),
        sa.Column("asset_id", sa.String(16), nullable=False, server_default="", index=True),
        sa.Column("creator", sa.String(300), nullable=False, server_default=""),
        sa.Column("verdict", sa.String(32), nullable=False, server_default="", index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
    )
    op.create_table(
        "scanner_tag_counts",
        sa.Column("label", sa.String(200), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scanner_tag_counts")
    op.drop_table("scanner_scans")
