"""Moderation: decisions, review cases, audit trail, webhooks and their delivery log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = False, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, index=index)


def upgrade() -> None:
    # 0001 gave scanner_scans.state 16 characters, but the stored names ("SCAN_STATE_SUCCEEDED") have
    # 20: PostgreSQL refused every finished scan (SQLite does not enforce lengths).
    with op.batch_alter_table("scanner_scans") as batch:
        batch.alter_column("state", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False)
    op.create_table(
        "moderation_decisions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("scan_id", sa.String(64), nullable=False, index=True),
        sa.Column("asset_id", sa.String(64), nullable=False, server_default="", index=True),
        sa.Column("verdict", sa.String(16), nullable=False, index=True),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column("reviewer", sa.String(300), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("supersedes", sa.String(64), nullable=False, server_default=""),
        sa.Column("current", sa.Boolean(), nullable=False, index=True),
        _time("created_at", index=True),
        sa.Column("usage_intent", sa.String(32), nullable=False, index=True),
        sa.Column("model_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("risk_score", sa.Float(), nullable=False),
        sa.Column("webhook_delivery", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "moderation_review_cases",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("scan_id", sa.String(64), nullable=False, index=True),
        sa.Column("asset_id", sa.String(64), nullable=False, server_default="", index=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        _time("created_at", index=True),
        _time("closed_at", nullable=True),
        sa.Column("decision_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("usage_intent", sa.String(32), nullable=False),
    )
    op.create_table(
        "moderation_audit_entries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("action", sa.String(32), nullable=False, index=True),
        _time("created_at", index=True),
        sa.Column("asset_id", sa.String(64), nullable=False, server_default="", index=True),
        sa.Column("scan_id", sa.String(64), nullable=False, server_default="", index=True),
        sa.Column("decision_id", sa.String(64), nullable=False, server_default="", index=True),
        sa.Column("verdict", sa.String(16), nullable=False, server_default=""),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("risk_score", sa.Float(), nullable=False),
    )
    op.create_table(
        "moderation_webhooks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("url", sa.String(2048), nullable=False, unique=True),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("usage_intents", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.String(256), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        _time("created_at", index=True),
        _time("updated_at"),
    )
    op.create_table(
        "moderation_webhook_deliveries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("webhook_id", sa.String(64), nullable=False, index=True),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("last_http_status", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        _time("created_at", index=True),
        _time("last_attempt_at", nullable=True),
        _time("next_attempt_at", nullable=True, index=True),
        sa.Column("replay_of", sa.String(64), nullable=False, server_default=""),
        sa.Column("payload", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "moderation_webhook_deliveries",
        "moderation_webhooks",
        "moderation_audit_entries",
        "moderation_review_cases",
        "moderation_decisions",
    ):
        op.drop_table(table)
    with op.batch_alter_table("scanner_scans") as batch:
        batch.alter_column("state", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False)
