"""What moderation needs from storage (the SQL adapter implements it)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.scanner.moderation.domain import (
        AuditEntry,
        AuditFilter,
        CaseFilter,
        ChangeSet,
        Decision,
        DecisionFilter,
        Delivery,
        FeedEvent,
        ReviewCase,
        StatCounts,
        TimeRange,
        Webhook,
    )


class ModerationStore(Protocol):
    async def write(self, changes: ChangeSet) -> None:
        """Write a change set in one transaction; raises StaleCase when a case moved on meanwhile. Its
        decision and its failure each become a feed event with the next revision; revisions are assigned
        in commit order (no writer commits a lower revision after a higher one is visible)."""

    async def latest_revision(self) -> int:
        """The highest revision of the decision feed; 0 while it is empty."""

    async def events_after(self, after: int, upto: int, asset_id: str, limit: int) -> list[FeedEvent]:
        """Feed events with ``after < revision <= upto`` (of ``asset_id`` when given), oldest first."""

    async def current_decision(self, scan_id: str) -> Decision | None: ...
    async def get_decision(self, decision_id: str) -> Decision | None: ...
    async def list_decisions(self, where: DecisionFilter, offset: int, limit: int) -> list[Decision]: ...

    async def get_case(self, case_id: str) -> ReviewCase | None: ...
    async def open_case_for_scan(self, scan_id: str) -> ReviewCase | None: ...
    async def list_cases(self, where: CaseFilter, offset: int, limit: int) -> tuple[list[ReviewCase], int]: ...

    async def list_audit(self, where: AuditFilter, offset: int, limit: int) -> list[AuditEntry]:
        """Newest first."""

    async def audit_after(self, where: AuditFilter, after: tuple[datetime, str] | None, limit: int) -> list[AuditEntry]:
        """Oldest first, strictly after the (created_at, entry_id) key: the export's keyset pages."""

    async def clear_audit(self, *, asset_id: str, before: datetime | None, record: AuditEntry) -> int:
        """Delete the scope (everything when neither is given), then add ``record``; one transaction."""

    async def stat_counts(self, period: TimeRange, usage_intent: str) -> StatCounts: ...

    async def save_webhook(self, hook: Webhook) -> None: ...
    async def get_webhook(self, webhook_id: str) -> Webhook | None: ...
    async def webhook_with_url(self, url: str) -> Webhook | None: ...
    async def list_webhooks(self, offset: int, limit: int) -> list[Webhook]: ...
    async def delete_webhook(self, webhook_id: str, now: datetime) -> None:
        """Delete the webhook; its pending deliveries become FAILED, the log stays."""

    async def webhooks_for(self, event_type: str, usage_intent: str) -> list[Webhook]: ...

    async def get_delivery(self, delivery_id: str) -> Delivery | None: ...
    async def list_deliveries(self, webhook_id: str, state: str, offset: int, limit: int) -> list[Delivery]: ...
    async def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]: ...
    async def claim_delivery(self, delivery: Delivery, lease_until: datetime) -> bool:
        """Move a due delivery's next attempt to ``lease_until`` unless another worker already did."""

    async def save_delivery(self, delivery: Delivery) -> None: ...
    async def next_due_time(self) -> datetime | None: ...
