"""Delivery of approved assets and their renditions at their public URLs, signed URLs, and the reviewers'
blurred preview: who gets which bytes with which headers.

Nothing here imports grpc or generated code; the servicer translates between this and the wire.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import structlog

from clearframe_runtime.clock import Clock
from clearframe_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unavailable
from services.sharelinks.domain.assets import check_asset_id, not_found
from services.sharelinks.domain.cache import BytesCache
from services.sharelinks.domain.delivery import CachePolicy, DeliveryPlan, plan
from services.sharelinks.domain.events import PLATFORMS, EventSink, UsageEvent, platform_of
from services.sharelinks.domain.model import (
    Asset,
    ModerationStatus,
    RenditionState,
    Visibility,
    original_key,
    rendition_key,
)
from services.sharelinks.domain.signing import RESERVED_PARAMS, KeyRing, Problem, Verdict
from services.sharelinks.ports import AssetStore, BlobNotFound, BlobStore, RenditionMaker, RenditionOutput

log = structlog.get_logger(__name__)

#: Signed extra parameters a URL may carry (DownloadAssetRequest's fields).
EXTRA_PARAMS = ("disposition", "filename", "platform", "subject")
RENDITION_NAME_RE = re.compile(r"^[a-z0-9-]{1,32}$")
DEFAULT_TTL_S = 3600
_EXTENSIONS = {
    "image/gif": "gif",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/webm": "webm",
}


@dataclass(frozen=True)
class DownloadRequest:
    asset_id: str
    #: Empty for the original.
    rendition: str
    method: str
    #: The query parameters present (non-empty): expires, kid, signature and the extra parameters.
    params: Mapping[str, str]
    range: str | None = None
    if_none_match: str | None = None
    if_range: str | None = None
    #: Who asked, for the VIEW event: their User-Agent and Referer headers.
    user_agent: str = ""
    referer: str = ""


@dataclass(frozen=True)
class Download:
    status: int
    headers: dict[str, str]
    content_type: str
    body: bytes


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires: datetime
    signature: str


class Delivery:
    def __init__(
        self,
        store: AssetStore,
        blobs: BlobStore,
        keyring: KeyRing | None,
        rendition_names: Sequence[str],
        *,
        base_url: str,
        clock: Clock,
        max_lifetime_s: int,
        previews: RenditionMaker | None = None,
        cache: BytesCache | None = None,
        views: EventSink | None = None,
    ):
        self._store = store
        self._blobs = blobs
        self._keyring = keyring
        self._renditions = frozenset(rendition_names)
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._max_lifetime_s = max_lifetime_s
        self._previews = previews
        self._cache = cache
        self._views = views

    # -------------------------------------------------------------------------------------- delivery

    async def download(self, request: DownloadRequest) -> Download:
        asset_id = check_asset_id(request.asset_id)
        rendition = self._check_rendition(request.rendition)
        _check_extras(request.params)
        asset = await self._store.get(asset_id)
        # Not approved is not found: nothing unpublished is revealed, not even its existence.
        if asset is None or not asset.delivered:
            raise not_found(asset_id)
        path = _path(asset_id, rendition)
        now = self._clock()
        signed_expires = self._check_signature(asset, path, request.params, now)

        if rendition:
            record = next((r for r in await self._store.renditions(asset_id) if r.name == rendition), None)
            if record is None or record.state is not RenditionState.READY:
                raise NotFound(
                    f"rendition {rendition} of asset {asset_id} is not available (yet)",
                    reason="ASSET_NOT_FOUND",
                    metadata={"asset_id": asset_id, "rendition": rendition},
                )
            key, size, sha256, content_type = (
                rendition_key(asset_id, rendition),
                record.size_bytes,
                record.sha256,
                record.content_type,
            )
            default_name = f"{asset_id}-{rendition}.{_EXTENSIONS.get(content_type, 'bin')}"
        else:
            key, size, sha256, content_type = (
                original_key(asset.sha256),
                asset.size_bytes,
                asset.sha256,
                asset.content_type,
            )
            default_name = asset.filename or f"{asset_id}.{_EXTENSIONS.get(content_type, 'bin')}"

        answer: DeliveryPlan = plan(
            method=request.method,
            size=size,
            sha256=sha256,
            content_type=content_type,
            cache_policy=CachePolicy[asset.cache_policy],
            filename=request.params.get("filename") or default_name,
            asset_id=asset_id,
            now=now,
            range_header=request.range,
            if_none_match_header=request.if_none_match,
            if_range_header=request.if_range,
            disposition=request.params.get("disposition") or "inline",
            signed_expires=signed_expires,
        )
        body = b""
        if answer.body and size:
            try:
                body = await self._read(key, sha256, size, answer.start, answer.end)
            except BlobNotFound:
                log.error("blob missing for a delivered asset", asset_id=asset_id, key=key)
                raise not_found(asset_id) from None
            except Unavailable as exc:
                raise Unavailable(
                    f"the blob store is unavailable ({exc.message})", reason="BLOB_STORE_UNAVAILABLE"
                ) from exc
        if self._views is not None and request.method == "GET" and _is_a_view(answer):
            self._views(
                UsageEvent(
                    event_id=uuid.uuid4().hex,
                    kind="VIEW",
                    asset_id=asset_id,
                    platform=platform_of(request.user_agent, request.referer, request.params.get("platform", "")),
                    at=now,
                    user_agent=request.user_agent[:512],
                    rendition=rendition,
                )
            )
        return Download(answer.status, answer.headers, answer.headers.get("Content-Type", content_type), body)

    async def _read(self, key: str, sha256: str, size: int, start: int, end: int | None) -> bytes:
        if self._cache is None or size > self._cache.max_item_bytes:
            return await self._blobs.get(key, start, end)
        data = self._cache.get(key, sha256)
        if data is None:
            data = await self._blobs.get(key)
            self._cache.keep(key, sha256, data)
        return data[start : None if end is None else end + 1]

    def _check_rendition(self, name: str) -> str:
        if name and (not RENDITION_NAME_RE.match(name) or name not in self._renditions):
            raise InvalidArgument(
                f"unknown rendition {name[:40]!r}; renditions: {', '.join(sorted(self._renditions))}",
                field="rendition",
                reason="INVALID_RENDITION",
            )
        return name

    def _check_signature(self, asset: Asset, path: str, params: Mapping[str, str], now: datetime) -> int | None:
        """The signed URL's expiry when the request is signed (validly); raises when a signature is required
        or present and not valid."""
        signed = any(name in params for name in RESERVED_PARAMS)
        if not signed and asset.visibility is not Visibility.SIGNED:
            return None
        if not signed:
            raise PermissionDenied(
                f"asset {asset.asset_id} is delivered through signed URLs only", reason="SIGNATURE_REQUIRED"
            )
        if self._keyring is None:
            raise PermissionDenied("signed URLs are not enabled on this deployment", reason="INVALID_SIGNATURE")
        verdict = self._keyring.verify(path, params, int(now.timestamp()), max_lifetime_s=self._max_lifetime_s)
        if verdict.valid:
            return verdict.expires
        if verdict.problem is Problem.EXPIRED:
            raise PermissionDenied(verdict.message, reason="SIGNED_URL_EXPIRED")
        if verdict.problem is Problem.MISSING_PARAMS:
            raise PermissionDenied(verdict.message, reason="SIGNATURE_REQUIRED")
        raise PermissionDenied(verdict.message, reason="INVALID_SIGNATURE")

    # -------------------------------------------------------------------------------------- signing

    async def sign(self, asset_id: str, ttl_s: int | None, extras: Mapping[str, str], rendition: str = "") -> SignedUrl:
        check_asset_id(asset_id)
        rendition = self._check_rendition(rendition)
        _check_extras(extras)
        if self._keyring is None:
            raise FailedPrecondition("no signing key is configured", reason="SIGNING_DISABLED")
        ttl = DEFAULT_TTL_S if ttl_s is None else ttl_s
        if not 1 <= ttl <= self._max_lifetime_s:
            raise InvalidArgument(
                f"ttl must be between 1 s and {self._max_lifetime_s} s, got {ttl} s", field="ttl", reason="INVALID_TTL"
            )
        asset = await self._store.get(asset_id)
        if asset is None:
            raise not_found(asset_id)
        if asset.moderation.status is not ModerationStatus.APPROVED:
            raise FailedPrecondition(
                f"asset {asset_id} is {asset.moderation.status.value}; only APPROVED assets get signed URLs",
                reason="ASSET_NOT_APPROVED",
            )
        expires = int(self._clock().timestamp()) + ttl
        params = {k: v for k, v in extras.items() if v}
        path = _path(asset_id, rendition)
        url = self._keyring.signed_url(self._base_url, path, params, expires)
        signature = url.rsplit("signature=", 1)[1]
        return SignedUrl(url=url, expires=datetime.fromtimestamp(expires, UTC), signature=signature)

    def verify(self, url: str) -> tuple[Verdict, str]:
        """The verdict on a signed URL and its asset id (when readable)."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            base = urlsplit(self._base_url)
            if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
                return Verdict(Problem.MALFORMED, f"Malformed URL: not a URL of {self._base_url}"), ""
        segments = parts.path.split("/")
        if len(segments) not in (3, 4) or segments[1] != "a" or not re.fullmatch(r"[0-9a-f]{16}", segments[2]):
            return Verdict(Problem.MALFORMED, "Malformed URL: not an /a/{asset_id} path"), ""
        if self._keyring is None:
            return Verdict(Problem.UNKNOWN_KEY, "signed URLs are not enabled on this deployment"), segments[2]
        verdict = self._keyring.verify_url(url, int(self._clock().timestamp()), max_lifetime_s=self._max_lifetime_s)
        return verdict, segments[2]

    # -------------------------------------------------------------------------------------- reviewers

    async def preview(self, asset_id: str) -> RenditionOutput:
        """The blurred still of an asset for reviewers (any moderation state)."""
        check_asset_id(asset_id)
        if self._previews is None:
            raise FailedPrecondition("previews are not enabled", reason="PREVIEWS_DISABLED")
        asset = await self._store.get(asset_id)
        if asset is None:
            raise not_found(asset_id)
        try:
            source = await self._blobs.get(original_key(asset.sha256))
        except BlobNotFound:
            raise not_found(asset_id) from None
        return await self._previews.blurred_preview(source, asset.content_type)

    async def review_frame(self, asset_id: str, frame_index: int) -> RenditionOutput:
        """One frame of an asset as it is (unblurred), for a reviewer at the review page (any state)."""
        check_asset_id(asset_id)
        if self._previews is None:
            raise FailedPrecondition("previews are not enabled", reason="PREVIEWS_DISABLED")
        asset = await self._store.get(asset_id)
        if asset is None:
            raise not_found(asset_id)
        frames = max(1, asset.frame_count)
        if not 0 <= frame_index < frames:
            raise InvalidArgument(
                f"frame_index must lie in 0 … {frames - 1} (the asset has {frames} frame{'s' if frames > 1 else ''}), "
                f"got {frame_index}",
                field="frame_index",
                reason="INVALID_FRAME_INDEX",
            )
        try:
            source = await self._blobs.get(original_key(asset.sha256))
        except BlobNotFound:
            raise not_found(asset_id) from None
        return await self._previews.review_frame(source, asset.content_type, frame_index)


