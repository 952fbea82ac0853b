"""Assets (moderation facts flattened), their tags, their renditions and the decision feed's cursor.

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
        "sharelinks_assets",
        sa.Column("asset_id", sa.String(), primary_key=True),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("usage_intent", sa.String(), nullable=False),
        sa.Column("model_id", sa.String(), nullable=False),
        sa.Column("visibility", sa.String(), nullable=False),
        sa.Column("cache_policy", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moderation_status", sa.String(), nullable=False),
        sa.Column("moderation_scan_id", sa.String(), nullable=False),
        sa.Column("moderation_decision_id", sa.String(), nullable=False),
        sa.Column("moderation_error", sa.Text(), nullable=False),
        sa.Column("moderation_revision", sa.BigInteger(), nullable=False),
        sa.Column("moderation_scan_attempt", sa.Integer(), nullable=False),
    )
    # Lists are newest first, then by id; the status and owner filters keep that order.
    op.create_index("ix_sharelinks_assets_list_order", "sharelinks_assets", [sa.text("created_at DESC"), "asset_id"])
    op.create_index(
        "ix_sharelinks_assets_status", "sharelinks_assets", ["moderation_status", sa.text("created_at DESC")]
    )
    op.create_index("ix_sharelinks_assets_owner", "sharelinks_assets", ["owner", sa.text("created_at DESC")])
    op.create_table(
        "sharelinks_asset_tags",
        sa.Column(
            "asset_id",
            sa.String(),
            sa.ForeignKey("sharelinks_assets.asset_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        # The tag's place in the asset's list, so the tags come back in their order.
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("tag", sa.String(), nullable=False),
    )
    op.create_index("ix_sharelinks_asset_tags_tag", "sharelinks_asset_tags", ["tag", "asset_id"])
    op.create_table(
        "sharelinks_asset_renditions",
        sa.Column(
            "asset_id",
            sa.String(),
            sa.ForeignKey("sharelinks_assets.asset_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "sharelinks_feed_cursor",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_sharelinks_feed_cursor_single_row"),
    )


def downgrade() -> None:
    op.drop_table("sharelinks_feed_cursor")
    op.drop_table("sharelinks_asset_renditions")
    op.drop_index("ix_sharelinks_asset_tags_tag", table_name="sharelinks_asset_tags")
    op.drop_table("sharelinks_asset_tags")
    op.drop_index("ix_sharelinks_assets_owner", table_name="sharelinks_assets")
    op.drop_index("ix_sharelinks_assets_status", table_name="sharelinks_assets")
    op.drop_index("ix_sharelinks_assets_list_order", table_name="sharelinks_assets")
    op.drop_table("sharelinks_assets")
