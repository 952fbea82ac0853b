"""gRPC face of the config service: AnalysisConfigService (seed 004's REST routes through the gateway,
plus Resolve and Watch for the scanner and MuseNest)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
import structlog
from google.protobuf import json_format
from opentelemetry import metrics

from clearframe.config.v1 import config_service_pb2 as pb
from clearframe.config.v1 import config_service_pb2_grpc
from clearframe_runtime.errors import InvalidArgument, ResourceExhausted
from clearframe_runtime.principal import Principal, PrincipalCodec
from clearframe_runtime.protoconv import optional_timestamp, timestamp
from services.config.domain import (
    CacheInfo,
    ConfigEvent,
    Configurations,
    EventType,
    Resolved,
    Source,
    assess,
    describe_error,
)
from services.config.ports import Actor, AuditRecord, Document, StoredConfig

log = structlog.get_logger(__name__)

_SOURCES = {
    Source.MODEL_OVERRIDE: pb.CONFIG_SOURCE_MODEL_OVERRIDE,
    Source.INTENT_GLOBAL: pb.CONFIG_SOURCE_INTENT_GLOBAL,
    Source.BUILTIN_DEFAULT: pb.CONFIG_SOURCE_BUILTIN_DEFAULT,
}
_EVENTS = {EventType.UPDATED: pb.CONFIG_EVENT_TYPE_UPDATED, EventType.DEACTIVATED: pb.CONFIG_EVENT_TYPE_DEACTIVATED}

meter = metrics.get_meter("clearframe.config")
#: Configurations written (``updated``) or deactivated through the API, by usage intent.
config_changes = meter.create_counter(
    "clearframe.config.changes", unit="{change}", description="Configuration changes, by action"
)
#: WatchAnalysisConfigs streams open now.
watch_subscribers = meter.create_up_down_counter(
    "clearframe.config.watch.subscribers", unit="{stream}", description="Open configuration watch streams"
)


def body_message(document: Document) -> pb.ConfigBody:
    message = pb.ConfigBody()
    json_format.ParseDict(document, message)
    return message


def config_message(config: StoredConfig) -> pb.AnalysisConfig:
    body = body_message(config.document)
    warnings, skipped = assess(config.document)
    return pb.AnalysisConfig(
        id=config.id,
        usage_intent=config.usage_intent,
        model_id=config.model_id,
        detection_config=body.detection_config,
        scoring_config=body.scoring_config,
        blip_config=body.blip_config,
        version=config.version,
        is_active=config.is_active,
        created_by=config.created_by,
        created_at=optional_timestamp(config.created_at),
        updated_at=optional_timestamp(config.updated_at),
        not_run=[pb.NotRunComponent(field=n.field, reason=n.reason) for n in skipped],
        warnings=warnings,
    )


def audit_message(record: AuditRecord) -> pb.AnalysisConfigAuditEntry:
    return pb.AnalysisConfigAuditEntry(
        id=record.id,
        config_id=record.config_id,
        action=record.action,
        changed_by=record.changed_by,
        source_ip=record.source_ip,
        user_agent=record.user_agent,
        changes=body_message(record.changes) if record.changes else None,
        previous_values=config_message(record.previous_values) if record.previous_values else None,
        usage_intent=record.usage_intent,
        model_id=record.model_id,
        timestamp=optional_timestamp(record.timestamp),
        version=record.version,
    )


def cache_message(cache: CacheInfo) -> pb.CacheStatus:
    return pb.CacheStatus(
        cached=cache.cached, age_ms=int(cache.age_s * 1000), expires_in_ms=int(cache.expires_in_s * 1000)
    )


def resolved_message(resolved: Resolved, revision: int) -> pb.ResolveAnalysisConfigResponse:
    return pb.ResolveAnalysisConfigResponse(
        config=config_message(resolved.config),
        source=_SOURCES[resolved.source],
        version=resolved.config.version,
        revision=revision,
    )


def event_message(event: ConfigEvent) -> pb.WatchAnalysisConfigsResponse:
    return pb.WatchAnalysisConfigsResponse(
        event_type=_EVENTS[event.type],
        revision=event.revision,
        config=config_message(event.config),
        changed_by=event.changed_by,
        event_time=optional_timestamp(event.at),
        usage_intent=event.config.usage_intent,
        model_id=event.config.model_id,
        version=event.config.version,
        action=event.action,
        resolved=resolved_message(event.resolved, event.revision),
    )


def request_body(request: Any) -> Any:
    """The configuration body as plain JSON data: `config_json` (REST, exactly as sent) or the typed `config`."""
    has_typed, has_json = request.HasField("config"), request.HasField("config_json")
    if has_typed and has_json:
        raise InvalidArgument(
            "set either config or config_json, not both", field="config_json", reason="VALIDATION_ERROR"
        )
    if has_json:
        return json_format.MessageToDict(request.config_json)
    if has_typed:
        return json_format.MessageToDict(
            request.config, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
    return {}


def actor(principal: Principal, context: grpc.aio.ServicerContext) -> Actor:
    metadata = dict(context.invocation_metadata() or ())
    user_agent = metadata.get("user-agent", "")
    return Actor(
        changed_by=principal.subject,
        source_ip=principal.client_ip,
        user_agent=user_agent if isinstance(user_agent, str) else "",
    )


class AnalysisConfigServicer(config_service_pb2_grpc.AnalysisConfigServiceServicer):
    """Seed 004's configuration API, resolution and the watch stream."""

    def __init__(self, configurations: Configurations, codec: PrincipalCodec, *, heartbeat_s: float = 30.0):
        self._configs = configurations
        self._codec = codec
        self._heartbeat_s = heartbeat_s
        watch_subscribers.add(0)  # the series exists (at 0) before the first watch

    async def GetAnalysisConfig(
        self, request: pb.GetAnalysisConfigRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAnalysisConfigResponse:
        config, cache = await self._configs.get(request.usage_intent, request.model_id)
        return pb.GetAnalysisConfigResponse(
            success=True, data=config_message(config), cache_status=cache_message(cache)
        )

    async def UpdateAnalysisConfig(
        self, request: pb.UpdateAnalysisConfigRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateAnalysisConfigResponse:
        principal = self._codec.caller(context)
        config = await self._configs.put(
            request.usage_intent,
            request.model_id,
            request_body(request),
            actor(principal, context),
            list(request.update_mask.paths) if request.HasField("update_mask") else None,
        )
        config_changes.add(1, {"action": "updated", "usage_intent": config.usage_intent})
        log.info(
            "config.updated",
            usage_intent=config.usage_intent,
            model_id=config.model_id,
            version=config.version,
            by=principal.subject,
        )
        data = config_message(config)
        return pb.UpdateAnalysisConfigResponse(
            success=True, data=data, message="Configuration updated successfully", warnings=data.warnings
        )

    async def DeleteAnalysisConfig(
        self, request: pb.DeleteAnalysisConfigRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteAnalysisConfigResponse:
        principal = self._codec.caller(context)
        config = await self._configs.delete(request.usage_intent, request.model_id, actor(principal, context))
        config_changes.add(1, {"action": "deactivated", "usage_intent": config.usage_intent})
        log.info(
            "config.deactivated",
            usage_intent=config.usage_intent,
            model_id=config.model_id,
            version=config.version,
            by=principal.subject,
        )
        return pb.DeleteAnalysisConfigResponse(
            success=True, data=config_message(config), message="Configuration deactivated successfully"
        )

    async def ListAnalysisConfigAudit(
        self, request: pb.ListAnalysisConfigAuditRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAnalysisConfigAuditResponse:
        page = await self._configs.audit(
            request.usage_intent,
            request.model_id,
            limit=request.limit,
            offset=request.offset,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListAnalysisConfigAuditResponse(
            success=True,
            data=[audit_message(r) for r in page.records],
            pagination=pb.AuditPagination(limit=page.limit, offset=page.offset, total=page.total),
            next_page_token=page.next_page_token,
        )

    async def ValidateAnalysisConfig(
        self, request: pb.ValidateAnalysisConfigRequest, context: grpc.aio.ServicerContext
    ) -> pb.ValidateAnalysisConfigResponse:
        report = self._configs.validate(request_body(request))
        return pb.ValidateAnalysisConfigResponse(
            success=True,
            valid=report.valid,
            errors=[describe_error(e) for e in report.errors],
            warnings=report.warnings,
            not_run=[pb.NotRunComponent(field=n.field, reason=n.reason) for n in report.not_run],
        )

    async def ClearAnalysisConfigCache(
        self, request: pb.ClearAnalysisConfigCacheRequest, context: grpc.aio.ServicerContext
    ) -> pb.ClearAnalysisConfigCacheResponse:
        principal = self._codec.caller(context)
        cleared = self._configs.clear_cache(request.scope.usage_intent, request.scope.model_id)
        log.info("config.cache_cleared", entries=cleared, by=principal.subject)
        return pb.ClearAnalysisConfigCacheResponse(
            success=True, message="Configuration cache cleared", cleared_entries=cleared
        )

    async def ResolveAnalysisConfig(
        self, request: pb.ResolveAnalysisConfigRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveAnalysisConfigResponse:
        resolved, _ = await self._configs.resolve(request.usage_intent, request.model_id)
        return resolved_message(resolved, await self._configs.revision())

    async def WatchAnalysisConfigs(
        self, request: pb.WatchAnalysisConfigsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchAnalysisConfigsResponse]:
        intent, model = self._configs.watch_scope(request.usage_intent, request.model_id)
        # Subscribe before reading the snapshot or the replay, so that no change falls between them.
        subscription = self._configs.feed.subscribe(intent, model)
        watch_subscribers.add(1)
        try:
            last = 0
            if request.since_revision:
                for event in await self._configs.replay(request.since_revision, intent, model):
                    last = event.revision
                    yield event_message(event)
            if request.snapshot:
                revision = await self._configs.revision()
                for config in await self._configs.snapshot(intent, model):
                    yield pb.WatchAnalysisConfigsResponse(
                        event_type=pb.CONFIG_EVENT_TYPE_SNAPSHOT,
                        revision=revision,
                        config=config_message(config),
                        event_time=timestamp(datetime.now(UTC)),
                        usage_intent=config.usage_intent,
                        model_id=config.model_id,
                        version=config.version,
                    )
                yield pb.WatchAnalysisConfigsResponse(
                    event_type=pb.CONFIG_EVENT_TYPE_SNAPSHOT_COMPLETE,
                    revision=revision,
                    event_time=timestamp(datetime.now(UTC)),
                )
            while True:
                if subscription.overflowed and subscription.queue.empty():
                    raise ResourceExhausted(
                        f"this watch stream fell behind; resubscribe with since_revision={last}",
                        reason="WATCHER_TOO_SLOW",
                    )
                try:
                    event = await asyncio.wait_for(subscription.queue.get(), self._heartbeat_s)
                except TimeoutError:
                    yield pb.WatchAnalysisConfigsResponse(
                        event_type=pb.CONFIG_EVENT_TYPE_HEARTBEAT,
                        revision=await self._configs.revision(),
                        event_time=timestamp(datetime.now(UTC)),
                    )
                    continue
                if event.revision <= last:
                    continue  # already sent by the replay
                last = event.revision
                yield event_message(event)
        finally:
            watch_subscribers.add(-1)
            self._configs.feed.unsubscribe(subscription)
