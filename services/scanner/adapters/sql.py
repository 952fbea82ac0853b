"""Scans and tag statistics in SQL (SQLite or Postgres) through SQLModel.

A scan row keeps the filterable fields as columns and the whole scan as the proto JSON of its ``Scan``
message (``services/scanner/wire.py``); ``runner`` names the scanner instance that runs a RUNNING scan.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.scanner.domain.model import Scan
from services.scanner.wire import scan_from_json, scan_json

metadata = SQLModel.metadata


class ScanRow(SQLModel, table=True):
    __tablename__ = "scanner_scans"

    id: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=32)
    media_type: str = Field(max_length=32)
    content_type: str = Field(max_length=200)
    size_bytes: int
    sha256: str = Field(max_length=64, index=True)
    usage_intent: str = Field(max_length=32, index=True)
    model_id: str = Field(default="", max_length=64, index=True)
    asset_id: str = Field(default="", max_length=16, index=True)
    creator: str = Field(default="", max_length=300)
    verdict: str = Field(default="", max_length=32, index=True)
    created_at: datetime = Field(index=True)
    completed_at: datetime | None = None
    document: str

    runner: str = Field(default="", max_length=200, index=True)

    def scan(self) -> Scan:
        return scan_from_json(self.document, self.runner)


class TagCountRow(SQLModel, table=True):
    __tablename__ = "scanner_tag_counts"

    label: str = Field(primary_key=True, max_length=200)
    count: int


class SqlScanStore:
    """:class:`services.scanner.ports.ScanStore` on an async SQLAlchemy engine."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def save(self, scan: Scan) -> None:
        values: dict[str, Any] = {
            "state": f"SCAN_STATE_{scan.state.value}",
            "media_type": f"MEDIA_TYPE_{scan.media_type.upper() or 'UNSPECIFIED'}",
            "content_type": scan.content_type,
            "size_bytes": scan.size_bytes,
            "sha256": scan.sha256,
            "usage_intent": scan.usage_intent,
            "model_id": scan.model_id,
            "asset_id": scan.asset_id,
            "creator": scan.creator,
            "verdict": f"VERDICT_{scan.verdict}" if scan.verdict else "",
            "created_at": scan.created_at,
            "completed_at": scan.completed_at,
            "document": scan_json(scan),
            "runner": scan.runner,
        }
        async with self._sessions() as session:
            row = await session.get(ScanRow, scan.scan_id)
            if row is None:
                session.add(ScanRow(id=scan.scan_id, **values))
            else:
                for key, value in values.items():
                    setattr(row, key, value)
                session.add(row)
            await session.commit()

    async def get(self, scan_id: str) -> Scan | None:
        async with self._sessions() as session:
            row = await session.get(ScanRow, scan_id)
            return row.scan() if row else None

    async def running(self) -> list[Scan]:
        query = select(ScanRow).where(ScanRow.state == "SCAN_STATE_RUNNING").order_by(col(ScanRow.created_at))
        async with self._sessions() as session:
            return [row.scan() for row in (await session.exec(query)).all()]

    async def list_scans(
        self,
        *,
        asset_id: str,
        verdict: str,
        usage_intent: str,
        model_id: str,
        start: datetime | None,
        end: datetime | None,
        offset: int,
        limit: int,
    ) -> list[Scan]:
        query = select(ScanRow)
        if asset_id:
            query = query.where(ScanRow.asset_id == asset_id)
        if verdict:
            query = query.where(ScanRow.verdict == f"VERDICT_{verdict}")
        if usage_intent:
            query = query.where(ScanRow.usage_intent == usage_intent)
        if model_id:
            query = query.where(ScanRow.model_id == model_id)
        if start is not None:
            query = query.where(ScanRow.created_at >= start)
        if end is not None:
            query = query.where(ScanRow.created_at <= end)
        query = query.order_by(col(ScanRow.created_at).desc(), col(ScanRow.id)).offset(offset).limit(limit)
        async with self._sessions() as session:
            return [row.scan() for row in (await session.exec(query)).all()]

    async def record_tags(self, tags: list[str]) -> int:
        """Count each tag once more; returns how many recordings were made."""
        counts: Counter[str] = Counter(tags)
        if not counts:
            return 0
        async with self._sessions() as session:
            dialect = session.bind.dialect.name if session.bind else "sqlite"
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            table = TagCountRow.__table__  # type: ignore[attr-defined]
            statement = insert(table).values([{"label": k, "count": v} for k, v in sorted(counts.items())])
            statement = statement.on_conflict_do_update(
                index_elements=["label"], set_={"count": table.c.count + statement.excluded.count}
            )
            await session.exec(statement)
            await session.commit()
        return sum(counts.values())

    async def tag_stats(self, offset: int, limit: int) -> tuple[list[tuple[str, int]], int]:
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(TagCountRow)
                    .order_by(col(TagCountRow.count).desc(), col(TagCountRow.label))
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
            total = (await session.exec(select(func.coalesce(func.sum(TagCountRow.count), 0)))).one()
            return [(row.label, row.count) for row in rows], int(total)
