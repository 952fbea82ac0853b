"""ModerationService servicer (proto ↔ domain) and the scan listener that records automated decisions."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import grpc
import structlog
from google.protobuf import json_format

from clearframe.scanner.v1 import moderation_service_pb2 as pb
from clearframe.scanner.v1 import moderation_service_pb2_grpc as pb_grpc
from clearframe.scanner.v1 import types_pb2 as types
from clearframe_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from clearframe_runtime.pagination import decode_page_token, encode_page_token, page_size
from clearframe_runtime.principal import Principal, PrincipalCodec
from clearframe_runtime.protoconv import field_datetime, timestamp
from clearframe_runtime.vocabulary import USAGE_INTENTS
from services.scanner import metrics as scanner_metrics
from services.scanner.domain.decision import Policy
from services.scanner.domain.model import Failure, Scan, ScanState
from services.scanner.moderation import domain
from services.scanner.moderation.domain import (
    AuditEntry,
    AuditFilter,
    CaseFilter,
    Decision,
    DecisionFilter,
    Delivery,
    FeedEvent,
    Moderation,
    ReviewCase,
    ScanFacts,
    ScanFailure,
    TimeRange,
    Webhook,
)
from services.scanner.moderation.feed import DecisionFeed, Heartbeat
from services.scanner.ports import ScanReader
from services.scanner.wire import plain, reasons_message, result_message, status_message

log = structlog.get_logger(__name__)

EXPORT_BATCH = 500
CSV_COLUMNS = (
    "entry_id",
    "create_time",
    "action",
    "asset_id",
    "scan_id",
    "decision_id",
    "verdict",
    "actor",
    "automated",
    "risk_score",
    "notes",
    "reasons",
)
WEBHOOK_FIELDS = ("url", "event_types", "usage_intents", "enabled", "secret", "description")


# -- conversions -----------------------------------------------------------------------------------


def _period(message: Any) -> TimeRange:
    return TimeRange(field_datetime(message, "start_time"), field_datetime(message, "end_time"))


def _verdict_name(value: int) -> str:
    return "" if value == types.VERDICT_UNSPECIFIED else types.Verdict.Name(value).removeprefix("VERDICT_")


def _verdict(name: str) -> Any:
    return types.Verdict.Value(f"VERDICT_{name}") if name else types.VERDICT_UNSPECIFIED


def _reasons(value: Mapping[str, Any]) -> types.StatementOfReasons:
    reasons = types.StatementOfReasons()
    json_format.ParseDict(value, reasons, ignore_unknown_fields=True)
    return reasons


def _json(message: Any) -> dict[str, Any]:
    return plain(message)


def decision_message(d: Decision) -> pb.Decision:
    return pb.Decision(
        decision_id=d.decision_id,
        scan_id=d.scan_id,
        asset_id=d.asset_id,
        verdict=_verdict(d.verdict),
        automated=d.automated,
        reviewer=d.reviewer,
        notes=d.notes,
        reasons=_reasons(d.reasons),
        supersedes=d.supersedes,
        current=d.current,
        create_time=timestamp(d.created_at),
    )


def watch_message(item: FeedEvent | Heartbeat) -> pb.WatchDecisionsResponse:
    if isinstance(item, Heartbeat):
        return pb.WatchDecisionsResponse(
            revision=item.revision,
            event_time=timestamp(item.sent_at),
            heartbeat=pb.WatchHeartbeat(send_time=timestamp(item.sent_at)),
        )
    message = pb.WatchDecisionsResponse(revision=item.revision, event_time=timestamp(item.created_at))
    if item.decision is not None:
        message.decision.CopyFrom(decision_message(item.decision))
    elif item.failure is not None:
        f = item.failure
        message.scan_failed.CopyFrom(
            pb.ScanFailure(
                scan_id=f.scan_id,
                asset_id=f.asset_id,
                error=status_message(Failure(f.code, f.message, f.reason)),
                failure_time=timestamp(f.failed_at),
            )
        )
    return message


def audit_message(e: AuditEntry) -> pb.AuditEntry:
    return pb.AuditEntry(
        entry_id=e.entry_id,
        action=pb.AuditAction.Value(f"AUDIT_ACTION_{e.action}"),
        create_time=timestamp(e.created_at),
        asset_id=e.asset_id,
        scan_id=e.scan_id,
        decision_id=e.decision_id,
        verdict=_verdict(e.verdict),
        actor=e.actor,
        automated=e.automated,
        reasons=_reasons(e.reasons),
        notes=e.notes,
        risk_score=e.risk_score,
    )


def webhook_message(h: Webhook) -> pb.Webhook:
    return pb.Webhook(
        webhook_id=h.webhook_id,
        url=h.url,
        event_types=[pb.WebhookEventType.Value(f"WEBHOOK_EVENT_TYPE_{t}") for t in h.event_types],
        usage_intents=list(h.usage_intents),
        enabled=h.enabled,
        secret_set=bool(h.secret),
        description=h.description,
        create_time=timestamp(h.created_at),
        update_time=timestamp(h.updated_at),
    )


def delivery_message(d: Delivery) -> pb.WebhookDelivery:
    message = pb.WebhookDelivery(
        delivery_id=d.delivery_id,
        webhook_id=d.webhook_id,
        event_type=pb.WebhookEventType.Value(f"WEBHOOK_EVENT_TYPE_{d.event_type}"),
        state=pb.DeliveryState.Value(f"DELIVERY_STATE_{d.state}"),
        attempt_count=d.attempt_count,
        last_http_status=d.last_http_status,
        last_error=d.last_error,
        create_time=timestamp(d.created_at),
        replay_of=d.replay_of,
        payload=json_format.ParseDict(d.payload, pb.DecisionWebhookPayload(), ignore_unknown_fields=True),
    )
    if d.last_attempt_at is not None:
        message.last_attempt_time.CopyFrom(timestamp(d.last_attempt_at))
    if d.next_attempt_at is not None and d.state == domain.DELIVERY_PENDING:
        message.next_attempt_time.CopyFrom(timestamp(d.next_attempt_at))
    return message


def _event_type(value: int) -> str:
    if value == pb.WEBHOOK_EVENT_TYPE_UNSPECIFIED or value not in pb.WebhookEventType.values():
        raise InvalidArgument(
            "event_types holds an unknown or unspecified event type",
            field="webhook.event_types",
            reason="INVALID_EVENT_TYPE",
        )
    name: str = pb.WebhookEventType.Name(value)
    return name.removeprefix("WEBHOOK_EVENT_TYPE_")


def scan_facts(scan: Scan, *, webhook_delivery: bool) -> ScanFacts:
    """Moderation's view of a finished scan; its statement of reasons in the stored (proto JSON) shape."""
    if scan.result is None:
        raise FailedPrecondition(f"scan {scan.scan_id!r} has no result yet", reason="SCAN_NOT_FINISHED")
    return domain.facts_of(scan, _json(reasons_message(scan.result.reasons)), webhook_delivery=webhook_delivery)


