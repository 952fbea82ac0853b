"""Moderation rules: decisions, review cases, the audit trail, statistics, webhook deliveries.

Pure logic: no grpc, no generated messages. Statements of reasons and webhook payloads travel as the
JSON dicts of their messages (snake_case keys); the servicer converts them. Every change that belongs
together (a decision, its audit entry, the review case it opens or closes, its webhook deliveries) is
handed to the store as one :class:`ChangeSet` and written in one transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from clearframe_runtime.clock import Clock, utcnow
from clearframe_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from clearframe_runtime.vocabulary import USAGE_INTENTS
from services.scanner.domain.model import Scan
from services.scanner.moderation.ports import ModerationStore

APPROVED, FLAGGED, REJECTED, PENDING = "APPROVED", "FLAGGED", "REJECTED", "PENDING"
VERDICTS = (APPROVED, FLAGGED, REJECTED, PENDING)
SYSTEM = "system"

ACTION_AUTOMATED = "AUTOMATED_DECISION"
ACTION_MANUAL = "MANUAL_DECISION"
ACTION_REVIEW_OPENED = "REVIEW_OPENED"
ACTION_AUDIT_CLEARED = "AUDIT_CLEARED"

CASE_OPEN, CASE_DECIDED, CASE_CLOSED = "OPEN", "DECIDED", "CLOSED"
PRIORITY_NORMAL, PRIORITY_URGENT = "NORMAL", "URGENT"

EVENT_DECISION_CREATED = "DECISION_CREATED"
EVENT_REVIEW_OPENED = "REVIEW_OPENED"
EVENT_SCAN_FAILED = "SCAN_FAILED"
EVENT_TYPES = (EVENT_DECISION_CREATED, EVENT_REVIEW_OPENED, EVENT_SCAN_FAILED)

DELIVERY_PENDING, DELIVERY_SUCCEEDED, DELIVERY_FAILED = "PENDING", "SUCCEEDED", "FAILED"

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_NOTES = 2000
MAX_DESCRIPTION = 500
MAX_URL = 2048
SECRET_LENGTH = (16, 256)

#: Webhook retries: 1 s doubling up to 1 h between attempts, for 24 h after the delivery was created.
BACKOFF_FIRST_S = 1.0
BACKOFF_CAP_S = 3600.0
RETRY_WINDOW = timedelta(hours=24)


def utc(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ScanFacts:
    """What moderation needs to know about a finished scan."""

    scan_id: str
    asset_id: str
    usage_intent: str
    model_id: str
    verdict: str
    risk_score: float
    urgent: bool
    reasons: Mapping[str, Any]
    #: MuseNest's callback fields that come from the scan (nudity_score, detected_parts …).
    payload: Mapping[str, Any]
    #: Whether the applied configuration asks for webhook delivery (`blip_config.webhook_delivery`).
    webhook_delivery: bool


def facts_of(scan: Scan, reasons: Mapping[str, Any], *, webhook_delivery: bool) -> ScanFacts:
    """Moderation's view of a finished scan, with MuseNest's callback fields taken from its result:
    ``detected_parts`` is each mapped label's best confidence (0–100, 2 decimals) over frames, and
    ``faces_detected`` the most faces seen in one frame (or the age analyzer's count when higher)."""
    result = scan.result
    if result is None:
        raise FailedPrecondition(f"scan {scan.scan_id!r} has no result yet", reason="SCAN_NOT_FINISHED")
    parts: dict[str, float] = {}
    faces = 0
    for frame in result.frames:
        frame_faces = 0
        for detection in frame.detections:
            label = detection.mapped_label or detection.label
            score = round(detection.score * 100 if detection.score <= 1.0 else detection.score, 2)
            parts[label] = max(parts.get(label, 0.0), score)
            frame_faces += label == "FACE_DETECTED"
        faces = max(faces, frame_faces)
    payload = {
        "nudity_score": result.nudity_score,
        "final_risk_score": result.risk_score,
        "risk_level": result.risk_level.lower(),
        "detected_parts": parts,
        "face_analysis": {
            "faces_detected": max(faces, result.age.faces_checked),
            "min_estimated_age": result.age.min_estimated_age_years,
            "underage_detected": result.age.underage_signal,
        },
        "analysis_version": result.analysis_version,
    }
    return ScanFacts(
        scan_id=scan.scan_id,
        asset_id=scan.asset_id,
        usage_intent=scan.usage_intent,
        model_id=scan.model_id,
        verdict=result.verdict,
        risk_score=result.risk_score,
        urgent=result.review_priority == PRIORITY_URGENT,
        reasons=reasons,
        payload=payload,
        webhook_delivery=webhook_delivery,
    )


@dataclass(frozen=True)
class Decision:
    decision_id: str
    scan_id: str
    asset_id: str
    verdict: str
    automated: bool
    reviewer: str
    notes: str
    reasons: Mapping[str, Any]
    supersedes: str
    current: bool
    created_at: datetime
    usage_intent: str
    model_id: str
    risk_score: float
    webhook_delivery: bool


@dataclass(frozen=True)
class ReviewCase:
    case_id: str
    scan_id: str
    asset_id: str
    state: str
    priority: str
    reasons: Mapping[str, Any]
    created_at: datetime
    closed_at: datetime | None
    decision_id: str
    version: int
    usage_intent: str

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


@dataclass(frozen=True)
class AuditEntry:
    entry_id: str
    action: str
    created_at: datetime
    asset_id: str
    scan_id: str
    decision_id: str
    verdict: str
    actor: str
    automated: bool
    reasons: Mapping[str, Any]
    notes: str
    risk_score: float


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    url: str
    event_types: tuple[str, ...]
    usage_intents: tuple[str, ...]
    enabled: bool
    secret: str
    description: str
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str, usage_intent: str) -> bool:
        return (
            self.enabled
            and (not self.event_types or event_type in self.event_types)
            and (not self.usage_intents or usage_intent in self.usage_intents)
        )


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    webhook_id: str
    event_type: str
    state: str
    attempt_count: int
    last_http_status: int
    last_error: str
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    replay_of: str
    payload: Mapping[str, Any]
    #: W3C trace context (``traceparent``, ``tracestate``) of the action that created it; attempts join it.
    trace_context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanFailure:
    """A scan that ended FAILED: no decision, but its asset's publisher must learn it (the asset shows
    ERROR). ``code`` is the canonical status name, ``reason`` the ErrorInfo reason."""

    scan_id: str
    asset_id: str
    code: str
    message: str
    reason: str
    failed_at: datetime


