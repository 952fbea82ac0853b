"""gRPC face of the scanner: /v1 scans and the seed-000 routes (/check, /batch, /stats).

Only conversions: request messages → the domain's inputs, the domain's scans and answers → messages
(``services/scanner/wire.py``), and the seed's refusals → its HTTP statuses and bodies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import grpc
from google.api import httpbody_pb2

from clearframe.scanner.v1 import scanner_service_pb2 as pb
from clearframe.scanner.v1 import scanner_service_pb2_grpc as pb_grpc
from clearframe.scanner.v1 import types_pb2 as types
from clearframe_runtime.errors import InvalidArgument, NotFound
from clearframe_runtime.pagination import decode_page_token, encode_page_token, page_size
from clearframe_runtime.principal import TRUSTED_HEADERS, PrincipalCodec
from services.scanner import media
from services.scanner.domain.scans import ID_RE, Created, LegacyRefusal, NewScan, Scanner
from services.scanner.wire import scan_message, verdict_name

#: The seed's HTTP status of each refusal.
LEGACY_STATUS = {LegacyRefusal.MISSING: 400, LegacyRefusal.TOO_LARGE: 413, LegacyRefusal.INVALID: 400}


def _forwarded(context: grpc.aio.ServicerContext) -> tuple[tuple[str, str], ...]:
    """The signed principal, passed on to the frames and config services on the caller's behalf."""
    return tuple(
        (k, v) for k, v in (context.invocation_metadata() or ()) if k in TRUSTED_HEADERS and isinstance(v, str)
    )


def new_scan(request: pb.CreateScanRequest) -> NewScan:
    return NewScan(
        data=request.body.data,
        content_type=request.body.content_type or "application/octet-stream",
        usage_intent=request.usage_intent,
        model_id=request.model_id,
        scan_id=request.scan_id,
        request_id=request.request_id,
        asset_id=request.asset_id,
        title=request.title,
        description=request.description,
        tags=tuple(request.tags),
        return_immediately=request.return_immediately,
    )


def _legacy_body(payload: Mapping[str, Any] | str) -> httpbody_pb2.HttpBody:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return httpbody_pb2.HttpBody(content_type="application/json", data=data.encode())


def _multipart_file(body: httpbody_pb2.HttpBody, name: str) -> media.Part | None:
    """The named file field of a multipart/form-data body; raises media.MalformedMultipart."""
    return media.parse_multipart(body.data, body.content_type).get(name)


def _refusal_body(refusal: LegacyRefusal) -> tuple[int, httpbody_pb2.HttpBody]:
    return LEGACY_STATUS[refusal.kind], _legacy_body({"error": refusal.message})


class ScannerServicer(pb_grpc.ScannerServiceServicer):
    def __init__(self, scanner: Scanner, codec: PrincipalCodec):
        self._scanner = scanner
        self._codec = codec

    # --- /v1 ----------------------------------------------------------------------------------------

    async def CreateScan(self, request: pb.CreateScanRequest, context: grpc.aio.ServicerContext) -> Any:
        caller = self._codec.caller(context)
        scan, created = await self._scanner.create(new_scan(request), caller.subject, _forwarded(context))
        if created is not Created.EXISTING:
            # Headers only once the outcome is known: a failure answers its own status, never a 201.
            status = "202" if created is Created.ACCEPTED else "201"
            await context.send_initial_metadata((("x-http-status", status), ("location", f"/v1/scans/{scan.scan_id}")))
        return pb.CreateScanResponse(scan=scan_message(scan))

    async def GetScan(self, request: pb.GetScanRequest, context: grpc.aio.ServicerContext) -> Any:
        if not ID_RE.match(request.scan_id):
            raise InvalidArgument("scan_id is malformed", field="scan_id", reason="INVALID_SCAN_ID")
        scan = await self._scanner.store.get(request.scan_id)
        if scan is None:
            raise NotFound(f"scan {request.scan_id!r} does not exist", reason="SCAN_NOT_FOUND")
        return pb.GetScanResponse(scan=scan_message(scan))

    async def ListScans(self, request: pb.ListScansRequest, context: grpc.aio.ServicerContext) -> Any:
        size = page_size(request.page_size)
        filters = (
            request.asset_id,
            int(request.verdict),
            request.usage_intent,
            request.model_id,
            request.start_time.ToJsonString() if request.HasField("start_time") else "",
            request.end_time.ToJsonString() if request.HasField("end_time") else "",
        )
        offset = decode_page_token(request.page_token, filters)
        if request.verdict and request.verdict not in types.Verdict.values():
            raise InvalidArgument("verdict is not a known verdict", field="verdict", reason="INVALID_VERDICT")
        scans = await self._scanner.store.list_scans(
            asset_id=request.asset_id,
            verdict=verdict_name(request.verdict),
            usage_intent=request.usage_intent,
            model_id=request.model_id,
            start=request.start_time.ToDatetime(tzinfo=UTC) if request.HasField("start_time") else None,
            end=request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else None,
            offset=offset,
            limit=size + 1,
        )
        return pb.ListScansResponse(
            scans=[scan_message(s) for s in scans[:size]],
            next_page_token=encode_page_token(offset + size, filters) if len(scans) > size else "",
        )

    async def ListTagStats(self, request: pb.ListTagStatsRequest, context: grpc.aio.ServicerContext) -> Any:
        size = page_size(request.page_size)
        offset = decode_page_token(request.page_token, ())
        tags, total = await self._scanner.store.tag_stats(offset, size + 1)
        return pb.ListTagStatsResponse(
            tags=[pb.TagStat(label=label, count=count) for label, count in tags[:size]],
            recorded_count=total,
            next_page_token=encode_page_token(offset + size, ()) if len(tags) > size else "",
        )

    # --- seed 000 -----------------------------------------------------------------------------------

    async def _legacy_reply(
        self, context: grpc.aio.ServicerContext, status: int, body: httpbody_pb2.HttpBody
    ) -> httpbody_pb2.HttpBody:
        await context.send_initial_metadata((("x-http-status", str(status)),))
        return body

    async def LegacyCheck(self, request: pb.LegacyCheckRequest, context: grpc.aio.ServicerContext) -> Any:
        try:
            part = _multipart_file(request.body, "image")
            answer = await self._scanner.legacy_check(part.data if part else None)
        except media.MalformedMultipart as exc:
            return await self._legacy_reply(context, 400, _legacy_body({"error": f"malformed multipart body: {exc}"}))
        except LegacyRefusal as refusal:
            return await self._legacy_reply(context, *_refusal_body(refusal))
        return await self._legacy_reply(context, 200, _legacy_body(answer))

    async def LegacyBatch(self, request: pb.LegacyBatchRequest, context: grpc.aio.ServicerContext) -> Any:
        try:
            part = _multipart_file(request.body, "file")
            answer = await self._scanner.legacy_batch(
                part.data if part else None, part.content_type if part else "", _forwarded(context)
            )
        except media.MalformedMultipart as exc:
            return await self._legacy_reply(context, 400, _legacy_body({"error": f"malformed multipart body: {exc}"}))
        except LegacyRefusal as refusal:
            return await self._legacy_reply(context, *_refusal_body(refusal))
        return await self._legacy_reply(context, 200, _legacy_body(answer))

    async def LegacyStats(self, request: pb.LegacyStatsRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._legacy_reply(context, 200, _legacy_body(await self._scanner.legacy_stats()))
