"""The decision feed (``moderation_events``): one row per decision or failed scan, numbered by revision.

WatchDecisions streams it; subscribers resume from the last revision they saw. The revision is the
table's auto-incremented key (never reused: AUTOINCREMENT on SQLite, a sequence on PostgreSQL).
Decisions and failed scans that exist already become the first events, in the order they happened.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: google.rpc.Code names by number: the stored scans carry the number, the feed the name.
CODES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)


NO_ERROR = {"error_code": "", "error_message": "", "error_reason": ""}


def _failure(document: str) -> tuple[str, str, str]:
    """(code name, message, reason) of a stored FAILED scan (its Scan message as proto JSON)."""
    error: dict[str, Any] = json.loads(document).get("error", {})
    number = int(error.get("code", 2))
    reason = next((d.get("reason", "") for d in error.get("details", []) if "reason" in d), "")
    return CODES[number] if 0 <= number < len(CODES) else "UNKNOWN", str(error.get("message", "")), str(reason)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    events = op.create_table(
        "moderation_events",
        sa.Column(
            "revision", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("decision_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("scan_id", sa.String(64), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False, server_default="", index=True),
        sa.Column("error_code", sa.String(32), nullable=False, server_default=""),
        sa.Column("error_reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("error_message", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    connection = op.get_bind()
    # Typed columns, so that SQLite's stored text comes back as datetimes.
    decisions = sa.table(
        "moderation_decisions",
        sa.column("id", sa.String()),
        sa.column("scan_id", sa.String()),
        sa.column("asset_id", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    scans = sa.table(
        "scanner_scans",
        sa.column("id", sa.String()),
        sa.column("state", sa.String()),
        sa.column("asset_id", sa.String()),
        sa.column("completed_at", sa.DateTime(timezone=True)),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("document", sa.Text()),
    )
    backlog: list[tuple[datetime, str, dict[str, Any]]] = []
    for decision_id, scan_id, asset_id, created_at in connection.execute(
        sa.select(decisions.c.id, decisions.c.scan_id, decisions.c.asset_id, decisions.c.created_at)
    ):
        row = {"kind": "DECISION", "decision_id": decision_id, "scan_id": scan_id, "asset_id": asset_id, **NO_ERROR}
        backlog.append((_utc(created_at), decision_id, {**row, "created_at": created_at}))
    for scan_id, asset_id, completed_at, created_at, document in connection.execute(
        sa.select(scans.c.id, scans.c.asset_id, scans.c.completed_at, scans.c.created_at, scans.c.document).where(
            scans.c.state == "SCAN_STATE_FAILED"
        )
    ):
        code, message, reason = _failure(document)
        at = completed_at or created_at
        row = {
            "kind": "SCAN_FAILED",
            "decision_id": "",
            "scan_id": scan_id,
            "asset_id": asset_id,
            "error_code": code,
            "error_message": message,
            "error_reason": reason,
        }
        backlog.append((_utc(at), scan_id, {**row, "created_at": at}))
    backlog.sort(key=lambda item: (item[0], item[1]))
    if backlog:
        op.bulk_insert(events, [row for _, _, row in backlog])


def downgrade() -> None:
    op.drop_table("moderation_events")