@dataclass(frozen=True)
class FeedEvent:
    """One event of the decision feed: a decision or a failed scan, at its global revision."""

    revision: int
    created_at: datetime
    decision: Decision | None = None
    failure: ScanFailure | None = None

    @property
    def asset_id(self) -> str:
        if self.decision is not None:
            return self.decision.asset_id
        return self.failure.asset_id if self.failure is not None else ""


@dataclass(frozen=True)
class CaseUpdate:
    """A review case to insert (expected_version None) or to replace if still at expected_version."""

    case: ReviewCase
    expected_version: int | None = None


@dataclass
class ChangeSet:
    """Everything one moderation action writes, atomically."""

    decision: Decision | None = None
    cases: list[CaseUpdate] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    #: A failed scan for the decision feed (the decision, when set, is a feed event of its own).
    failure: ScanFailure | None = None

    @property
    def feed_events(self) -> int:
        """How many events of the decision feed this change set writes."""
        return (self.decision is not None) + (self.failure is not None)


class StaleCase(Exception):
    """The review case changed between read and write (another reviewer was faster)."""


@dataclass(frozen=True)
class TimeRange:
    """Both ends inclusive; None is open."""

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise InvalidArgument("end_time lies before start_time", field="end_time", reason="INVALID_TIME_RANGE")


@dataclass(frozen=True)
class DecisionFilter:
    asset_id: str = ""
    scan_id: str = ""
    verdict: str = ""
    current_only: bool = False
    period: TimeRange = TimeRange()


@dataclass(frozen=True)
class CaseFilter:
    state: str = CASE_OPEN
    priority: str = ""
    asset_id: str = ""


@dataclass(frozen=True)
class AuditFilter:
    asset_id: str = ""
    scan_id: str = ""
    decision_id: str = ""
    verdict: str = ""
    action: str = ""
    period: TimeRange = TimeRange()


