"""gRPC face of the sharelinks service's short links: ShareLinkService (REST through the gateway, the public
short URL `/s/{code}`, its card and QR code)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
from google.api import httpbody_pb2

from clearframe.sharelinks.v1 import share_link_service_pb2 as pb
from clearframe.sharelinks.v1 import share_link_service_pb2_grpc as pb_grpc
from clearframe_runtime.errors import DomainError, InvalidArgument
from clearframe_runtime.principal import PrincipalCodec
from clearframe_runtime.protoconv import optional_timestamp, timestamp
from clearframe_runtime.status import status_message
from services.sharelinks.domain.links import LINK_FIELDS, UTM_KEYS, Links, NewLink, Visitor
from services.sharelinks.domain.model import ShareLink
from services.sharelinks.metrics import visits

#: Wire field → domain field, for update masks.
_MASK = {
    "title": "title",
    "description": "description",
    "tags": "tags",
    "expire_time": "expires_at",
    "max_clicks": "max_clicks",
    "disabled": "disabled",
    "redirect_status": "redirect_status",
    "utm": "utm",
}
assert set(_MASK.values()) == set(LINK_FIELDS)


def _visitor(context: grpc.aio.ServicerContext, platform: str = "") -> Visitor:
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    return Visitor(
        user_agent=metadata.get("user-agent", "")[:1024],
        referer=metadata.get("referer", "")[:2048],
        accept=metadata.get("accept", "")[:512],
        platform=platform,
    )


def _utm(message: pb.UtmParameters) -> tuple[tuple[str, str], ...]:
    return tuple((key, getattr(message, key)) for key in UTM_KEYS)


def _new(link: pb.ShareLink) -> NewLink:
    return NewLink(
        asset_id=link.asset_id,
        code=link.code,
        title=link.title,
        description=link.description,
        tags=tuple(link.tags),
        expires_at=link.expire_time.ToDatetime(tzinfo=UTC) if link.HasField("expire_time") else None,
        max_clicks=link.max_clicks or None,
        disabled=link.disabled,
        redirect_status=link.redirect_status or 302,
        utm=_utm(link.utm),
    )


class ShareLinkServicer(pb_grpc.ShareLinkServiceServicer):
    def __init__(self, links: Links, codec: PrincipalCodec):
        self._links = links
        self._codec = codec

    def message(self, link: ShareLink) -> pb.ShareLink:
        return pb.ShareLink(
            code=link.code,
            asset_id=link.asset_id,
            short_url=self._links.short_url(link.code),
            canonical_url=self._links.canonical_url(link.asset_id),
            title=link.title,
            tags=list(link.tags),
            description=link.description,
            clicks=link.clicks,
            creator=link.creator,
            create_time=timestamp(link.created_at),
            last_click_time=optional_timestamp(link.last_click_at),
            expire_time=optional_timestamp(link.expires_at),
            max_clicks=link.max_clicks or 0,
            disabled=link.disabled,
            redirect_status=link.redirect_status,
            utm=pb.UtmParameters(**dict(link.utm)),
            previews=link.previews,
            update_time=timestamp(link.updated_at),
        )

    async def CreateShareLink(self, request: pb.CreateShareLinkRequest, context: grpc.aio.ServicerContext) -> Any:
        caller = self._codec.caller(context)
        link = await self._links.create(_new(request.link), caller.subject)
        await context.send_initial_metadata((("x-http-status", "201"), ("location", f"/v1/links/{link.code}")))
        return pb.CreateShareLinkResponse(link=self.message(link))

    async def BatchCreateShareLinks(
        self, request: pb.BatchCreateShareLinksRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        caller = self._codec.caller(context)
        outcomes = await self._links.create_many([_new(item.link) for item in request.requests], caller.subject)
        results = []
        for outcome in outcomes:
            if isinstance(outcome, DomainError):
                results.append(pb.BatchCreateShareLinkResult(error=status_message(outcome)))
            else:
                results.append(pb.BatchCreateShareLinkResult(link=self.message(outcome)))
        return pb.BatchCreateShareLinksResponse(results=results)

    async def GetShareLink(self, request: pb.GetShareLinkRequest, context: grpc.aio.ServicerContext) -> Any:
        return pb.GetShareLinkResponse(link=self.message(await self._links.get(request.code)))

    async def ListShareLinks(self, request: pb.ListShareLinksRequest, context: grpc.aio.ServicerContext) -> Any:
        links, token = await self._links.page(request.asset_id, request.page_size, request.page_token)
        return pb.ListShareLinksResponse(links=[self.message(link) for link in links], next_page_token=token)

    async def UpdateShareLink(self, request: pb.UpdateShareLinkRequest, context: grpc.aio.ServicerContext) -> Any:
        paths = list(request.update_mask.paths) or list(_MASK)
        unknown = [p for p in paths if p not in _MASK]
        if unknown:
            raise InvalidArgument(
                f"cannot update {', '.join(unknown)}; updatable: {', '.join(_MASK)}",
                field="update_mask",
                reason="INVALID_UPDATE_MASK",
            )
        given = _new(request.link)
        expires: datetime | None = given.expires_at
        values: dict[str, object] = {
            "title": given.title,
            "description": given.description,
            "tags": given.tags,
            "expires_at": expires,
            "max_clicks": given.max_clicks,
            "disabled": given.disabled,
            "redirect_status": given.redirect_status,
            "utm": given.utm,
        }
        link = await self._links.update(request.link.code, {_MASK[p]: values[_MASK[p]] for p in paths})
        return pb.UpdateShareLinkResponse(link=self.message(link))

    async def DeleteShareLink(self, request: pb.DeleteShareLinkRequest, context: grpc.aio.ServicerContext) -> Any:
        await self._links.delete(request.code)
        return pb.DeleteShareLinkResponse()

    async def ResolveShareLink(self, request: pb.ResolveShareLinkRequest, context: grpc.aio.ServicerContext) -> Any:
        link, target = await self._links.resolve(request.code, _visitor(context, request.platform))
        return pb.ResolveShareLinkResponse(
            code=link.code, asset_id=link.asset_id, target_url=target, clicks=link.clicks
        )

    async def VisitShareLink(self, request: pb.VisitShareLinkRequest, context: grpc.aio.ServicerContext) -> Any:
        answer = await self._links.visit(request.code, _visitor(context, request.platform))
        visits.add(1, {"http.response.status_code": answer.status})
        await context.send_initial_metadata((("x-http-status", str(answer.status)), *answer.headers.items()))
        return httpbody_pb2.HttpBody(content_type=answer.content_type, data=answer.body)

    async def GetShareCard(self, request: pb.GetShareCardRequest, context: grpc.aio.ServicerContext) -> Any:
        answer = await self._links.card(request.code)
        await context.send_initial_metadata(tuple(answer.headers.items()))
        return httpbody_pb2.HttpBody(content_type=answer.content_type, data=answer.body)

    async def GetShareMetadata(self, request: pb.GetShareMetadataRequest, context: grpc.aio.ServicerContext) -> Any:
        link, graph = await self._links.metadata(request.code)
        return pb.GetShareMetadataResponse(link=self.message(link), open_graph=pb.OpenGraph(**graph))

    async def GetShareLinkQrCode(self, request: pb.GetShareLinkQrCodeRequest, context: grpc.aio.ServicerContext) -> Any:
        content_type, data = await self._links.qr(request.code, request.format, request.scale)
        await context.send_initial_metadata((("cache-control", "public, max-age=86400"),))
        return httpbody_pb2.HttpBody(content_type=content_type, data=data)
