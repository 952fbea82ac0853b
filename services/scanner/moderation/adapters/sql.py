"""Moderation tables (``moderation_*``) in SQL (SQLite or Postgres) through SQLModel."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, delete, func, or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import Field, SQLModel, and_, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from clearframe_runtime.observability import inject_context
from services.scanner.adapters.sql import ScanRow
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
    ScanFailure,
    StaleCase,
    StatCounts,
    TimeRange,
    Webhook,
    utc,
)

metadata = SQLModel.metadata

KIND_DECISION, KIND_SCAN_FAILED = "DECISION", "SCAN_FAILED"
#: Key of the PostgreSQL transaction lock that orders the feed's writers (see SqlModerationStore.write).
FEED_LOCK = 0x6D6F6465  # "mode"


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _opt(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


class DecisionRow(SQLModel, table=True):
    __tablename__ = "moderation_decisions"

    id: str = Field(primary_key=True, max_length=64)
    scan_id: str = Field(max_length=64, index=True)
    asset_id: str = Field(default="", max_length=64, index=True)
    verdict: str = Field(max_length=16, index=True)
    automated: bool
    reviewer: str = Field(max_length=300)
    notes: str
    reasons: str
    supersedes: str = Field(default="", max_length=64)
    current: bool = Field(index=True)
    created_at: datetime = Field(index=True)
    usage_intent: str = Field(max_length=32, index=True)
    model_id: str = Field(default="", max_length=64)
    risk_score: float
    webhook_delivery: bool

    @classmethod
    def of(cls, d: Decision) -> DecisionRow:
        return cls(
            id=d.decision_id,
            scan_id=d.scan_id,
            asset_id=d.asset_id,
            verdict=d.verdict,
            automated=d.automated,
            reviewer=d.reviewer,
            notes=d.notes,
            reasons=_dump(d.reasons),
            supersedes=d.supersedes,
            current=d.current,
            created_at=d.created_at,
            usage_intent=d.usage_intent,
            model_id=d.model_id,
            risk_score=d.risk_score,
            webhook_delivery=d.webhook_delivery,
        )

    def record(self) -> Decision:
        return Decision(
            decision_id=self.id,
            scan_id=self.scan_id,
            asset_id=self.asset_id,
            verdict=self.verdict,
            automated=self.automated,
            reviewer=self.reviewer,
            notes=self.notes,
            reasons=json.loads(self.reasons),
            supersedes=self.supersedes,
            current=self.current,
            created_at=utc(self.created_at),
            usage_intent=self.usage_intent,
            model_id=self.model_id,
            risk_score=self.risk_score,
            webhook_delivery=self.webhook_delivery,
        )


class ReviewCaseRow(SQLModel, table=True):
    __tablename__ = "moderation_review_cases"

    id: str = Field(primary_key=True, max_length=64)
    scan_id: str = Field(max_length=64, index=True)
    asset_id: str = Field(default="", max_length=64, index=True)
    state: str = Field(max_length=16, index=True)
    priority: str = Field(max_length=16)
    #: 0 for URGENT, 1 for NORMAL: the queue's first sort key.
    priority_rank: int
    reasons: str
    created_at: datetime = Field(index=True)
    closed_at: datetime | None = None
    decision_id: str = Field(default="", max_length=64)
    version: int
    usage_intent: str = Field(max_length=32)

    @staticmethod
    def values(c: ReviewCase) -> dict[str, Any]:
        return {
            "scan_id": c.scan_id,
            "asset_id": c.asset_id,
            "state": c.state,
            "priority": c.priority,
            "priority_rank": 0 if c.priority == "URGENT" else 1,
            "reasons": _dump(c.reasons),
            "created_at": c.created_at,
            "closed_at": c.closed_at,
            "decision_id": c.decision_id,
            "version": c.version,
            "usage_intent": c.usage_intent,
        }

    def record(self) -> ReviewCase:
        return ReviewCase(
            case_id=self.id,
            scan_id=self.scan_id,
            asset_id=self.asset_id,
            state=self.state,
            priority=self.priority,
            reasons=json.loads(self.reasons),
            created_at=utc(self.created_at),
            closed_at=_opt(self.closed_at),
            decision_id=self.decision_id,
            version=self.version,
            usage_intent=self.usage_intent,
        )


class AuditRow(SQLModel, table=True):
    __tablename__ = "moderation_audit_entries"

    id: str = Field(primary_key=True, max_length=64)
    action: str = Field(max_length=32, index=True)
    created_at: datetime = Field(index=True)
    asset_id: str = Field(default="", max_length=64, index=True)
    scan_id: str = Field(default="", max_length=64, index=True)
    decision_id: str = Field(default="", max_length=64, index=True)
    verdict: str = Field(default="", max_length=16)
    actor: str = Field(max_length=300)
    automated: bool
    reasons: str
    notes: str
    risk_score: float

    @classmethod
    def of(cls, e: AuditEntry) -> AuditRow:
        return cls(
            id=e.entry_id,
            action=e.action,
            created_at=e.created_at,
            asset_id=e.asset_id,
            scan_id=e.scan_id,
            decision_id=e.decision_id,
            verdict=e.verdict,
            actor=e.actor,
            automated=e.automated,
            reasons=_dump(e.reasons),
            notes=e.notes,
            risk_score=e.risk_score,
        )

    def record(self) -> AuditEntry:
        return AuditEntry(
            entry_id=self.id,
            action=self.action,
            created_at=utc(self.created_at),
            asset_id=self.asset_id,
            scan_id=self.scan_id,
            decision_id=self.decision_id,
            verdict=self.verdict,
            actor=self.actor,
            automated=self.automated,
            reasons=json.loads(self.reasons),
            notes=self.notes,
            risk_score=self.risk_score,
        )


class WebhookRow(SQLModel, table=True):
    __tablename__ = "moderation_webhooks"

    id: str = Field(primary_key=True, max_length=64)
    url: str = Field(max_length=2048, unique=True)
    event_types: str
    usage_intents: str
    enabled: bool
    secret: str = Field(max_length=256)
    description: str = Field(max_length=500)
    created_at: datetime = Field(index=True)
    updated_at: datetime

    @staticmethod
    def values(h: Webhook) -> dict[str, Any]:
        return {
            "url": h.url,
            "event_types": _dump(h.event_types),
            "usage_intents": _dump(h.usage_intents),
            "enabled": h.enabled,
            "secret": h.secret,
            "description": h.description,
            "created_at": h.created_at,
            "updated_at": h.updated_at,
        }

    def record(self) -> Webhook:
        return Webhook(
            webhook_id=self.id,
            url=self.url,
            event_types=tuple(json.loads(self.event_types)),
            usage_intents=tuple(json.loads(self.usage_intents)),
            enabled=self.enabled,
            secret=self.secret,
            description=self.description,
            created_at=utc(self.created_at),
            updated_at=utc(self.updated_at),
        )


class DeliveryRow(SQLModel, table=True):
    __tablename__ = "moderation_webhook_deliveries"

    id: str = Field(primary_key=True, max_length=64)
    webhook_id: str = Field(max_length=64, index=True)
    event_type: str = Field(max_length=32)
    state: str = Field(max_length=16, index=True)
    attempt_count: int
    last_http_status: int
    last_error: str
    created_at: datetime = Field(index=True)
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = Field(default=None, index=True)
    replay_of: str = Field(default="", max_length=64)
    payload: str
    trace_context: str = ""

    @staticmethod
    def values(d: Delivery) -> dict[str, Any]:
        return {
            "webhook_id": d.webhook_id,
            "event_type": d.event_type,
            "state": d.state,
            "attempt_count": d.attempt_count,
            "last_http_status": d.last_http_status,
            "last_error": d.last_error,
            "created_at": d.created_at,
            "last_attempt_at": d.last_attempt_at,
            "next_attempt_at": d.next_attempt_at,
            "replay_of": d.replay_of,
            "payload": _dump(d.payload),
            "trace_context": _dump(dict(d.trace_context)) if d.trace_context else "",
        }

    def record(self) -> Delivery:
        return Delivery(
            delivery_id=self.id,
            webhook_id=self.webhook_id,
            event_type=self.event_type,
            state=self.state,
            attempt_count=self.attempt_count,
            last_http_status=self.last_http_status,
            last_error=self.last_error,
            created_at=utc(self.created_at),
            last_attempt_at=_opt(self.last_attempt_at),
            next_attempt_at=_opt(self.next_attempt_at),
            replay_of=self.replay_of,
            payload=json.loads(self.payload),
            trace_context=json.loads(self.trace_context) if self.trace_context else {},
        )


class EventRow(SQLModel, table=True):
    """The decision feed: one row per decision (its content is the decision's row) or failed scan."""

    __tablename__ = "moderation_events"
    __table_args__ = {"sqlite_autoincrement": True}

    revision: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    )
    kind: str = Field(max_length=16)
    decision_id: str = Field(default="", max_length=64)
    scan_id: str = Field(max_length=64)
    asset_id: str = Field(default="", max_length=64, index=True)
    error_code: str = Field(default="", max_length=32)
    error_reason: str = Field(default="", max_length=64)
    error_message: str = ""
    created_at: datetime

    def event(self, decision: DecisionRow | None) -> FeedEvent:
        assert self.revision is not None
        if decision is not None:
            return FeedEvent(self.revision, utc(self.created_at), decision=decision.record())
        failure = ScanFailure(
            scan_id=self.scan_id,
            asset_id=self.asset_id,
            code=self.error_code,
            message=self.error_message,
            reason=self.error_reason,
            failed_at=utc(self.created_at),
        )
        return FeedEvent(self.revision, utc(self.created_at), failure=failure)


