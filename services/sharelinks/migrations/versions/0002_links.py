"""Short links: one row each, with their exact click and preview counters.

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
        "sharelinks_links",
        sa.Column("code", sa.String(), primary_key=True),
        sa.Column(
            "asset_id", sa.String(), sa.ForeignKey("sharelinks_assets.asset_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        # JSON lists: tags in their order, UTM [key, value] pairs.
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("creator", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_clicks", sa.BigInteger(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("redirect_status", sa.Integer(), nullable=False),
        sa.Column("utm", sa.Text(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("previews", sa.BigInteger(), nullable=False),
        sa.Column("last_click_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_sharelinks_links_list_order", "sharelinks_links", [sa.text("created_at DESC"), "code"])
    op.create_index("ix_sharelinks_links_asset", "sharelinks_links", ["asset_id", sa.text("created_at DESC")])


def downgrade() -> None:
    op.drop_index("ix_sharelinks_links_asset", table_name="sharelinks_links")
    op.drop_index("ix_sharelinks_links_list_order", table_name="sharelinks_links")
    op.drop_table("sharelinks_links")