@dataclass(frozen=True)
class StatCounts:
    """Scans by current verdict, from the store."""

    by_verdict: Mapping[str, int]
    manual_decisions: int
    open_review_cases: int


@dataclass(frozen=True)
class ModerationStats:
    total_scans: int
    approved: int
    rejected: int
    flagged: int
    pending: int
    approval_rate: float
    rejection_rate: float
    flag_rate: float
    manual_decisions: int
    open_review_cases: int


def rate(part: int, total: int) -> float:
    """Seed 002: a percentage of all scans, 2 decimals, 0.0 when there are none."""
    return round(part / total * 100, 2) if total else 0.0


def statistics(counts: StatCounts) -> ModerationStats:
    by = counts.by_verdict
    approved, rejected, flagged, pending = (by.get(v, 0) for v in (APPROVED, REJECTED, FLAGGED, PENDING))
    total = approved + rejected + flagged + pending
    return ModerationStats(
        total_scans=total,
        approved=approved,
        rejected=rejected,
        flagged=flagged,
        pending=pending,
        approval_rate=rate(approved, total),
        rejection_rate=rate(rejected, total),
        flag_rate=rate(flagged, total),
        manual_decisions=counts.manual_decisions,
        open_review_cases=counts.open_review_cases,
    )


def backoff_delay(attempts_made: int) -> float:
    """Seconds to wait after the n-th failed attempt: 1, 2, 4 … capped at one hour."""
    if attempts_made < 1:
        return 0.0
    exponent = min(attempts_made - 1, int(math.log2(BACKOFF_CAP_S)) + 1)
    return min(BACKOFF_FIRST_S * float(2**exponent), BACKOFF_CAP_S)


