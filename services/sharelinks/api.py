"""gRPC face of the sharelinks service's assets: AssetService (REST through the gateway, public delivery at
`/a/{asset_id}`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.api import httpbody_pb2

from clearframe.sharelinks.v1 import asset_service_pb2 as pb
from clearframe.sharelinks.v1 import asset_service_pb2_grpc as pb_grpc
from clearframe_runtime.errors import InvalidArgument, PermissionDenied
from clearframe_runtime.http import HEAD_LENGTH_HEADER, HEAD_REQUEST_HEADER
from clearframe_runtime.principal import KIND_REVIEW_SESSION, PrincipalCodec
from clearframe_runtime.protoconv import duration, timestamp
from services.sharelinks.domain.assets import UPDATABLE, Assets, Upload
from services.sharelinks.domain.background import RenditionWorker
from services.sharelinks.domain.delivery import CachePolicy
from services.sharelinks.domain.model import Asset, ModerationStatus, RenditionState, Visibility
from services.sharelinks.domain.publishing import EXTRA_PARAMS, Delivery, DownloadRequest
from services.sharelinks.domain.signing import Problem
from services.sharelinks.metrics import deliveries
from services.sharelinks.ports import AssetFilter, AssetStore

_STATUS = {
    ModerationStatus.PENDING: pb.MODERATION_STATUS_PENDING,
    ModerationStatus.APPROVED: pb.MODERATION_STATUS_APPROVED,
    ModerationStatus.FLAGGED: pb.MODERATION_STATUS_FLAGGED,
    ModerationStatus.REJECTED: pb.MODERATION_STATUS_REJECTED,
    ModerationStatus.ERROR: pb.MODERATION_STATUS_ERROR,
}
_STATUS_NAMES = {v: k.value for k, v in _STATUS.items()}
_VISIBILITY = {Visibility.PUBLIC: pb.ASSET_VISIBILITY_PUBLIC, Visibility.SIGNED: pb.ASSET_VISIBILITY_SIGNED}
_VISIBILITY_OF = {
    pb.ASSET_VISIBILITY_UNSPECIFIED: Visibility.PUBLIC,
    pb.ASSET_VISIBILITY_PUBLIC: Visibility.PUBLIC,
    pb.ASSET_VISIBILITY_SIGNED: Visibility.SIGNED,
}
_CACHE = {
    CachePolicy.IMMUTABLE.name: pb.CACHE_POLICY_IMMUTABLE,
    CachePolicy.LONG.name: pb.CACHE_POLICY_LONG,
    CachePolicy.SHORT.name: pb.CACHE_POLICY_SHORT,
    CachePolicy.NO_CACHE.name: pb.CACHE_POLICY_NO_CACHE,
}
_CACHE_OF = {v: k for k, v in _CACHE.items()} | {pb.CACHE_POLICY_UNSPECIFIED: CachePolicy.IMMUTABLE.name}
_RENDITION_STATE = {
    RenditionState.PENDING: pb.RENDITION_STATE_PENDING,
    RenditionState.READY: pb.RENDITION_STATE_READY,
    RenditionState.FAILED: pb.RENDITION_STATE_FAILED,
}
_PROBLEMS = {
    Problem.MALFORMED: pb.SIGNED_URL_PROBLEM_MALFORMED,
    Problem.MISSING_PARAMS: pb.SIGNED_URL_PROBLEM_MISSING_PARAMS,
    Problem.UNKNOWN_KEY: pb.SIGNED_URL_PROBLEM_UNKNOWN_KEY,
    Problem.BAD_SIGNATURE: pb.SIGNED_URL_PROBLEM_BAD_SIGNATURE,
    Problem.EXPIRED: pb.SIGNED_URL_PROBLEM_EXPIRED,
    Problem.TOO_LONG: pb.SIGNED_URL_PROBLEM_LIFETIME_TOO_LONG,
}
#: Headers a transcoded answer gets from the HttpBody and the gateway, never from metadata (a
#: content-length in gRPC metadata would contradict the gRPC framing).
_NOT_METADATA = frozenset({"content-type", "content-length"})


def _enum(table: Mapping[Any, Any], value: int, field: str) -> Any:
    if value not in table:
        raise InvalidArgument(f"unknown {field} value {value}", field=field)
    return table[value]


class AssetServicer(pb_grpc.AssetServiceServicer):
    def __init__(
        self,
        assets: Assets,
        delivery: Delivery,
        store: AssetStore,
        renditions: RenditionWorker,
        codec: PrincipalCodec,
        base_url: str,
    ):
        self._assets = assets
        self._delivery = delivery
        self._store = store
        self._renditions = renditions
        self._codec = codec
        self._base_url = base_url.rstrip("/")

    async def asset_message(self, asset: Asset) -> pb.Asset:
        records = {r.name: r for r in await self._store.renditions(asset.asset_id)}
        renditions = []
        if asset.delivered or records:
            for spec in self._renditions.specs:
                record = records.get(spec.name)
                renditions.append(
                    pb.Rendition(
                        name=spec.name,
                        url=f"{self._base_url}/a/{asset.asset_id}/{spec.name}",
                        content_type=record.content_type if record else "",
                        width=record.width if record else 0,
                        height=record.height if record else 0,
                        size_bytes=record.size_bytes if record else 0,
                        state=_RENDITION_STATE[record.state] if record else pb.RENDITION_STATE_PENDING,
                        error=record.error if record else "",
                    )
                )
        moderation = asset.moderation
        return pb.Asset(
            asset_id=asset.asset_id,
            canonical_url=self._assets.canonical_url(asset.asset_id),
            content_type=asset.content_type,
            size_bytes=asset.size_bytes,
            sha256=asset.sha256,
            width=asset.width,
            height=asset.height,
            frame_count=asset.frame_count,
            duration=duration(asset.duration_s),
            title=asset.title,
            tags=list(asset.tags),
            description=asset.description,
            filename=asset.filename,
            usage_intent=asset.usage_intent,
            model_id=asset.model_id,
            visibility=_VISIBILITY[asset.visibility],
            cache_policy=_CACHE[asset.cache_policy],
            moderation_status=_STATUS[moderation.status],
            scan_id=moderation.scan_id,
            owner=asset.owner,
            create_time=timestamp(asset.created_at),
            update_time=timestamp(asset.updated_at),
            decision_id=moderation.decision_id,
            moderation_error=moderation.error,
            renditions=renditions,
        )

    # -------------------------------------------------------------------------------------- CRUD

    async def CreateAsset(self, request: pb.CreateAssetRequest, context: grpc.aio.ServicerContext) -> Any:
        caller = self._codec.caller(context)
        upload = Upload(
            data=request.body.data,
            declared_type=request.body.content_type,
            title=request.title,
            tags=tuple(request.tags),
            description=request.description,
            filename=request.filename,
            usage_intent=request.usage_intent,
            model_id=request.model_id,
            visibility=_enum(_VISIBILITY_OF, request.visibility, "visibility"),
            cache_policy=_enum(_CACHE_OF, request.cache_policy, "cache_policy"),
        )
        asset = await self._assets.create(upload, caller.subject)
        await context.send_initial_metadata((("x-http-status", "201"), ("location", f"/v1/assets/{asset.asset_id}")))
        return pb.CreateAssetResponse(asset=await self.asset_message(asset))

    async def GetAsset(self, request: pb.GetAssetRequest, context: grpc.aio.ServicerContext) -> Any:
        return pb.GetAssetResponse(asset=await self.asset_message(await self._assets.get(request.asset_id)))

    async def ListAssets(self, request: pb.ListAssetsRequest, context: grpc.aio.ServicerContext) -> Any:
        status = _enum(
            _STATUS_NAMES | {pb.MODERATION_STATUS_UNSPECIFIED: ""}, request.moderation_status, "moderation_status"
        )
        assets, token = await self._assets.page(
            AssetFilter(status=status, owner=request.owner, tag=request.tag), request.page_size, request.page_token
        )
        return pb.ListAssetsResponse(assets=[await self.asset_message(a) for a in assets], next_page_token=token)

    async def UpdateAsset(self, request: pb.UpdateAssetRequest, context: grpc.aio.ServicerContext) -> Any:
        paths = list(request.update_mask.paths) or list(UPDATABLE)
        unknown = [p for p in paths if p not in UPDATABLE]
        if unknown:
            raise InvalidArgument(
                f"cannot update {', '.join(unknown)}; updatable: {', '.join(UPDATABLE)}",
                field="update_mask",
                reason="INVALID_UPDATE_MASK",
            )
        given = request.asset
        values: dict[str, object] = {
            "title": given.title,
            "tags": list(given.tags),
            "description": given.description,
            "filename": given.filename,
            "visibility": _enum(_VISIBILITY_OF, given.visibility, "asset.visibility"),
            "cache_policy": _enum(_CACHE_OF, given.cache_policy, "asset.cache_policy"),
        }
        asset = await self._assets.update(given.asset_id, {p: values[p] for p in paths})
        return pb.UpdateAssetResponse(asset=await self.asset_message(asset))

    async def DeleteAsset(self, request: pb.DeleteAssetRequest, context: grpc.aio.ServicerContext) -> Any:
        await self._assets.delete(request.asset_id)
        return pb.DeleteAssetResponse()

    async def RescanAsset(self, request: pb.RescanAssetRequest, context: grpc.aio.ServicerContext) -> Any:
        return pb.RescanAssetResponse(asset=await self.asset_message(await self._assets.rescan(request.asset_id)))

    # -------------------------------------------------------------------------------------- delivery

    async def DownloadAsset(self, request: pb.DownloadAssetRequest, context: grpc.aio.ServicerContext) -> Any:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        params = {
            name: getattr(request, name) for name in (*EXTRA_PARAMS, "kid", "signature") if getattr(request, name)
        }
        if request.expires:
            params["expires"] = str(request.expires)
        answer = await self._delivery.download(
            DownloadRequest(
                asset_id=request.asset_id,
                rendition=request.rendition,
                # Through the gateway a HEAD arrives as this same call, marked by the gateway.
                method="HEAD" if metadata.get(HEAD_REQUEST_HEADER) == "1" else "GET",
                params=params,
                range=metadata.get("range"),
                if_none_match=metadata.get("if-none-match"),
                if_range=metadata.get("if-range"),
                user_agent=metadata.get("user-agent", "")[:1024],
                referer=metadata.get("referer", "")[:2048],
            )
        )
        headers = [(k.lower(), v) for k, v in answer.headers.items() if k.lower() not in _NOT_METADATA]
        if "Content-Length" in answer.headers and not answer.body:
            headers.append((HEAD_LENGTH_HEADER, answer.headers["Content-Length"]))
        deliveries.add(1, {"http.response.status_code": answer.status, "rendition": bool(request.rendition)})
        await context.send_initial_metadata((("x-http-status", str(answer.status)), *headers))
        return httpbody_pb2.HttpBody(content_type=answer.content_type, data=answer.body)

    async def SignAssetUrl(self, request: pb.SignAssetUrlRequest, context: grpc.aio.ServicerContext) -> Any:
        ttl = None
        if request.HasField("ttl"):
            seconds = request.ttl.ToTimedelta().total_seconds()
            if seconds != int(seconds):
                raise InvalidArgument("ttl must be whole seconds", field="ttl", reason="INVALID_TTL")
            ttl = int(seconds)
        extras = {name: getattr(request, name) for name in EXTRA_PARAMS}
        signed = await self._delivery.sign(request.asset_id, ttl, extras, request.rendition)
        return pb.SignAssetUrlResponse(
            url=signed.url, expire_time=timestamp(signed.expires), signature=signed.signature
        )

    async def VerifySignedUrl(self, request: pb.VerifySignedUrlRequest, context: grpc.aio.ServicerContext) -> Any:
        if not request.url:
            raise InvalidArgument("url is required", field="url")
        verdict, asset_id = self._delivery.verify(request.url)
        answer = pb.VerifySignedUrlResponse(
            valid=verdict.valid,
            problem=_PROBLEMS[verdict.problem] if verdict.problem else pb.SIGNED_URL_PROBLEM_UNSPECIFIED,
            message=verdict.message,
            asset_id=asset_id,
        )
        if verdict.expires is not None:
            answer.expire_time.FromSeconds(verdict.expires)
        return answer

    async def GetAssetPreview(self, request: pb.GetAssetPreviewRequest, context: grpc.aio.ServicerContext) -> Any:
        preview = await self._delivery.preview(request.asset_id)
        await context.send_initial_metadata(
            (("cache-control", "private, no-store"), ("x-content-type-options", "nosniff"))
        )
        return httpbody_pb2.HttpBody(content_type=preview.content_type, data=preview.data)

    async def GetAssetReviewFrame(
        self, request: pb.GetAssetReviewFrameRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        # Unblurred media goes to a person at the review page only: a session, never a bare key or token.
        if self._codec.caller(context).kind != KIND_REVIEW_SESSION:
            raise PermissionDenied(
                "unblurred frames are served to the review page's signed-in session only",
                reason="REVIEW_SESSION_REQUIRED",
            )
        frame = await self._delivery.review_frame(request.asset_id, request.frame_index)
        await context.send_initial_metadata(
            (("cache-control", "private, no-store"), ("x-content-type-options", "nosniff"))
        )
        return httpbody_pb2.HttpBody(content_type=frame.content_type, data=frame.data)
