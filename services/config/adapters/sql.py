"""Analysis configurations and their audit trail in SQL (SQLite or Postgres) through SQLModel.

Every PUT inserts a new row (version = highest version of the key + 1, unique per key) and deactivates
the previous one in the same transaction as its audit row; rows are never deleted. The global
configuration of an intent is stored with ``model_key = ""`` so that the unique key works the same on
both databases (NULLs are never equal in SQL).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint, func, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.config.ports import Actor, AuditRecord, Change, Document, StoredConfig

metadata = SQLModel.metadata
#: Concurrent PUTs of one key race for the next version; the loser retries.
PUT_ATTEMPTS = 5


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _model_key(model_id: str | None) -> str:
    return model_id or ""


class ConfigRow(SQLModel, table=True):
    __tablename__ = "config_analysis_configs"
    __table_args__ = (
        UniqueConstraint("usage_intent", "model_key", "version", name="uq_config_analysis_configs_version"),
        Index("ix_config_analysis_configs_key_active", "usage_intent", "model_key", "is_active"),
    )

    id: int | None = Field(default=None, primary_key=True)
    usage_intent: str = Field(max_length=32)
    model_key: str = Field(default="", max_length=64)
    detection_config: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    scoring_config: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    blip_config: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    version: int
    is_active: bool
    created_by: str = Field(default="", max_length=300)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))

    def record(self) -> StoredConfig:
        assert self.id is not None
        return StoredConfig(
            id=self.id,
            usage_intent=self.usage_intent,
            model_id=self.model_key or None,
            document={
                "detection_config": self.detection_config,
                "scoring_config": self.scoring_config,
                "blip_config": self.blip_config,
            },
            version=self.version,
            is_active=self.is_active,
            created_by=self.created_by,
            created_at=_aware(self.created_at),
            updated_at=_aware(self.updated_at),
        )


class AuditRow(SQLModel, table=True):
    __tablename__ = "config_audit"
    __table_args__ = (Index("ix_config_audit_intent_time", "usage_intent", "timestamp"),)

    id: int | None = Field(default=None, primary_key=True)
    config_id: int = Field(foreign_key="config_analysis_configs.id")
    action: str = Field(max_length=16)
    changed_by: str = Field(default="", max_length=300)
    source_ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=512)
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    previous_values: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    usage_intent: str = Field(max_length=32)
    model_key: str = Field(default="", max_length=64)
    timestamp: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    version: int

    def record(self) -> AuditRecord:
        assert self.id is not None
        return AuditRecord(
            id=self.id,
            config_id=self.config_id,
            action=self.action,
            changed_by=self.changed_by,
            source_ip=self.source_ip,
            user_agent=self.user_agent,
            changes=self.changes,
            previous_values=_config_from_json(self.previous_values) if self.previous_values else None,
            usage_intent=self.usage_intent,
            model_id=self.model_key or None,
            timestamp=_aware(self.timestamp) or datetime.now(UTC),
            version=self.version,
        )


def _config_to_json(config: StoredConfig) -> dict[str, Any]:
    return {
        "id": config.id,
        "usage_intent": config.usage_intent,
        "model_id": config.model_id,
        **config.document,
        "version": config.version,
        "is_active": config.is_active,
        "created_by": config.created_by,
        "created_at": config.created_at.isoformat() if config.created_at else None,
        "updated_at": config.updated_at.isoformat() if config.updated_at else None,
    }


def _config_from_json(data: dict[str, Any]) -> StoredConfig:
    def when(value: str | None) -> datetime | None:
        return _aware(datetime.fromisoformat(value)) if value else None

    return StoredConfig(
        id=int(data["id"]),
        usage_intent=str(data["usage_intent"]),
        model_id=data.get("model_id") or None,
        document={k: data[k] for k in ("detection_config", "scoring_config", "blip_config")},
        version=int(data["version"]),
        is_active=bool(data["is_active"]),
        created_by=str(data.get("created_by", "")),
        created_at=when(data.get("created_at")),
        updated_at=when(data.get("updated_at")),
    )


class SqlConfigStore:
    """:class:`services.config.ports.ConfigStore` on an async SQLAlchemy engine."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    @staticmethod
    def _active_query(usage_intent: str, model_id: str | None) -> Any:
        return (
            select(ConfigRow)
            .where(
                ConfigRow.usage_intent == usage_intent,
                ConfigRow.model_key == _model_key(model_id),
                col(ConfigRow.is_active).is_(True),
            )
            .order_by(col(ConfigRow.version).desc())
        )

    async def active(self, usage_intent: str, model_id: str | None) -> StoredConfig | None:
        async with self._sessions() as session:
            row = (await session.exec(self._active_query(usage_intent, model_id))).first()
            return row.record() if row else None

    async def get(self, config_id: int) -> StoredConfig | None:
        async with self._sessions() as session:
            row = await session.get(ConfigRow, config_id)
            return row.record() if row else None

    async def list_active(self, usage_intent: str | None, model_id: str | None) -> list[StoredConfig]:
        query = select(ConfigRow).where(col(ConfigRow.is_active).is_(True))
        if usage_intent:
            query = query.where(ConfigRow.usage_intent == usage_intent)
        if model_id:
            query = query.where(ConfigRow.model_key == model_id)
        query = query.order_by(col(ConfigRow.usage_intent), col(ConfigRow.model_key))
        async with self._sessions() as session:
            return [row.record() for row in (await session.exec(query)).all()]

    async def put(
        self, usage_intent: str, model_id: str | None, document: Document, actor: Actor, at: datetime
    ) -> Change:
        for attempt in range(PUT_ATTEMPTS):
            try:
                return await self._put_once(usage_intent, model_id, document, actor, at)
            except (IntegrityError, OperationalError):
                # Another writer took the version (or held SQLite's write lock); read again and retry.
                if attempt == PUT_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _put_once(
        self, usage_intent: str, model_id: str | None, document: Document, actor: Actor, at: datetime
    ) -> Change:
        key = _model_key(model_id)
        async with self._sessions() as session, session.begin():
            previous = (await session.exec(self._active_query(usage_intent, model_id))).first()
            highest = (
                await session.exec(
                    select(func.max(ConfigRow.version)).where(
                        ConfigRow.usage_intent == usage_intent, ConfigRow.model_key == key
                    )
                )
            ).one()
            previous_record = previous.record() if previous else None
            await session.exec(
                update(ConfigRow)
                .where(
                    col(ConfigRow.usage_intent) == usage_intent,
                    col(ConfigRow.model_key) == key,
                    col(ConfigRow.is_active).is_(True),
                )
                .values(is_active=False, updated_at=at)
            )
            row = ConfigRow(
                usage_intent=usage_intent,
                model_key=key,
                detection_config=document["detection_config"],
                scoring_config=document["scoring_config"],
                blip_config=document["blip_config"],
                version=int(highest or 0) + 1,
                is_active=True,
                created_by=actor.changed_by,
                created_at=at,
                updated_at=at,
            )
            session.add(row)
            await session.flush()
            assert row.id is not None
            audit = AuditRow(
                config_id=row.id,
                action="update" if previous_record else "create",
                changed_by=actor.changed_by,
                source_ip=actor.source_ip,
                user_agent=actor.user_agent[:512],
                changes=document,
                previous_values=_config_to_json(previous_record) if previous_record else None,
                usage_intent=usage_intent,
                model_key=key,
                timestamp=at,
                version=row.version,
            )
            session.add(audit)
            await session.flush()
            return Change(row.record(), audit.record())

    async def deactivate(self, usage_intent: str, model_id: str | None, actor: Actor, at: datetime) -> Change | None:
        async with self._sessions() as session, session.begin():
            row = (await session.exec(self._active_query(usage_intent, model_id))).first()
            if row is None:
                return None
            before = row.record()
            await session.exec(
                update(ConfigRow)
                .where(
                    col(ConfigRow.usage_intent) == usage_intent,
                    col(ConfigRow.model_key) == _model_key(model_id),
                    col(ConfigRow.is_active).is_(True),
                )
                .values(is_active=False, updated_at=at)
            )
            audit = AuditRow(
                config_id=before.id,
                action="delete",
                changed_by=actor.changed_by,
                source_ip=actor.source_ip,
                user_agent=actor.user_agent[:512],
                changes=None,
                previous_values=_config_to_json(before),
                usage_intent=usage_intent,
                model_key=_model_key(model_id),
                timestamp=at,
                version=before.version,
            )
            session.add(audit)
            await session.flush()
            after = replace(before, is_active=False, updated_at=at)
            return Change(after, audit.record())

    async def list_audit(
        self, usage_intent: str, model_id: str | None, offset: int, limit: int
    ) -> tuple[list[AuditRecord], int]:
        conditions = [AuditRow.usage_intent == usage_intent]
        if model_id:
            conditions.append(AuditRow.model_key == model_id)
        async with self._sessions() as session:
            total = (await session.exec(select(func.count()).select_from(AuditRow).where(*conditions))).one()
            rows = (
                await session.exec(
                    select(AuditRow)
                    .where(*conditions)
                    .order_by(col(AuditRow.timestamp).desc(), col(AuditRow.id).desc())
                    .offset(offset)
                    .limit(limit)
                )
            ).all()
            return [row.record() for row in rows], int(total)

    async def audit_since(
        self, revision: int, usage_intent: str | None, model_id: str | None, limit: int
    ) -> list[AuditRecord]:
        query = select(AuditRow).where(col(AuditRow.id) > revision)
        if usage_intent:
            query = query.where(AuditRow.usage_intent == usage_intent)
        if model_id:
            query = query.where(AuditRow.model_key == model_id)
        async with self._sessions() as session:
            rows = (await session.exec(query.order_by(col(AuditRow.id)).limit(limit))).all()
            return [row.record() for row in rows]

    async def latest_revision(self) -> int:
        async with self._sessions() as session:
            return int((await session.exec(select(func.max(AuditRow.id)))).one() or 0)
