"""Events (one row per producer-chosen id) and their hourly rollups.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("asset_id", sa.String(16), nullable=False),
        sa.Column("event_type", sa.String(8), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("short_code", sa.String(64), nullable=False),
        sa.Column("event_time_us", sa.BigInteger(), nullable=False),
        sa.Column("receive_time_us", sa.BigInteger(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("bot", sa.Boolean(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
    )
    op.create_index("ix_analytics_events_asset_time", "analytics_events", ["asset_id", "event_time_us"])
    op.create_index("ix_analytics_events_code_time", "analytics_events", ["short_code", "event_time_us"])
    op.create_index("ix_analytics_events_time", "analytics_events", ["event_time_us", "event_id"])
    op.create_table(
        "analytics_rollups",
        sa.Column("asset_id", sa.String(16), primary_key=True),
        sa.Column("short_code", sa.String(64), primary_key=True),
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("event_type", sa.String(8), primary_key=True),
        sa.Column("hour_us", sa.BigInteger(), primary_key=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("bot_events", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_analytics_rollups_code_hour", "analytics_rollups", ["short_code", "hour_us"])
    op.create_index("ix_analytics_rollups_hour", "analytics_rollups", ["hour_us"])


def downgrade() -> None:
    op.drop_table("analytics_rollups")
    op.drop_table("analytics_events")