def _path(asset_id: str, rendition: str) -> str:
    return f"/a/{asset_id}/{rendition}" if rendition else f"/a/{asset_id}"


def _check_extras(params: Mapping[str, str]) -> None:
    disposition = params.get("disposition", "")
    if disposition and disposition not in ("inline", "attachment"):
        raise InvalidArgument(
            f"disposition must be inline or attachment, got {disposition[:20]!r}",
            field="disposition",
            reason="INVALID_SIGNED_PARAM",
        )
    platform = params.get("platform", "")
    if platform and platform not in PLATFORMS:
        raise InvalidArgument(
            f"platform must be one of {', '.join(PLATFORMS)}", field="platform", reason="INVALID_SIGNED_PARAM"
        )
    if len(params.get("subject", "")) > 128:
        raise InvalidArgument("subject is longer than 128 characters", field="subject", reason="INVALID_SIGNED_PARAM")
    if len(params.get("filename", "")) > 255:
        raise InvalidArgument("filename is longer than 255 characters", field="filename", reason="INVALID_SIGNED_PARAM")


def _is_a_view(answer: DeliveryPlan) -> bool:
    """A view is a delivery of the bytes: a 200, or a 206 from the first byte (a player asks for a video in
    several ranges; only its first counts). Revalidations (304), HEAD and later ranges are not views."""
    return answer.status == 200 or (answer.status == 206 and answer.start == 0)