def _next_token(items: list[Any], offset: int, size: int, filters: Sequence[object]) -> str:
    return encode_page_token(offset + size, filters) if len(items) > size else ""


# -- the scan listener -----------------------------------------------------------------------------


class ScanListener:
    """Registered on ``Scanner.listeners``: every completed scan gets its automated decision (and, on
    ``Scanner.failure_listeners``, every failed one its feed event)."""

    def __init__(self, moderation: Moderation):
        self._moderation = moderation

    async def __call__(self, scan: Scan, policy: Policy) -> None:
        if scan.state != ScanState.SUCCEEDED or scan.result is None:
            return
        decision = await self._moderation.record_automated(scan_facts(scan, webhook_delivery=policy.webhook_delivery))
        scanner_metrics.record_decision(decision.verdict, automated=True)
        log.info("moderation.decided", scan_id=scan.scan_id, decision_id=decision.decision_id, verdict=decision.verdict)

    async def failed(self, scan: Scan) -> None:
        """Registered on ``Scanner.failure_listeners``: a FAILED scan becomes an event of the feed."""
        if scan.state != ScanState.FAILED:
            return
        error = scan.error or Failure("UNKNOWN", "the scan failed")
        failure = ScanFailure(
            scan_id=scan.scan_id,
            asset_id=scan.asset_id,
            code=error.code,
            message=error.message,
            reason=error.reason,
            failed_at=scan.completed_at or self._moderation.now(),
        )
        await self._moderation.record_failure(failure)
        log.info("moderation.scan_failed", scan_id=scan.scan_id, reason=error.reason)


