"""Scans and their decisions from the scanner service, as the domain's Scans and DecisionFeed
(:mod:`services.sharelinks.ports`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from google.api import httpbody_pb2

from clearframe.scanner.v1 import moderation_service_pb2 as moderation_pb2
from clearframe.scanner.v1 import moderation_service_pb2_grpc as moderation_grpc
from clearframe.scanner.v1 import scanner_service_pb2 as scanner_pb2
from clearframe.scanner.v1 import scanner_service_pb2_grpc as scanner_grpc
from clearframe.scanner.v1 import types_pb2
from clearframe_runtime.server import client_channel
from clearframe_runtime.status import from_rpc_error
from services.sharelinks.adapters.identity import ServiceIdentity
from services.sharelinks.ports import ModerationEvent, ScanOrder, ScanOutcome

_VERDICTS = {
    types_pb2.VERDICT_APPROVED: "APPROVED",
    types_pb2.VERDICT_FLAGGED: "FLAGGED",
    types_pb2.VERDICT_REJECTED: "REJECTED",
    types_pb2.VERDICT_PENDING: "PENDING",
}


class GrpcScanner:
    """Starts scans (without waiting: the decision comes through the feed) and reads their outcome."""

    def __init__(self, target: str, identity: ServiceIdentity, *, max_message_bytes: int, timeout_s: float = 10.0):
        self._channel = client_channel(target, max_message_bytes)
        self._scans = scanner_grpc.ScannerServiceStub(self._channel)
        self._moderation = moderation_grpc.ModerationServiceStub(self._channel)
        self._identity = identity
        self._timeout_s = timeout_s

    async def start(self, order: ScanOrder) -> str:
        request = scanner_pb2.CreateScanRequest(
            body=httpbody_pb2.HttpBody(content_type=order.content_type, data=order.data),
            usage_intent=order.usage_intent,
            model_id=order.model_id,
            title=order.title,
            tags=list(order.tags),
            description=order.description,
            asset_id=order.asset_id,
            request_id=order.request_id,
            return_immediately=True,
        )
        try:
            answer = await self._scans.CreateScan(
                request, timeout=self._timeout_s, metadata=self._identity.metadata(), wait_for_ready=True
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, "scanner") from exc
        scan_id: str = answer.scan.scan_id
        return scan_id

    async def outcome(self, scan_id: str) -> ScanOutcome | None:
        try:
            answer = await self._scans.GetScan(
                scanner_pb2.GetScanRequest(scan_id=scan_id),
                timeout=self._timeout_s,
                metadata=self._identity.metadata(),
                wait_for_ready=True,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise from_rpc_error(exc, "scanner") from exc
        scan = answer.scan
        if scan.state == scanner_pb2.SCAN_STATE_FAILED:
            return ScanOutcome(scan_id, "", "", scan.error.message or "the scan failed")
        if scan.state != scanner_pb2.SCAN_STATE_SUCCEEDED:
            return ScanOutcome(scan_id, "", "", "")
        decisions = await self._moderation.ListDecisions(
            moderation_pb2.ListDecisionsRequest(scan_id=scan_id, current_only=True, page_size=1),
            timeout=self._timeout_s,
            metadata=self._identity.metadata(),
        )
        if not decisions.decisions:
            return ScanOutcome(scan_id, "", "", "")
        decision = decisions.decisions[0]
        return ScanOutcome(scan_id, _VERDICTS.get(decision.verdict, ""), decision.decision_id, "")

    def watch(self, since_revision: int) -> AsyncIterator[ModerationEvent]:
        return self._watch(since_revision)

    async def _watch(self, since_revision: int) -> AsyncIterator[ModerationEvent]:
        call = self._moderation.WatchDecisions(
            moderation_pb2.WatchDecisionsRequest(since_revision=since_revision), metadata=self._identity.metadata()
        )
        try:
            async for message in call:
                which = message.WhichOneof("event")
                if which == "decision":
                    decision = message.decision
                    yield ModerationEvent(
                        revision=message.revision,
                        kind="decision",
                        asset_id=decision.asset_id,
                        scan_id=decision.scan_id,
                        verdict=_VERDICTS.get(decision.verdict, ""),
                        decision_id=decision.decision_id,
                    )
                elif which == "scan_failed":
                    failed = message.scan_failed
                    yield ModerationEvent(
                        revision=message.revision,
                        kind="scan_failed",
                        asset_id=failed.asset_id,
                        scan_id=failed.scan_id,
                        error=failed.error.message or "the scan failed",
                    )
                else:
                    yield ModerationEvent(revision=message.revision, kind="heartbeat")
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, "scanner") from exc
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._channel.close()