def _in_period(column: Any, period: TimeRange) -> list[Any]:
    clauses = []
    if period.start is not None:
        clauses.append(column >= period.start)
    if period.end is not None:
        clauses.append(column <= period.end)
    return clauses


def _audit_where(where: AuditFilter) -> list[Any]:
    clauses = _in_period(col(AuditRow.created_at), where.period)
    for column, value in (
        (AuditRow.asset_id, where.asset_id),
        (AuditRow.scan_id, where.scan_id),
        (AuditRow.decision_id, where.decision_id),
        (AuditRow.verdict, where.verdict),
        (AuditRow.action, where.action),
    ):
        if value:
            clauses.append(column == value)
    return clauses


class SqlModerationStore:
    """:class:`services.scanner.moderation.ports.ModerationStore` on an async SQLAlchemy engine."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def write(self, changes: ChangeSet) -> None:
        async with self._sessions() as session:
            decision = changes.decision
            if decision is not None:
                await session.exec(
                    update(DecisionRow)
                    .where(col(DecisionRow.scan_id) == decision.scan_id, col(DecisionRow.current).is_(True))
                    .values(current=False)
                )
                session.add(DecisionRow.of(decision))
            for change in changes.cases:
                if change.expected_version is None:
                    row = ReviewCaseRow(id=change.case.case_id, **ReviewCaseRow.values(change.case))
                    session.add(row)
                    continue
                result = await session.exec(
                    update(ReviewCaseRow)
                    .where(
                        col(ReviewCaseRow.id) == change.case.case_id,
                        col(ReviewCaseRow.version) == change.expected_version,
                    )
                    .values(**ReviewCaseRow.values(change.case))
                )
                if result.rowcount != 1:
                    await session.rollback()
                    raise StaleCase(change.case.case_id)
            for entry in changes.audit:
                session.add(AuditRow.of(entry))
            for delivery in changes.deliveries:
                # A delivery is sent later by the worker: keep the trace of the action that caused it.
                traced = delivery if delivery.trace_context else replace(delivery, trace_context=inject_context())
                session.add(DeliveryRow(id=delivery.delivery_id, **DeliveryRow.values(traced)))
            if changes.feed_events:
                await self._add_events(session, changes)
            await session.commit()

    @staticmethod
    async def _add_events(session: AsyncSession, changes: ChangeSet) -> None:
        """The feed's rows, last in the transaction. Watchers read "everything up to the highest
        revision", so a lower revision must never commit after a higher one is visible: on PostgreSQL
        writers queue on a transaction lock before their revisions are drawn (SQLite has one writer)."""
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            await session.flush()  # the other rows first: the lock is held only for the feed's insert
            await session.exec(select(func.pg_advisory_xact_lock(FEED_LOCK)))
        if changes.decision is not None:
            d = changes.decision
            session.add(
                EventRow(
                    kind=KIND_DECISION,
                    decision_id=d.decision_id,
                    scan_id=d.scan_id,
                    asset_id=d.asset_id,
                    created_at=d.created_at,
                )
            )
        if changes.failure is not None:
            f = changes.failure
            session.add(
                EventRow(
                    kind=KIND_SCAN_FAILED,
                    scan_id=f.scan_id,
                    asset_id=f.asset_id,
                    error_code=f.code,
                    error_reason=f.reason,
                    error_message=f.message,
                    created_at=f.failed_at,
                )
            )

    async def latest_revision(self) -> int:
        async with self._sessions() as session:
            return int((await session.exec(select(func.max(EventRow.revision)))).one() or 0)

    async def events_after(self, after: int, upto: int, asset_id: str, limit: int) -> list[FeedEvent]:
        revision = col(EventRow.revision)
        query = (
            select(EventRow, DecisionRow)
            .join(DecisionRow, col(DecisionRow.id) == col(EventRow.decision_id), isouter=True)
            .where(revision > after, revision <= upto)
            # A decision event always has its row (one transaction); the clause keeps ``limit`` exact.
            .where(or_(col(EventRow.kind) != KIND_DECISION, col(DecisionRow.id).is_not(None)))
        )
        if asset_id:
            query = query.where(EventRow.asset_id == asset_id)
        async with self._sessions() as session:
            rows = (await session.exec(query.order_by(revision).limit(limit))).all()
        return [event.event(decision) for event, decision in rows]

    async def current_decision(self, scan_id: str) -> Decision | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(DecisionRow).where(DecisionRow.scan_id == scan_id, col(DecisionRow.current).is_(True))
                )
            ).first()
            return row.record() if row else None

    async def get_decision(self, decision_id: str) -> Decision | None:
        async with self._sessions() as session:
            row = await session.get(DecisionRow, decision_id)
            return row.record() if row else None

    async def list_decisions(self, where: DecisionFilter, offset: int, limit: int) -> list[Decision]:
        query = select(DecisionRow).where(*_in_period(col(DecisionRow.created_at), where.period))
        if where.asset_id:
            query = query.where(DecisionRow.asset_id == where.asset_id)
        if where.scan_id:
            query = query.where(DecisionRow.scan_id == where.scan_id)
        if where.verdict:
            query = query.where(DecisionRow.verdict == where.verdict)
        if where.current_only:
            query = query.where(col(DecisionRow.current).is_(True))
        query = query.order_by(col(DecisionRow.created_at).desc(), col(DecisionRow.id).desc())
        async with self._sessions() as session:
            return [r.record() for r in (await session.exec(query.offset(offset).limit(limit))).all()]

    async def get_case(self, case_id: str) -> ReviewCase | None:
        async with self._sessions() as session:
            row = await session.get(ReviewCaseRow, case_id)
            return row.record() if row else None

    async def open_case_for_scan(self, scan_id: str) -> ReviewCase | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(ReviewCaseRow).where(ReviewCaseRow.scan_id == scan_id, ReviewCaseRow.state == CASE_OPEN)
                )
            ).first()
            return row.record() if row else None

    async def list_cases(self, where: CaseFilter, offset: int, limit: int) -> tuple[list[ReviewCase], int]:
        clauses: list[Any] = [ReviewCaseRow.state == where.state]
        if where.priority:
            clauses.append(ReviewCaseRow.priority == where.priority)
        if where.asset_id:
            clauses.append(ReviewCaseRow.asset_id == where.asset_id)
        query = select(ReviewCaseRow).where(*clauses)
        if where.state == CASE_OPEN:
            query = query.order_by(
                col(ReviewCaseRow.priority_rank), col(ReviewCaseRow.created_at), col(ReviewCaseRow.id)
            )
        else:
            query = query.order_by(col(ReviewCaseRow.created_at).desc(), col(ReviewCaseRow.id).desc())
        async with self._sessions() as session:
            rows = (await session.exec(query.offset(offset).limit(limit))).all()
            total = (await session.exec(select(func.count()).select_from(ReviewCaseRow).where(*clauses))).one()
            return [r.record() for r in rows], int(total)

    async def list_audit(self, where: AuditFilter, offset: int, limit: int) -> list[AuditEntry]:
        query = (
            select(AuditRow)
            .where(*_audit_where(where))
            .order_by(col(AuditRow.created_at).desc(), col(AuditRow.id).desc())
            .offset(offset)
            .limit(limit)
        )
        async with self._sessions() as session:
            return [r.record() for r in (await session.exec(query)).all()]

    async def audit_after(self, where: AuditFilter, after: tuple[datetime, str] | None, limit: int) -> list[AuditEntry]:
        query = select(AuditRow).where(*_audit_where(where))
        if after is not None:
            at, entry_id = after
            query = query.where(
                or_(col(AuditRow.created_at) > at, and_(col(AuditRow.created_at) == at, col(AuditRow.id) > entry_id))
            )
        query = query.order_by(col(AuditRow.created_at), col(AuditRow.id)).limit(limit)
        async with self._sessions() as session:
            return [r.record() for r in (await session.exec(query)).all()]

    async def clear_audit(self, *, asset_id: str, before: datetime | None, record: AuditEntry) -> int:
        statement = delete(AuditRow)
        if asset_id:
            statement = statement.where(col(AuditRow.asset_id) == asset_id)
        if before is not None:
            statement = statement.where(col(AuditRow.created_at) < before)
        async with self._sessions() as session:
            result = await session.exec(statement)
            session.add(AuditRow.of(record))
            await session.commit()
            return int(result.rowcount)

    async def stat_counts(self, period: TimeRange, usage_intent: str) -> StatCounts:
        current = [col(DecisionRow.current).is_(True), *_in_period(col(DecisionRow.created_at), period)]
        manual = [col(DecisionRow.automated).is_(False), *_in_period(col(DecisionRow.created_at), period)]
        pending = [
            col(ScanRow.state).in_(("SCAN_STATE_QUEUED", "SCAN_STATE_RUNNING")),
            *_in_period(col(ScanRow.created_at), period),
        ]
        if usage_intent:
            current.append(DecisionRow.usage_intent == usage_intent)
            manual.append(DecisionRow.usage_intent == usage_intent)
            pending.append(ScanRow.usage_intent == usage_intent)
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(DecisionRow.verdict, func.count()).where(*current).group_by(col(DecisionRow.verdict))
                )
            ).all()
            by_verdict = {verdict: int(count) for verdict, count in rows}
            by_verdict[PENDING] = by_verdict.get(PENDING, 0) + int(
                (await session.exec(select(func.count()).select_from(ScanRow).where(*pending))).one()
            )
            manual_count = (await session.exec(select(func.count()).select_from(DecisionRow).where(*manual))).one()
            open_cases = (
                await session.exec(
                    select(func.count()).select_from(ReviewCaseRow).where(ReviewCaseRow.state == CASE_OPEN)
                )
            ).one()
        return StatCounts(by_verdict=by_verdict, manual_decisions=int(manual_count), open_review_cases=int(open_cases))

    async def save_webhook(self, hook: Webhook) -> None:
        async with self._sessions() as session:
            row = await session.get(WebhookRow, hook.webhook_id)
            if row is None:
                session.add(WebhookRow(id=hook.webhook_id, **WebhookRow.values(hook)))
            else:
                for key, value in WebhookRow.values(hook).items():
                    setattr(row, key, value)
                session.add(row)
            await session.commit()

    async def get_webhook(self, webhook_id: str) -> Webhook | None:
        async with self._sessions() as session:
            row = await session.get(WebhookRow, webhook_id)
            return row.record() if row else None

    async def webhook_with_url(self, url: str) -> Webhook | None:
        async with self._sessions() as session:
            row = (await session.exec(select(WebhookRow).where(WebhookRow.url == url))).first()
            return row.record() if row else None

    async def list_webhooks(self, offset: int, limit: int) -> list[Webhook]:
        query = select(WebhookRow).order_by(col(WebhookRow.created_at), col(WebhookRow.id)).offset(offset).limit(limit)
        async with self._sessions() as session:
            return [r.record() for r in (await session.exec(query)).all()]

    async def delete_webhook(self, webhook_id: str, now: datetime) -> None:
        async with self._sessions() as session:
            await session.exec(
                update(DeliveryRow)
                .where(col(DeliveryRow.webhook_id) == webhook_id, col(DeliveryRow.state) == DELIVERY_PENDING)
                .values(state=DELIVERY_FAILED, next_attempt_at=None, last_error="webhook deleted")
            )
            await session.exec(delete(WebhookRow).where(col(WebhookRow.id) == webhook_id))
            await session.commit()

    async def webhooks_for(self, event_type: str, usage_intent: str) -> list[Webhook]:
        async with self._sessions() as session:
            rows = (await session.exec(select(WebhookRow).where(col(WebhookRow.enabled).is_(True)))).all()
        return [hook for hook in (r.record() for r in rows) if hook.wants(event_type, usage_intent)]

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        async with self._sessions() as session:
            row = await session.get(DeliveryRow, delivery_id)
            return row.record() if row else None

    async def list_deliveries(self, webhook_id: str, state: str, offset: int, limit: int) -> list[Delivery]:
        query = select(DeliveryRow).where(DeliveryRow.webhook_id == webhook_id)
        if state:
            query = query.where(DeliveryRow.state == state)
        query = query.order_by(col(DeliveryRow.created_at).desc(), col(DeliveryRow.id).desc())
        async with self._sessions() as session:
            return [r.record() for r in (await session.exec(query.offset(offset).limit(limit))).all()]

    async def due_deliveries(self, now: datetime, limit: int) -> list[Delivery]:
        query = (
            select(DeliveryRow)
            .where(DeliveryRow.state == DELIVERY_PENDING, col(DeliveryRow.next_attempt_at) <= now)
            .order_by(col(DeliveryRow.next_attempt_at), col(DeliveryRow.id))
            .limit(limit)
        )
        async with self._sessions() as session:
            return [r.record() for r in (await session.exec(query)).all()]

    async def claim_delivery(self, delivery: Delivery, lease_until: datetime) -> bool:
        async with self._sessions() as session:
            result = await session.exec(
                update(DeliveryRow)
                .where(
                    col(DeliveryRow.id) == delivery.delivery_id,
                    col(DeliveryRow.state) == DELIVERY_PENDING,
                    col(DeliveryRow.next_attempt_at) == delivery.next_attempt_at,
                )
                .values(next_attempt_at=lease_until)
            )
            await session.commit()
            return bool(result.rowcount == 1)

    async def save_delivery(self, delivery: Delivery) -> None:
        async with self._sessions() as session:
            row = await session.get(DeliveryRow, delivery.delivery_id)
            if row is None:
                session.add(DeliveryRow(id=delivery.delivery_id, **DeliveryRow.values(delivery)))
            elif row.state != DELIVERY_PENDING:
                return  # the webhook was deleted meanwhile: keep its FAILED state
            else:
                for key, value in DeliveryRow.values(delivery).items():
                    setattr(row, key, value)
                session.add(row)
            await session.commit()

    async def next_due_time(self) -> datetime | None:
        async with self._sessions() as session:
            value = (
                await session.exec(
                    select(func.min(DeliveryRow.next_attempt_at)).where(DeliveryRow.state == DELIVERY_PENDING)
                )
            ).one()
        return _opt(value)
