"""The register of event ids (``analytics_event_ids``: what makes a producer's id count once), and, on
PostgreSQL, ``analytics_events`` partitioned by UTC day of ``event_time_us`` (no primary key there: the
register holds the ids). Events already stored move into their day partitions; SQLite keeps its table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from services.analytics.adapters.sql import pg_partition_ddl

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DAY_US = 86_400_000_000
INDEXES = {
    "ix_analytics_events_asset_time": "asset_id, event_time_us",
    "ix_analytics_events_code_time": "short_code, event_time_us",
    "ix_analytics_events_time": "event_time_us, event_id",
}


def upgrade() -> None:
    op.create_table(
        "analytics_event_ids",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_time_us", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO analytics_event_ids (event_id, event_time_us) SELECT event_id, event_time_us FROM analytics_events"
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE analytics_events RENAME TO analytics_events_unpartitioned")
    op.execute(
        "ALTER TABLE analytics_events_unpartitioned "
        "RENAME CONSTRAINT analytics_events_pkey TO analytics_events_unpartitioned_pkey"
    )
    for name in INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_unpartitioned")
    op.execute(
        "CREATE TABLE analytics_events (LIKE analytics_events_unpartitioned INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (event_time_us)"
    )
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON analytics_events ({columns})")
    days = op.get_bind().execute(
        sa.text(f"SELECT DISTINCT event_time_us - event_time_us % {DAY_US} FROM analytics_events_unpartitioned")
    )
    for (day,) in days.all():
        op.execute(pg_partition_ddl(int(day)))
    op.execute("INSERT INTO analytics_events SELECT * FROM analytics_events_unpartitioned ORDER BY event_time_us")
    op.execute("DROP TABLE analytics_events_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE analytics_events RENAME TO analytics_events_partitioned")
        for name in INDEXES:
            op.execute(f"ALTER INDEX {name} RENAME TO {name}_partitioned")
        op.execute("CREATE TABLE analytics_events (LIKE analytics_events_partitioned INCLUDING DEFAULTS)")
        op.execute("INSERT INTO analytics_events SELECT * FROM analytics_events_partitioned")
        op.execute("ALTER TABLE analytics_events ADD PRIMARY KEY (event_id)")
        for name, columns in INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON analytics_events ({columns})")
        op.execute("DROP TABLE analytics_events_partitioned")
    op.drop_table("analytics_event_ids")
