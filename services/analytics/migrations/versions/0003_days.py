"""Counts per (asset, platform, event type, UTC day) and per asset and hour / day (views, plays, clicks,
bots' events), filled from the hourly rollups; the rollups' hour index also holds the asset.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DAY_US = 86_400_000_000


def upgrade() -> None:
    op.create_table(
        "analytics_days",
        sa.Column("asset_id", sa.String(16), primary_key=True),
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("event_type", sa.String(8), primary_key=True),
        sa.Column("day_us", sa.BigInteger(), primary_key=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("bot_events", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_analytics_days_day", "analytics_days", ["day_us"])
    # Events already stored are counted in: the hourly rollups hold exactly their counts, and an hour lies
    # in one UTC day.
    op.execute(
        "INSERT INTO analytics_days (asset_id, platform, event_type, day_us, events, bot_events) "
        f"SELECT asset_id, platform, event_type, hour_us - hour_us % {DAY_US}, sum(events), sum(bot_events) "
        f"FROM analytics_rollups GROUP BY asset_id, platform, event_type, hour_us - hour_us % {DAY_US}"
    )

    for table, period, length in (("analytics_asset_hours", "hour_us", 1), ("analytics_asset_days", "day_us", DAY_US)):
        op.create_table(
            table,
            sa.Column("asset_id", sa.String(16), primary_key=True),
            sa.Column(period, sa.BigInteger(), primary_key=True),
            sa.Column("views", sa.BigInteger(), nullable=False),
            sa.Column("plays", sa.BigInteger(), nullable=False),
            sa.Column("clicks", sa.BigInteger(), nullable=False),
            sa.Column("bot_events", sa.BigInteger(), nullable=False),
        )
        op.create_index(f"ix_{table}_{period.removesuffix('_us')}", table, [period])
        op.execute(
            f"INSERT INTO {table} (asset_id, {period}, views, plays, clicks, bot_events) "
            f"SELECT asset_id, hour_us - hour_us % {length}, "
            "sum(CASE WHEN event_type = 'view' THEN events ELSE 0 END), "
            "sum(CASE WHEN event_type = 'play' THEN events ELSE 0 END), "
            "sum(CASE WHEN event_type = 'click' THEN events ELSE 0 END), sum(bot_events) "
            f"FROM analytics_rollups GROUP BY asset_id, hour_us - hour_us % {length} ORDER BY 2, 1"
        )
    op.drop_index("ix_analytics_rollups_hour", "analytics_rollups")
    op.create_index("ix_analytics_rollups_hour_asset", "analytics_rollups", ["hour_us", "asset_id"])


def downgrade() -> None:
    op.drop_index("ix_analytics_rollups_hour_asset", "analytics_rollups")
    op.create_index("ix_analytics_rollups_hour", "analytics_rollups", ["hour_us"])
    op.drop_table("analytics_asset_days")
    op.drop_table("analytics_asset_hours")
    op.drop_table("analytics_days")