def next_attempt(created_at: datetime, attempts_made: int, now: datetime) -> datetime | None:
    """When to try again after a failure, or None when the 24 h retry window is spent."""
    due = now + timedelta(seconds=backoff_delay(attempts_made))
    return due if due <= created_at + RETRY_WINDOW else None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Clearframe-Signature` value: HMAC-SHA256 over "<timestamp>.<body>"."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True)
class UrlPolicy:
    """Which webhook targets are acceptable."""

    allow_loopback: bool = True
    allowed_private_hosts: frozenset[str] = frozenset()

    def check(self, url: str) -> str:
        def refuse(why: str) -> InvalidArgument:
            return InvalidArgument(f"webhook url {why}", field="webhook.url", reason="INVALID_WEBHOOK_URL")

        if not url or len(url) > MAX_URL or any(c.isspace() for c in url):
            raise refuse(f"must be 1–{MAX_URL} characters without spaces")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise refuse("is malformed") from exc
        del port
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise refuse("must be an absolute http(s) URL with a host")
        if parts.username or parts.password:
            raise refuse("must not carry credentials")
        if parts.fragment:
            raise refuse("must not have a fragment")
        try:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
        except ValueError:
            address = None
        loopback = host == "localhost" or (address is not None and address.is_loopback)
        if loopback:
            if not self.allow_loopback:
                raise refuse("points at a loopback address, which this deployment refuses")
            return url
        if parts.scheme != "https":
            raise refuse("must use https (plain http only to loopback)")
        if address is not None and host not in self.allowed_private_hosts:
            if address.is_unspecified or address.is_multicast or address.is_reserved:
                raise refuse("points at an address that cannot receive webhooks")
            if address.is_private or address.is_link_local:
                raise refuse("points at a private or link-local address; allow-list it in settings")
        return url


def check_id(value: str, field_name: str, reason: str) -> str:
    if not ID_RE.match(value):
        raise InvalidArgument(f"{field_name} must be 1–64 characters of [A-Za-z0-9_-]", field=field_name, reason=reason)
    return value


def check_notes(notes: str) -> str:
    if len(notes) > MAX_NOTES:
        raise InvalidArgument(f"notes exceed {MAX_NOTES} characters", field="notes", reason="NOTES_TOO_LONG")
    return notes


def check_secret(secret: str) -> str:
    low, high = SECRET_LENGTH
    if not low <= len(secret) <= high:
        raise InvalidArgument(
            f"secret must have {low}–{high} characters", field="webhook.secret", reason="INVALID_WEBHOOK_SECRET"
        )
    return secret


def check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidArgument(
            f"description exceeds {MAX_DESCRIPTION} characters",
            field="webhook.description",
            reason="DESCRIPTION_TOO_LONG",
        )
    return description


def check_usage_intents(intents: Iterable[str]) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(intents))
    for intent in values:
        if intent not in USAGE_INTENTS:
            raise InvalidArgument(
                f"unknown usage intent {intent!r}; one of {', '.join(USAGE_INTENTS)}",
                field="webhook.usage_intents",
                reason="INVALID_USAGE_INTENT",
            )
    return values


def manual_reasons(facts: ScanFacts, verdict: str, reviewer: str, notes: str) -> dict[str, Any]:
    """The scan's statement of reasons with the applied configuration kept and a manual_review rule."""
    reasons = {k: v for k, v in facts.reasons.items() if k not in ("rules", "summary", "automated")}
    reasons["automated"] = False
    reasons["rules"] = [
        {
            "rule": "manual_review",
            "description": f"{verdict.lower()} by {reviewer}" + (f": {notes}" if notes else ""),
        }
    ]
    reasons["summary"] = f"manual review: {verdict.lower()}"
    return reasons


def webhook_payload(
    facts: ScanFacts, verdict: str, *, decision_id: str, automated: bool, event_time: datetime
) -> dict[str, Any]:
    """MuseNest's callback shape (docs/legacy/musenest.md, "Decision callbacks")."""
    payload = dict(facts.payload)
    rejected = verdict == REJECTED
    payload.update(
        batch_id=facts.scan_id,
        moderation_status=verdict.lower(),
        human_review_required=verdict == FLAGGED,
        flagged=verdict == FLAGGED,
        auto_rejected=rejected and automated,
        rejection_reason=str(facts.reasons.get("summary", "")) if rejected else "",
        scan_id=facts.scan_id,
        asset_id=facts.asset_id,
        decision_id=decision_id,
        usage_intent=facts.usage_intent,
        model_id=facts.model_id,
        event_time=event_time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    )
    return payload


class Moderation:
    """The moderation use cases on a :class:`ModerationStore`."""

    def __init__(
        self,
        store: ModerationStore,
        *,
        url_policy: UrlPolicy | None = None,
        clock: Clock = utcnow,
        on_deliveries: Callable[[], None] = lambda: None,
        on_events: Callable[[], None] = lambda: None,
    ):
        self.store = store
        self.url_policy = url_policy or UrlPolicy()
        self._clock = clock
        #: Wakes the delivery worker when new deliveries were written.
        self.on_deliveries = on_deliveries
        #: Wakes this process's watch streams when decision-feed events were written.
        self.on_events = on_events

    def now(self) -> datetime:
        return self._clock()

    # -- decisions ---------------------------------------------------------------------------------

    async def record_automated(self, facts: ScanFacts) -> Decision:
        """The pipeline's decision on a finished scan; FLAGGED opens a review case."""
        now = self.now()
        changes = ChangeSet()
        decision = await self._decision(changes, facts, facts.verdict, SYSTEM, "", dict(facts.reasons), "", now)
        if facts.verdict == FLAGGED and await self.store.open_case_for_scan(facts.scan_id) is None:
            await self._open_case(changes, facts, now)
        await self._write(changes)
        return decision

    async def record_failure(self, failure: ScanFailure) -> None:
        """A scan ended FAILED: it has no decision, but watchers of the feed learn it."""
        await self._write(ChangeSet(failure=failure))

    async def create_decision(
        self, facts: ScanFacts, verdict: str, reviewer: str, notes: str, decision_id: str = ""
    ) -> Decision:
        """A human decision on a scan (re-review included): supersedes the current one, closes the case."""
        if verdict not in (APPROVED, REJECTED, FLAGGED):
            raise InvalidArgument(
                "verdict must be APPROVED, REJECTED or FLAGGED", field="decision.verdict", reason="INVALID_VERDICT"
            )
        check_notes(notes)
        if decision_id:
            check_id(decision_id, "decision_id", "INVALID_DECISION_ID")
            if await self.store.get_decision(decision_id) is not None:
                raise AlreadyExists(f"decision {decision_id!r} exists", reason="DECISION_ALREADY_EXISTS")
        now = self.now()
        changes = ChangeSet()
        reasons = manual_reasons(facts, verdict, reviewer, notes)
        decision = await self._decision(changes, facts, verdict, reviewer, notes, reasons, decision_id, now)
        case = await self.store.open_case_for_scan(facts.scan_id)
        if case is not None and verdict != FLAGGED:
            closed = replace(
                case, state=CASE_CLOSED, closed_at=now, decision_id=decision.decision_id, version=case.version + 1
            )
            changes.cases.append(CaseUpdate(closed, expected_version=case.version))
        elif case is None and verdict == FLAGGED:
            await self._open_case(changes, facts, now)
        await self._write(changes)
        return decision

    async def decide_case(
        self, case: ReviewCase, facts: ScanFacts, verdict: str, reviewer: str, notes: str, etag: str = ""
    ) -> tuple[ReviewCase, Decision]:
        """A reviewer's verdict on an open case. A decided case stays decided: a later change of mind
        is a new decision on the scan (CreateDecision), never a silent edit of this one."""
        if verdict not in (APPROVED, REJECTED):
            raise InvalidArgument("a review decides APPROVED or REJECTED", field="verdict", reason="INVALID_VERDICT")
        check_notes(notes)
        if case.state != CASE_OPEN:
            raise FailedPrecondition(
                f"review case {case.case_id!r} is already {case.state.lower()}; write a new decision on the scan "
                "(POST /v1/decisions) to change its verdict",
                reason="REVIEW_CASE_ALREADY_DECIDED",
            )
        if etag and etag != case.etag:
            raise FailedPrecondition("the review case changed since it was read", reason="ETAG_MISMATCH")
        now = self.now()
        changes = ChangeSet()
        reasons = manual_reasons(facts, verdict, reviewer, notes)
        decision = await self._decision(changes, facts, verdict, reviewer, notes, reasons, "", now)
        decided = replace(
            case, state=CASE_DECIDED, closed_at=now, decision_id=decision.decision_id, version=case.version + 1
        )
        changes.cases.append(CaseUpdate(decided, expected_version=case.version))
        try:
            await self._write(changes)
        except StaleCase as exc:
            raise FailedPrecondition(
                f"review case {case.case_id!r} was decided by someone else meanwhile",
                reason="REVIEW_CASE_ALREADY_DECIDED",
            ) from exc
        return decided, decision

    async def get_decision(self, decision_id: str) -> Decision:
        check_id(decision_id, "decision_id", "INVALID_DECISION_ID")
        decision = await self.store.get_decision(decision_id)
        if decision is None:
            raise NotFound(f"decision {decision_id!r} does not exist", reason="DECISION_NOT_FOUND")
        return decision

    async def get_case(self, case_id: str) -> ReviewCase:
        check_id(case_id, "case_id", "INVALID_CASE_ID")
        case = await self.store.get_case(case_id)
        if case is None:
            raise NotFound(f"review case {case_id!r} does not exist", reason="REVIEW_CASE_NOT_FOUND")
        return case

    async def _decision(
        self,
        changes: ChangeSet,
        facts: ScanFacts,
        verdict: str,
        actor: str,
        notes: str,
        reasons: dict[str, Any],
        decision_id: str,
        now: datetime,
    ) -> Decision:
        automated = actor == SYSTEM
        previous = await self.store.current_decision(facts.scan_id)
        decision = Decision(
            decision_id=decision_id or new_id(),
            scan_id=facts.scan_id,
            asset_id=facts.asset_id,
            verdict=verdict,
            automated=automated,
            reviewer=actor,
            notes=notes,
            reasons=reasons,
            supersedes=previous.decision_id if previous else "",
            current=True,
            created_at=now,
            usage_intent=facts.usage_intent,
            model_id=facts.model_id,
            risk_score=facts.risk_score,
            webhook_delivery=facts.webhook_delivery,
        )
        changes.decision = decision
        changes.audit.append(
            AuditEntry(
                entry_id=new_id(),
                action=ACTION_AUTOMATED if automated else ACTION_MANUAL,
                created_at=now,
                asset_id=facts.asset_id,
                scan_id=facts.scan_id,
                decision_id=decision.decision_id,
                verdict=verdict,
                actor=actor,
                automated=automated,
                reasons=reasons,
                notes=notes,
                risk_score=facts.risk_score,
            )
        )
        payload = webhook_payload(facts, verdict, decision_id=decision.decision_id, automated=automated, event_time=now)
        await self._queue(changes, EVENT_DECISION_CREATED, facts, payload, now)
        return decision

    async def _open_case(self, changes: ChangeSet, facts: ScanFacts, now: datetime) -> None:
        case = ReviewCase(
            case_id=new_id(),
            scan_id=facts.scan_id,
            asset_id=facts.asset_id,
            state=CASE_OPEN,
            priority=PRIORITY_URGENT if facts.urgent else PRIORITY_NORMAL,
            reasons=dict(facts.reasons),
            created_at=now,
            closed_at=None,
            decision_id="",
            version=1,
            usage_intent=facts.usage_intent,
        )
        changes.cases.append(CaseUpdate(case))
        changes.audit.append(
            AuditEntry(
                entry_id=new_id(),
                action=ACTION_REVIEW_OPENED,
                created_at=now,
                asset_id=facts.asset_id,
                scan_id=facts.scan_id,
                decision_id=changes.decision.decision_id if changes.decision else "",
                verdict=FLAGGED,
                actor=SYSTEM,
                automated=True,
                reasons=dict(facts.reasons),
                notes=f"priority {case.priority.lower()}",
                risk_score=facts.risk_score,
            )
        )
        decision_id = changes.decision.decision_id if changes.decision else ""
        payload = webhook_payload(facts, FLAGGED, decision_id=decision_id, automated=True, event_time=now)
        await self._queue(changes, EVENT_REVIEW_OPENED, facts, payload, now)

    async def _queue(
        self, changes: ChangeSet, event_type: str, facts: ScanFacts, payload: dict[str, Any], now: datetime
    ) -> None:
        if not facts.webhook_delivery:
            return
        for hook in await self.store.webhooks_for(event_type, facts.usage_intent):
            changes.deliveries.append(new_delivery(hook.webhook_id, event_type, payload, now))

    async def _write(self, changes: ChangeSet) -> None:
        await self.store.write(changes)
        if changes.deliveries:
            self.on_deliveries()
        if changes.feed_events:
            self.on_events()

    # -- audit trail and statistics ----------------------------------------------------------------

    async def clear_audit(
        self, actor: str, *, asset_id: str = "", before: datetime | None = None, everything: bool = False
    ) -> tuple[int, AuditEntry]:
        if not asset_id and before is None and not everything:
            raise InvalidArgument("name what to clear: asset_id, before_time or all=true", reason="MISSING_CLEAR_SCOPE")
        scope = []
        if asset_id:
            scope.append(f"asset_id={asset_id}")
        if before is not None:
            scope.append(f"before_time={before.astimezone(UTC).isoformat()}")
        record = AuditEntry(
            entry_id=new_id(),
            action=ACTION_AUDIT_CLEARED,
            created_at=self.now(),
            asset_id=asset_id,
            scan_id="",
            decision_id="",
            verdict="",
            actor=actor,
            automated=False,
            reasons={},
            notes="cleared " + (" and ".join(scope) if scope else "all entries"),
            risk_score=0.0,
        )
        deleted = await self.store.clear_audit(asset_id=asset_id, before=before, record=record)
        return deleted, record

    async def stats(self, period: TimeRange, usage_intent: str) -> ModerationStats:
        return statistics(await self.store.stat_counts(period, usage_intent))

    # -- webhooks ----------------------------------------------------------------------------------

    async def create_webhook(
        self,
        *,
        url: str,
        event_types: Iterable[str],
        usage_intents: Iterable[str],
        enabled: bool,
        secret: str,
        description: str,
        webhook_id: str = "",
    ) -> tuple[Webhook, str]:
        """Returns the webhook and the generated secret (empty when the caller supplied one)."""
        if webhook_id:
            check_id(webhook_id, "webhook_id", "INVALID_WEBHOOK_ID")
        self.url_policy.check(url)
        generated = "" if secret else "whsec_" + secrets.token_urlsafe(32)
        now = self.now()
        hook = Webhook(
            webhook_id=webhook_id or new_id(),
            url=url,
            event_types=tuple(dict.fromkeys(event_types)),
            usage_intents=check_usage_intents(usage_intents),
            enabled=enabled,
            secret=check_secret(secret) if secret else generated,
            description=check_description(description),
            created_at=now,
            updated_at=now,
        )
        if webhook_id and await self.store.get_webhook(webhook_id) is not None:
            raise AlreadyExists(f"webhook {webhook_id!r} exists", reason="WEBHOOK_ALREADY_EXISTS")
        if await self.store.webhook_with_url(url) is not None:
            raise AlreadyExists("a webhook with this url is registered", reason="WEBHOOK_ALREADY_EXISTS")
        await self.store.save_webhook(hook)
        return hook, generated

    async def get_webhook(self, webhook_id: str) -> Webhook:
        check_id(webhook_id, "webhook_id", "INVALID_WEBHOOK_ID")
        hook = await self.store.get_webhook(webhook_id)
        if hook is None:
            raise NotFound(f"webhook {webhook_id!r} does not exist", reason="WEBHOOK_NOT_FOUND")
        return hook

    async def update_webhook(self, webhook_id: str, changes: Mapping[str, Any]) -> Webhook:
        hook = await self.get_webhook(webhook_id)
        values = dict(changes)
        if "url" in values:
            self.url_policy.check(values["url"])
            other = await self.store.webhook_with_url(values["url"])
            if other is not None and other.webhook_id != webhook_id:
                raise AlreadyExists("a webhook with this url is registered", reason="WEBHOOK_ALREADY_EXISTS")
        if "usage_intents" in values:
            values["usage_intents"] = check_usage_intents(values["usage_intents"])
        if "event_types" in values:
            values["event_types"] = tuple(dict.fromkeys(values["event_types"]))
        if "secret" in values:
            check_secret(values["secret"])
        if "description" in values:
            check_description(values["description"])
        updated = replace(hook, **values, updated_at=self.now())
        await self.store.save_webhook(updated)
        return updated

    async def delete_webhook(self, webhook_id: str) -> None:
        await self.get_webhook(webhook_id)
        await self.store.delete_webhook(webhook_id, self.now())

    async def replay(self, webhook_id: str, delivery_id: str) -> Delivery:
        hook = await self.get_webhook(webhook_id)
        check_id(delivery_id, "delivery_id", "INVALID_DELIVERY_ID")
        original = await self.store.get_delivery(delivery_id)
        if original is None or original.webhook_id != webhook_id:
            raise NotFound(
                f"delivery {delivery_id!r} of webhook {webhook_id!r} does not exist", reason="DELIVERY_NOT_FOUND"
            )
        if not hook.enabled:
            raise FailedPrecondition(f"webhook {webhook_id!r} is disabled", reason="WEBHOOK_DISABLED")
        delivery = replace(
            new_delivery(webhook_id, original.event_type, original.payload, self.now()),
            replay_of=original.delivery_id,
        )
        await self._write(ChangeSet(deliveries=[delivery]))
        return delivery


def new_delivery(webhook_id: str, event_type: str, payload: Mapping[str, Any], now: datetime) -> Delivery:
    return Delivery(
        delivery_id=new_id(),
        webhook_id=webhook_id,
        event_type=event_type,
        state=DELIVERY_PENDING,
        attempt_count=0,
        last_http_status=0,
        last_error="",
        created_at=now,
        last_attempt_at=None,
        next_attempt_at=now,
        replay_of="",
        payload=dict(payload),
    )


def attempt_outcome(delivery: Delivery, *, status: int, error: str, now: datetime) -> Delivery:
    """The delivery after one attempt: SUCCEEDED on 2xx, else PENDING with its next try, or FAILED."""
    attempts = delivery.attempt_count + 1
    if 200 <= status < 300 and not error:
        return replace(
            delivery,
            state=DELIVERY_SUCCEEDED,
            attempt_count=attempts,
            last_http_status=status,
            last_error="",
            last_attempt_at=now,
            next_attempt_at=None,
        )
    due = next_attempt(delivery.created_at, attempts, now)
    return replace(
        delivery,
        state=DELIVERY_PENDING if due else DELIVERY_FAILED,
        attempt_count=attempts,
        last_http_status=status,
        last_error=error or f"HTTP {status}",
        last_attempt_at=now,
        next_attempt_at=due,
    )
