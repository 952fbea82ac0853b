"""Analysis configurations (every version kept) and their audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_analysis_configs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("usage_intent", sa.String(32), nullable=False),
        # "" for the intent's global configuration, so the unique key below treats it like any model id.
        sa.Column("model_key", sa.String(64), nullable=False, server_default=""),
        sa.Column("detection_config", sa.JSON(), nullable=False),
        sa.Column("scoring_config", sa.JSON(), nullable=False),
        sa.Column("blip_config", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("usage_intent", "model_key", "version", name="uq_config_analysis_configs_version"),
    )
    op.create_index(
        "ix_config_analysis_configs_key_active", "config_analysis_configs", ["usage_intent", "model_key", "is_active"]
    )
    op.create_table(
        "config_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("config_id", sa.Integer(), sa.ForeignKey("config_analysis_configs.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("changed_by", sa.String(300), nullable=False, server_default=""),
        sa.Column("source_ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("user_agent", sa.String(512), nullable=False, server_default=""),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("previous_values", sa.JSON(), nullable=True),
        sa.Column("usage_intent", sa.String(32), nullable=False),
        sa.Column("model_key", sa.String(64), nullable=False, server_default=""),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_config_audit_intent_time", "config_audit", ["usage_intent", "timestamp"])


def downgrade() -> None:
    op.drop_index("ix_config_audit_intent_time", table_name="config_audit")
    op.drop_table("config_audit")
    op.drop_index("ix_config_analysis_configs_key_active", table_name="config_analysis_configs")
    op.drop_table("config_analysis_configs")
