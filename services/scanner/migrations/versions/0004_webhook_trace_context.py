"""Webhook deliveries keep the trace context of the decision that caused them.

Deliveries are sent later, by the delivery worker; the stored W3C context (``traceparent`` and
``tracestate`` as JSON) makes every attempt a span of the decision's trace and is sent as its
``traceparent`` header.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("moderation_webhook_deliveries") as batch:
        batch.add_column(sa.Column("trace_context", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("moderation_webhook_deliveries") as batch:
        batch.drop_column("trace_context")
