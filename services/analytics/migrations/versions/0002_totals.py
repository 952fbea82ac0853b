"""All-time counts per (asset, platform, event type), filled from the hourly rollups.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_totals",
        sa.Column("asset_id", sa.String(16), primary_key=True),
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("event_type", sa.String(8), primary_key=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("bot_events", sa.BigInteger(), nullable=False),
    )
    # Events already stored are counted in: the hourly rollups hold exactly their counts.
    op.execute(
        "INSERT INTO analytics_totals (asset_id, platform, event_type, events, bot_events) "
        "SELECT asset_id, platform, event_type, sum(events), sum(bot_events) FROM analytics_rollups "
        "GROUP BY asset_id, platform, event_type"
    )


def downgrade() -> None:
    op.drop_table("analytics_totals")
