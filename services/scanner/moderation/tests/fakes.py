"""An in-memory ModerationStore with the SQL adapter's semantics, for fast tests of the moderation use
cases and the decision feed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.scanner.moderation.domain import (
    CASE_OPEN,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    PENDING,
    AuditEntry,
    AuditFilter,
    CaseFilter,
    ChangeSet,
    Decision,
    DecisionFilter,
    Delivery,
    FeedEvent,
    ReviewCase,
    StaleCase,
    StatCounts,
    TimeRange,
    Webhook,
)


def _within(at: datetime, period: TimeRange) -> bool:
    return (period.start is None or at >= period.start) and (period.end is None or at <= period.end)


class MemoryModerationStore:
    """Rows in lists and dicts; a change set is applied whole or (stale case) not at all; every decision
    and failure is appended to the feed with the next revision."""

    def __init__(self) -> None:
        self.decisions: dict[str, Decision] = {}
        self.cases: dict[str, ReviewCase] = {}
        self.audit: list[AuditEntry] = []
        self.webhooks: dict[str, Webhook] = {}
        self.deliveries: dict[str, Delivery] = {}
        #: The feed in revision order (revision = position + 1); decisions are read back as they are now.
        self.feed: list[FeedEvent] = []

    async def write(self, changes: ChangeSet) -> None:
        for change in changes.cases:
            if change.expected_version is not None:
                stored = self.cases.get(change.case.case_id)
                if stored is None or stored.version != change.expected_version:
                    raise StaleCase(change.case.case_id)
        decision = changes.decision
        if decision is not None:
            for key, other in self.decisions.items():
                if other.scan_id == decision.scan_id and other.current:
                    self.decisions[key] = replace(other, current=False)
            self.decisions[decision.decision_id] = decision
            self.feed.append(FeedEvent(len(self.feed) + 1, decision.created_at, decision=decision))
        for change in changes.cases:
            self.cases[change.case.case_id] = change.case
        self.audit.extend(changes.audit)
        for delivery in changes.deliveries:
            self.deliveries[delivery.delivery_id] = delivery
        if changes.failure is not None:
            self.feed.append(FeedEvent(len(self.feed) + 1, changes.failure.failed_at, failure=changes.failure))

    async def latest_revision(self) -> int:
        return len(self.feed)

    async def events_after(self, after: int, upto: int, asset_id: str, limit: int) -> list[FeedEvent]:
        found = []
        for event in self.feed[after:upto]:
            if asset_id and event.asset_id != asset_id:
                continue
            if event.decision is not None:  # as the SQL adapter: the decision's row as it is now
                event = replace(event, decision=self.decisions[event.decision.decision_id])
            found.append(event)
            if len(found) == limit:
                break
        return found

    async def current_decision(self, scan_id: str) -> Decision | None:
        return next((d for d in self.decisions.values() if d.scan_id == scan_id and d.current), None)

    async def get_decision(self, decision_id: str) -> Decision | None:
        return self.decisions.get(decision_id)

    async def list_decisions(self, where: DecisionFilter, offset: int, limit: int) -> list[Decision]:
        found = [
            d
            for d in self.decisions.values()
            if (not where.asset_id or d.asset_id == where.asset_id)
            and (not where.scan_id or d.scan_id == where.scan_id)
            and (not where.verdict or d.verdict == where.verdict)
            and (not where.current_only or d.current)
            and _within(d.created_at, where.period)
        ]
        found.sort(key=lambda d: (d.created_at, d.decision_id), reverse=True)
        return found[offset : offset + limit]

    async def get_case(self, case_id: str) -> ReviewCase | None:
        return self.cases.get(case_id)

    async def open_case_for_scan(self, scan_id: str) -> ReviewCase | None:
        return next((c for c in self.cases.values() if c.scan_id == scan_id and c.state == CASE_OPEN), None)

    async def list_cases(self, where: CaseFilter, offset: int, limit: int) -> tuple[list[ReviewCase], int]:
        found = [
            c
            for c in self.cases.values()
            if c.state == where.state
            and (not where.priority or c.priority == where.priority)
            and (not where.asset_id or c.asset_id == where.asset_id)
        ]
        if where.state == CASE_OPEN:
            found.sort(key=lambda c: (c.priority != "URGENT", c.created_at, c.case_id))
        else:
            found.sort(key=lambda c: (c.created_at, c.case_id), reverse=True)
        return found[offset : offset + limit], len(found)

    def _audit_matches(self, e: AuditEntry, where: AuditFilter) -> bool:
        return all(
            not wanted or value == wanted
            for value, wanted in (
                (e.asset_id, where.asset_id),
                (e.scan_id, where.scan_id),
                (e.decision_id, where.decision_id),
                (e.verdict, where.verdict),
                (e.action, where.action),
            )
        ) and _within(e.created_at, where.period)

    async def list_audit(self, where: AuditFilter, offset: int, limit: int) -> list[AuditEntry]:
        found = sorted(
            (e for e in self.audit if self._audit_matches(e, where)),
            key=lambda e: (e.created_at, e.entry_id),
            reverse=True,
        )
        return found[offset : offset + limit]

    async def audit_after(self, where: AuditFilter, after: tuple[datetime, str] | None, limit: int) -> list[AuditEntry]:
        found = sorted(
            (
                e
                for e in self.audit
                if self._audit_matches(e, where) and (after is None or (e.created_at, e.entry_id) > after)
            ),
            key=lambda e: (e.created_at, e.entry_id),
        )
        return found[:limit]

    async def clear_audit(self, *, asset_id: str, before: datetime | None, record: AuditEntry) -> int:
        kept = [
            e
            for e in self.audit
            if not ((not asset_id or e.asset_id == asset_id) and (before is None or e.created_at < before))
        ]
        deleted = len(self.audit) - len(kept)
        self.audit = [*kept, record]
        return deleted

    async def stat_counts(self, period: TimeRange, usage_intent: str) -> StatCounts:
        by_verdict: dict[str, int] = {PENDING: 0}
        manual = 0
        for d in self.decisions.values():
            if not _within(d.created_at, period) or (usage_intent and d.usage_intent != usage_intent):
                continue
            if d.current:
                by_verdict[d.verdict] = by_verdict.get(d.verdict, 0) + 1
            manual += not d.automated
        open_cases = sum(c.state == CASE_OPEN for c in self.cases.values())
        return StatCounts(by_verdict=by_verdict, manual_decisions=manual, open_review_cases=open_cases)

    async def save_webhook(self, hook: Webhook) -> None:
        self.webhooks[hook.webhook_id] = hook

    async def get_webhook(self, webhook_id: str) -> Webhook | None:
        return self.webhooks.get(webhook_id)

    async def webhook_with_url(self, url: str) -> Webhook | None:
        return next((h for h in self.webhooks.values() if h.url == url), None)

    async def list_webhooks(self, offset: int, limit: int) -> list[Webhook]:
        ordered = sorted(self.webhooks.values(), key=lambda h: (h.created_at, h.webhook_id))
        return ordered[offset : offset + limit]

    async def delete_webhook(self, webhook_id: str, now: datetime) -> None:
        for key, d in self.deliveries.items():
            if d.webhook_id == webhook_id and d.state == DELIVERY_PENDING:
                self.deliveries[key] = replace(
                    d, state=DELIVERY_FAILED, next_attempt_at=None, last_error="webhook deleted"
                )
        self.webhooks.pop(webhook_id, None)

    async def webhooks_for(self, event_type: str, usage_intent: str) -> list[Webhook]:
        return [h for h in self.webhooks.values() if h.wants(event_type, usage_intent)]

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        return self.deliveries.get(delivery_id)

    async def list_deliveries(self, webhook_id: str, state: str, offset: int, limit: int) -> list[Delivery]:
        found = sorted(
            (d for d in self.deliveries.values() if d.webhook_id == webhook_id and (not state or d.state == state)),
            key=lambda d: (d.created_at, d.delivery_id),
            reverse=True,
        )
        return found[offset : offset + limit]

    def _due(self, now: datetime) -> list[Delivery]:
        return sorted(
            (
                d
                for d in self.deliveries.values()
                if d.state == DELIVERY_PENDING and d.next_attempt_at is not None and d.next_attempt_at <= now
            ),
            key=lambda d: (d.next_attempt_at or now, d.delivery_id),
        )

    async def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        return self._due(now)[:limit]

    async def claim_delivery(self, delivery: Delivery, lease_until: datetime) -> bool:
        stored = self.deliveries.get(delivery.delivery_id)
        if stored is None or stored.state != DELIVERY_PENDING or stored.next_attempt_at != delivery.next_attempt_at:
            return False
        self.deliveries[delivery.delivery_id] = replace(stored, next_attempt_at=lease_until)
        return True

    async def save_delivery(self, delivery: Delivery) -> None:
        stored = self.deliveries.get(delivery.delivery_id)
        if stored is not None and stored.state != DELIVERY_PENDING:
            return
        self.deliveries[delivery.delivery_id] = delivery

    async def next_due_time(self) -> datetime | None:
        pending = [
            d.next_attempt_at
            for d in self.deliveries.values()
            if d.state == DELIVERY_PENDING and d.next_attempt_at is not None
        ]
        return min(pending, default=None)
