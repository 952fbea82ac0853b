"""The count deltas (``analytics_deltas``): on PostgreSQL each write appends what it adds per rollup key
here, in its own transaction, and a fold moves the deltas into the count tables one fold at a time, so
that concurrent writers never wait for each other's counts rows. SQLite keeps raising the counts directly
(the table stays empty there).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_deltas",
        sa.Column("asset_id", sa.String(16), nullable=False),
        sa.Column("short_code", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("event_type", sa.String(8), nullable=False),
        sa.Column("hour_us", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("bot_events", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    # Deltas not folded yet would be lost with the table: the downgrade needs them folded first.
    op.execute("DROP TABLE analytics_deltas")
