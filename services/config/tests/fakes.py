"""An in-memory ConfigStore with the SQL adapter's semantics, for fast tests of the config use cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.config.ports import Actor, AuditRecord, Change, Document, StoredConfig


class MemoryConfigStore:
    """Every version kept; one active row per (intent, model); an audit row per change."""

    def __init__(self) -> None:
        self.configs: list[StoredConfig] = []
        self.audits: list[AuditRecord] = []

    def _key_rows(self, usage_intent: str, model_id: str | None) -> list[StoredConfig]:
        return [c for c in self.configs if c.usage_intent == usage_intent and c.model_id == model_id]

    async def active(self, usage_intent: str, model_id: str | None) -> StoredConfig | None:
        return next((c for c in self._key_rows(usage_intent, model_id) if c.is_active), None)

    async def get(self, config_id: int) -> StoredConfig | None:
        return next((c for c in self.configs if c.id == config_id), None)

    async def list_active(self, usage_intent: str | None, model_id: str | None) -> list[StoredConfig]:
        return [
            c
            for c in self.configs
            if c.is_active and usage_intent in (None, c.usage_intent) and model_id in (None, c.model_id)
        ]

    def _deactivate(self, row: StoredConfig, at: datetime) -> StoredConfig:
        after = replace(row, is_active=False, updated_at=at)
        self.configs[self.configs.index(row)] = after
        return after

    def _audit(
        self, row: StoredConfig, action: str, actor: Actor, changes: Document | None, before: StoredConfig | None
    ) -> AuditRecord:
        record = AuditRecord(
            id=len(self.audits) + 1,
            config_id=row.id,
            action=action,
            changed_by=actor.changed_by,
            source_ip=actor.source_ip,
            user_agent=actor.user_agent,
            changes=changes,
            previous_values=before,
            usage_intent=row.usage_intent,
            model_id=row.model_id,
            timestamp=row.updated_at or row.created_at or datetime.min,
            version=row.version,
        )
        self.audits.append(record)
        return record

    async def put(
        self, usage_intent: str, model_id: str | None, document: Document, actor: Actor, at: datetime
    ) -> Change:
        previous = await self.active(usage_intent, model_id)
        if previous is not None:
            self._deactivate(previous, at)
        row = StoredConfig(
            id=len(self.configs) + 1,
            usage_intent=usage_intent,
            model_id=model_id,
            document=document,
            version=max((c.version for c in self._key_rows(usage_intent, model_id)), default=0) + 1,
            is_active=True,
            created_by=actor.changed_by,
            created_at=at,
            updated_at=at,
        )
        self.configs.append(row)
        return Change(row, self._audit(row, "update" if previous else "create", actor, document, previous))

    async def deactivate(self, usage_intent: str, model_id: str | None, actor: Actor, at: datetime) -> Change | None:
        row = await self.active(usage_intent, model_id)
        if row is None:
            return None
        after = self._deactivate(row, at)
        return Change(after, self._audit(after, "delete", actor, None, row))

    async def list_audit(
        self, usage_intent: str, model_id: str | None, offset: int, limit: int
    ) -> tuple[list[AuditRecord], int]:
        rows = [a for a in self.audits if a.usage_intent == usage_intent and (not model_id or a.model_id == model_id)]
        rows.sort(key=lambda a: (a.timestamp, a.id), reverse=True)
        return rows[offset : offset + limit], len(rows)

    async def audit_since(
        self, revision: int, usage_intent: str | None, model_id: str | None, limit: int
    ) -> list[AuditRecord]:
        rows = [
            a
            for a in self.audits
            if a.id > revision and usage_intent in (None, a.usage_intent) and (not model_id or a.model_id == model_id)
        ]
        return rows[:limit]

    async def latest_revision(self) -> int:
        return len(self.audits)
