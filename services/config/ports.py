"""What the configuration logic needs from storage, and the records it exchanges with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

#: A validated configuration body: {"detection_config": …, "scoring_config": …, "blip_config": …}.
Document = dict[str, Any]


@dataclass(frozen=True)
class Actor:
    """Who made a change, as the audit trail records it."""

    changed_by: str
    source_ip: str
    user_agent: str


@dataclass(frozen=True)
class StoredConfig:
    """One configuration row. ``model_id`` is None for the intent's global configuration."""

    id: int
    usage_intent: str
    model_id: str | None
    document: Document
    version: int
    is_active: bool
    created_by: str
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class AuditRecord:
    """One audit row (seed ``analysis_config_audit``); ``id`` doubles as the global change revision."""

    id: int
    config_id: int
    action: str
    changed_by: str
    source_ip: str
    user_agent: str
    changes: Document | None
    previous_values: StoredConfig | None
    usage_intent: str
    model_id: str | None
    timestamp: datetime
    version: int


@dataclass(frozen=True)
class Change:
    """What a PUT or DELETE did: the row concerned (after the change) and its audit row."""

    config: StoredConfig
    audit: AuditRecord


class ConfigStore(Protocol):
    """Configuration rows (every version kept) and their audit trail."""

    async def active(self, usage_intent: str, model_id: str | None) -> StoredConfig | None: ...
    async def get(self, config_id: int) -> StoredConfig | None: ...
    async def list_active(self, usage_intent: str | None, model_id: str | None) -> list[StoredConfig]: ...

    async def put(
        self, usage_intent: str, model_id: str | None, document: Document, actor: Actor, at: datetime
    ) -> Change:
        """Store ``document`` as the next version of the key, deactivate the previous one, write the audit
        row (create/update) — all in one transaction."""
        ...

    async def deactivate(self, usage_intent: str, model_id: str | None, actor: Actor, at: datetime) -> Change | None:
        """Deactivate the active row of exactly this key and audit it (delete); None when there is none."""
        ...

    async def list_audit(
        self, usage_intent: str, model_id: str | None, offset: int, limit: int
    ) -> tuple[list[AuditRecord], int]:
        """Audit rows of the intent (of one model when given), newest first, and the total count."""
        ...

    async def audit_since(
        self, revision: int, usage_intent: str | None, model_id: str | None, limit: int
    ) -> list[AuditRecord]:
        """Audit rows with id > revision, oldest first."""
        ...

    async def latest_revision(self) -> int: ...