# -- the servicer ----------------------------------------------------------------------------------


class ModerationServicer(pb_grpc.ModerationServiceServicer):
    def __init__(self, moderation: Moderation, scans: ScanReader, codec: PrincipalCodec, feed: DecisionFeed):
        self._moderation = moderation
        self._feed = feed
        self._store = moderation.store
        self._scans = scans
        self._codec = codec

    def _caller(self, context: grpc.aio.ServicerContext) -> Principal:
        """The verified caller; the access table (clearframe_runtime.access) already admitted it."""
        return self._codec.caller(context)

    async def _scan(self, scan_id: str) -> Scan:
        domain.check_id(scan_id, "scan_id", "INVALID_SCAN_ID")
        scan = await self._scans.get(scan_id)
        if scan is None:
            raise NotFound(f"scan {scan_id!r} does not exist", reason="SCAN_NOT_FOUND")
        return scan

    async def _facts(self, scan: Scan) -> ScanFacts:
        if scan.state != ScanState.SUCCEEDED or scan.result is None:
            raise FailedPrecondition(f"scan {scan.scan_id!r} has no result yet", reason="SCAN_NOT_FINISHED")
        current = await self._store.current_decision(scan.scan_id)
        return scan_facts(scan, webhook_delivery=bool(current and current.webhook_delivery))

    async def _case_message(self, case: ReviewCase) -> pb.ReviewCase:
        message = pb.ReviewCase(
            case_id=case.case_id,
            scan_id=case.scan_id,
            asset_id=case.asset_id,
            state=pb.ReviewCaseState.Value(f"REVIEW_CASE_STATE_{case.state}"),
            priority=types.ReviewPriority.Value(f"REVIEW_PRIORITY_{case.priority}"),
            reasons=_reasons(case.reasons),
            create_time=timestamp(case.created_at),
            decision_id=case.decision_id,
            etag=case.etag,
        )
        if case.closed_at is not None:
            message.close_time.CopyFrom(timestamp(case.closed_at))
        scan = await self._scans.get(case.scan_id)
        if scan is not None and scan.result is not None:
            message.result.CopyFrom(result_message(scan.result))
        return message

    @staticmethod
    async def _created(context: grpc.aio.ServicerContext) -> None:
        await context.send_initial_metadata((("x-http-status", "201"),))

    # decisions

    async def CreateDecision(self, request: pb.CreateDecisionRequest, context: grpc.aio.ServicerContext) -> Any:
        caller = self._caller(context)
        scan = await self._scan(request.decision.scan_id)
        verdict = request.decision.verdict
        if verdict not in (types.VERDICT_APPROVED, types.VERDICT_REJECTED, types.VERDICT_FLAGGED):
            raise InvalidArgument(
                "verdict must be APPROVED, REJECTED or FLAGGED", field="decision.verdict", reason="INVALID_VERDICT"
            )
        decision = await self._moderation.create_decision(
            await self._facts(scan),
            _verdict_name(verdict),
            caller.subject,
            request.decision.notes,
            request.decision_id or request.decision.decision_id,
        )
        await self._created(context)
        return pb.CreateDecisionResponse(decision=decision_message(decision))

    async def GetDecision(self, request: pb.GetDecisionRequest, context: grpc.aio.ServicerContext) -> Any:
        return pb.GetDecisionResponse(
            decision=decision_message(await self._moderation.get_decision(request.decision_id))
        )

    async def ListDecisions(self, request: pb.ListDecisionsRequest, context: grpc.aio.ServicerContext) -> Any:
        if request.verdict not in types.Verdict.values():
            raise InvalidArgument("unknown verdict", field="verdict", reason="INVALID_VERDICT")
        where = DecisionFilter(
            asset_id=request.asset_id,
            scan_id=request.scan_id,
            verdict=_verdict_name(request.verdict),
            current_only=request.current_only,
            period=_period(request),
        )
        size = page_size(request.page_size, default=50, maximum=1000)
        offset = decode_page_token(request.page_token, [where])
        items = await self._store.list_decisions(where, offset, size + 1)
        return pb.ListDecisionsResponse(
            decisions=[decision_message(d) for d in items[:size]],
            next_page_token=_next_token(items, offset, size, [where]),
        )

    async def WatchDecisions(
        self, request: pb.WatchDecisionsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchDecisionsResponse]:
        async for item in self._feed.watch(request.since_revision, request.asset_id):
            yield watch_message(item)

    # review cases

    async def ListReviewCases(self, request: pb.ListReviewCasesRequest, context: grpc.aio.ServicerContext) -> Any:
        if request.state not in pb.ReviewCaseState.values():
            raise InvalidArgument("unknown state", field="state", reason="INVALID_FILTER")
        if request.priority not in types.ReviewPriority.values():
            raise InvalidArgument("unknown priority", field="priority", reason="INVALID_FILTER")
        state = pb.ReviewCaseState.Name(request.state or pb.REVIEW_CASE_STATE_OPEN).removeprefix("REVIEW_CASE_STATE_")
        priority = (
            types.ReviewPriority.Name(request.priority).removeprefix("REVIEW_PRIORITY_") if request.priority else ""
        )
        where = CaseFilter(state=state, priority=priority, asset_id=request.asset_id)
        size = page_size(request.page_size, default=50, maximum=500)
        offset = decode_page_token(request.page_token, [where])
        cases, total = await self._store.list_cases(where, offset, size + 1)
        return pb.ListReviewCasesResponse(
            cases=[await self._case_message(c) for c in cases[:size]],
            next_page_token=_next_token(cases, offset, size, [where]),
            total_size=total,
        )

    async def GetReviewCase(self, request: pb.GetReviewCaseRequest, context: grpc.aio.ServicerContext) -> Any:
        case = await self._moderation.get_case(request.case_id)
        return pb.GetReviewCaseResponse(review_case=await self._case_message(case))

    async def DecideReviewCase(self, request: pb.DecideReviewCaseRequest, context: grpc.aio.ServicerContext) -> Any:
        caller = self._caller(context)
        case = await self._moderation.get_case(request.case_id)
        if request.verdict not in (types.VERDICT_APPROVED, types.VERDICT_REJECTED):
            raise InvalidArgument("a review decides APPROVED or REJECTED", field="verdict", reason="INVALID_VERDICT")
        facts = await self._facts(await self._scan(case.scan_id))
        decided, decision = await self._moderation.decide_case(
            case, facts, _verdict_name(request.verdict), caller.subject, request.notes, request.etag
        )
        scanner_metrics.record_decision(decision.verdict, automated=False)
        return pb.DecideReviewCaseResponse(
            review_case=await self._case_message(decided), decision=decision_message(decision)
        )

    # audit trail

    async def ListAuditEntries(self, request: pb.ListAuditEntriesRequest, context: grpc.aio.ServicerContext) -> Any:
        if request.verdict not in types.Verdict.values() or request.action not in pb.AuditAction.values():
            raise InvalidArgument("unknown verdict or action", reason="INVALID_FILTER")
        action = pb.AuditAction.Name(request.action).removeprefix("AUDIT_ACTION_") if request.action else ""
        where = AuditFilter(
            asset_id=request.asset_id,
            scan_id=request.scan_id,
            decision_id=request.decision_id,
            verdict=_verdict_name(request.verdict),
            action=action,
            period=_period(request),
        )
        size = page_size(request.page_size, default=100, maximum=1000)
        offset = decode_page_token(request.page_token, [where])
        entries = await self._store.list_audit(where, offset, size + 1)
        return pb.ListAuditEntriesResponse(
            entries=[audit_message(e) for e in entries[:size]],
            next_page_token=_next_token(entries, offset, size, [where]),
        )

    async def ExportAuditEntries(
        self, request: pb.ExportAuditEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ExportAuditEntriesResponse]:
        if request.format not in pb.AuditExportFormat.values():
            raise InvalidArgument("unknown export format", field="format", reason="INVALID_FILTER")
        period = _period(request)
        # A fixed end makes the export a consistent range even while new entries arrive.
        end = period.end or self._moderation.now()
        period = TimeRange(period.start, end)
        where = AuditFilter(asset_id=request.asset_id, period=period)
        summary = pb.AuditExportSummary(export_time=timestamp(self._moderation.now()), end_time=timestamp(end))
        if period.start is not None:
            summary.start_time.CopyFrom(timestamp(period.start))
        first = True
        after: tuple[datetime, str] | None = None
        while True:
            batch = await self._store.audit_after(where, after, EXPORT_BATCH)
            if not batch:
                break
            after = (batch[-1].created_at, batch[-1].entry_id)
            messages = [audit_message(e) for e in batch]
            for entry in messages:
                summary.total_entries += 1
                name = _verdict_name(entry.verdict)
                if name:
                    summary.entries_by_verdict[name] += 1
            if request.format == pb.AUDIT_EXPORT_FORMAT_JSONL:
                yield pb.ExportAuditEntriesResponse(data=_jsonl(messages))
            elif request.format == pb.AUDIT_EXPORT_FORMAT_CSV:
                yield pb.ExportAuditEntriesResponse(data=_csv(messages, header=first))
            else:
                yield pb.ExportAuditEntriesResponse(entries=messages)
            first = False
        if first and request.format == pb.AUDIT_EXPORT_FORMAT_CSV:
            yield pb.ExportAuditEntriesResponse(summary=summary, data=_csv([], header=True))
            return
        yield pb.ExportAuditEntriesResponse(summary=summary)

    async def ClearAuditEntries(self, request: pb.ClearAuditEntriesRequest, context: grpc.aio.ServicerContext) -> Any:
        caller = self._caller(context)
        deleted, record = await self._moderation.clear_audit(
            caller.subject,
            asset_id=request.asset_id,
            before=field_datetime(request, "before_time"),
            everything=request.all,
        )
        return pb.ClearAuditEntriesResponse(deleted_count=deleted, record=audit_message(record))

    async def GetModerationStats(self, request: pb.GetModerationStatsRequest, context: grpc.aio.ServicerContext) -> Any:
        if request.usage_intent and request.usage_intent not in USAGE_INTENTS:
            raise InvalidArgument("unknown usage intent", field="usage_intent", reason="INVALID_FILTER")
        stats = await self._moderation.stats(_period(request), request.usage_intent)
        return pb.GetModerationStatsResponse(**stats.__dict__)

    # webhooks

    async def CreateWebhook(self, request: pb.CreateWebhookRequest, context: grpc.aio.ServicerContext) -> Any:
        given = request.webhook
        hook, generated = await self._moderation.create_webhook(
            url=given.url,
            event_types=[_event_type(t) for t in given.event_types],
            usage_intents=list(given.usage_intents),
            enabled=given.enabled,
            secret=given.secret,
            description=given.description,
            webhook_id=request.webhook_id or given.webhook_id,
        )
        await self._created(context)
        return pb.CreateWebhookResponse(webhook=webhook_message(hook), secret=generated)

    async def GetWebhook(self, request: pb.GetWebhookRequest, context: grpc.aio.ServicerContext) -> Any:
        return pb.GetWebhookResponse(webhook=webhook_message(await self._moderation.get_webhook(request.webhook_id)))

    async def ListWebhooks(self, request: pb.ListWebhooksRequest, context: grpc.aio.ServicerContext) -> Any:
        size = page_size(request.page_size, default=50, maximum=100)
        offset = decode_page_token(request.page_token, ["webhooks"])
        hooks = await self._store.list_webhooks(offset, size + 1)
        return pb.ListWebhooksResponse(
            webhooks=[webhook_message(h) for h in hooks[:size]],
            next_page_token=_next_token(hooks, offset, size, ["webhooks"]),
        )

    async def UpdateWebhook(self, request: pb.UpdateWebhookRequest, context: grpc.aio.ServicerContext) -> Any:
        given = request.webhook
        paths = list(request.update_mask.paths)
        unknown = [p for p in paths if p not in WEBHOOK_FIELDS]
        if unknown:
            raise InvalidArgument(
                f"update_mask names fields that cannot change: {', '.join(unknown)}",
                field="update_mask",
                reason="INVALID_UPDATE_MASK",
            )
        if not paths:  # AIP-134: an absent mask updates the fields present
            paths = [f for f in WEBHOOK_FIELDS if f not in ("secret",) or given.secret]
            paths = [p for p in paths if p not in ("url", "description") or getattr(given, p)]
        changes: dict[str, Any] = {}
        for path in paths:
            if path == "event_types":
                changes[path] = [_event_type(t) for t in given.event_types]
            elif path == "usage_intents":
                changes[path] = list(given.usage_intents)
            else:
                changes[path] = getattr(given, path)
        hook = await self._moderation.update_webhook(given.webhook_id, changes)
        return pb.UpdateWebhookResponse(webhook=webhook_message(hook))

    async def DeleteWebhook(self, request: pb.DeleteWebhookRequest, context: grpc.aio.ServicerContext) -> Any:
        await self._moderation.delete_webhook(request.webhook_id)
        return pb.DeleteWebhookResponse()

    async def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        await self._moderation.get_webhook(request.webhook_id)
        if request.state not in pb.DeliveryState.values():
            raise InvalidArgument("unknown delivery state", field="state", reason="INVALID_FILTER")
        state = pb.DeliveryState.Name(request.state).removeprefix("DELIVERY_STATE_") if request.state else ""
        filters = [request.webhook_id, state]
        size = page_size(request.page_size, default=50, maximum=1000)
        offset = decode_page_token(request.page_token, filters)
        items = await self._store.list_deliveries(request.webhook_id, state, offset, size + 1)
        return pb.ListWebhookDeliveriesResponse(
            deliveries=[delivery_message(d) for d in items[:size]],
            next_page_token=_next_token(items, offset, size, filters),
        )

    async def ReplayWebhookDelivery(
        self, request: pb.ReplayWebhookDeliveryRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        delivery = await self._moderation.replay(request.webhook_id, request.delivery_id)
        await self._created(context)
        return pb.ReplayWebhookDeliveryResponse(delivery=delivery_message(delivery))


def _jsonl(entries: Sequence[pb.AuditEntry]) -> str:
    return "".join(json.dumps(_json(e), separators=(",", ":"), ensure_ascii=False) + "\n" for e in entries)


def _csv(entries: Sequence[pb.AuditEntry], *, header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.entry_id,
                json_format.MessageToDict(e)["createTime"],
                pb.AuditAction.Name(e.action).removeprefix("AUDIT_ACTION_"),
                e.asset_id,
                e.scan_id,
                e.decision_id,
                _verdict_name(e.verdict),
                e.actor,
                "true" if e.automated else "false",
                f"{e.risk_score:g}",
                e.notes,
                json.dumps(_json(e.reasons), separators=(",", ":"), ensure_ascii=False),
            ]
        )
    return out.getvalue()
