"""Assets: upload (probe, store, scan), moderation state from the scanner's decisions, metadata, delete,
rescan — the rule that nothing is served before its decision lives here.

Nothing here imports grpc or generated code; the servicer translates between this and the wire.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import structlog

from clearframe_runtime.clock import Clock
from clearframe_runtime.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from clearframe_runtime.pagination import decode_page_token, encode_page_token, page_size
from clearframe_runtime.vocabulary import USAGE_INTENTS
from services.sharelinks.domain.delivery import CachePolicy, safe_filename
from services.sharelinks.domain.descriptive import DESCRIPTIVE_FIELDS
from services.sharelinks.domain.model import (
    ASSET_ID_RE,
    Asset,
    Moderation,
    ModerationStatus,
    Visibility,
    asset_id_of,
    original_key,
    rendition_key,
)
from services.sharelinks.ports import (
    AssetFilter,
    AssetStore,
    BlobStore,
    DuplicateAsset,
    MediaProbe,
    ModerationEvent,
    ScanOrder,
    Scans,
)

log = structlog.get_logger(__name__)

MODEL_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
#: Content types delivered as uploaded (what the frames service detects and browsers play inline).
DELIVERABLE_TYPES = frozenset({"image/gif", "image/png", "image/jpeg", "image/webp", "video/mp4", "video/webm"})
#: Descriptive fields UpdateAsset may change.
UPDATABLE = tuple(sorted(DESCRIPTIVE_FIELDS))
#: Changing one of these re-runs moderation (the text is scanned with the media).
TEXT_FIELDS = frozenset({"title", "tags", "description"})
_VERDICTS = {
    "APPROVED": ModerationStatus.APPROVED,
    "FLAGGED": ModerationStatus.FLAGGED,
    "REJECTED": ModerationStatus.REJECTED,
}


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 25 * 1024 * 1024
    max_title: int = 300
    max_tags: int = 50
    max_tag: int = 100
    max_description: int = 5000
    max_filename: int = 255


@dataclass(frozen=True)
class Upload:
    """What CreateAsset received."""

    data: bytes
    declared_type: str
    title: str = ""
    tags: tuple[str, ...] = ()
    description: str = ""
    filename: str = ""
    usage_intent: str = ""
    model_id: str = ""
    visibility: Visibility = Visibility.PUBLIC
    cache_policy: str = CachePolicy.IMMUTABLE.name


def check_asset_id(asset_id: str, field: str = "asset_id") -> str:
    if not ASSET_ID_RE.match(asset_id):
        raise InvalidArgument(
            f"asset_id must be 16 lowercase hex characters, got {asset_id[:40]!r}",
            field=field,
            reason="INVALID_ASSET_ID",
        )
    return asset_id


def not_found(asset_id: str) -> NotFound:
    return NotFound(f"asset {asset_id} not found", reason="ASSET_NOT_FOUND", metadata={"asset_id": asset_id})


def check_text(title: str, tags: Sequence[str], description: str, limits: Limits) -> None:
    if len(title) > limits.max_title:
        raise InvalidArgument(
            f"title is {len(title)} characters; at most {limits.max_title}", field="title", reason="TEXT_TOO_LONG"
        )
    if len(tags) > limits.max_tags:
        raise InvalidArgument(f"{len(tags)} tags; at most {limits.max_tags}", field="tags", reason="TEXT_TOO_LONG")
    for index, tag in enumerate(tags):
        if len(tag) > limits.max_tag:
            raise InvalidArgument(
                f"tag {index} is {len(tag)} characters; at most {limits.max_tag}",
                field=f"tags[{index}]",
                reason="TEXT_TOO_LONG",
            )
        if not tag.strip():
            raise InvalidArgument(f"tag {index} is empty", field=f"tags[{index}]", reason="TEXT_TOO_LONG")
    if len(description) > limits.max_description:
        raise InvalidArgument(
            f"description is {len(description)} characters; at most {limits.max_description}",
            field="description",
            reason="TEXT_TOO_LONG",
        )


def check_filename(filename: str, limits: Limits) -> str:
    """The upload's file name as kept: no directory part, no control characters, ≤ the limit."""
    if not filename:
        return ""
    if len(filename) > limits.max_filename:
        raise InvalidArgument(
            f"filename is {len(filename)} characters; at most {limits.max_filename}",
            field="filename",
            reason="INVALID_FILENAME",
        )
    cleaned = safe_filename(filename)
    if not cleaned:
        raise InvalidArgument(
            f"filename {filename[:80]!r} has no usable characters", field="filename", reason="INVALID_FILENAME"
        )
    return cleaned


def check_intent(usage_intent: str) -> str:
    intent = usage_intent or "public_site"
    if intent not in USAGE_INTENTS:
        raise InvalidArgument(
            f"Invalid usage_intent {usage_intent!r}: must be one of {', '.join(USAGE_INTENTS)}",
            field="usage_intent",
            reason="INVALID_USAGE_INTENT",
        )
    return intent


def check_model(model_id: str) -> str:
    if model_id and (len(model_id) > 64 or not set(model_id) <= MODEL_ID_CHARS):
        raise InvalidArgument(
            "model_id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'", field="model_id", reason="INVALID_MODEL_ID"
        )
    return model_id


class Assets:
    """The asset use cases. ``on_approved`` / ``on_unpublished`` are called (without waiting) when an
    asset becomes deliverable or stops being so — the rendition worker and the CDN purge queue."""

    def __init__(
        self,
        store: AssetStore,
        blobs: BlobStore,
        probe: MediaProbe,
        scans: Scans,
        *,
        base_url: str,
        clock: Clock,
        limits: Limits = Limits(),
        on_approved: Callable[[Asset], Awaitable[None]] | None = None,
        on_unpublished: Callable[[Asset], Awaitable[None]] | None = None,
    ):
        self._store = store
        self._blobs = blobs
        self._probe = probe
        self._scans = scans
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self.limits = limits
        self._on_approved = on_approved
        self._on_unpublished = on_unpublished
        self._locks: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Task[None]] = set()

    def canonical_url(self, asset_id: str) -> str:
        return f"{self._base_url}/a/{asset_id}"

    # -------------------------------------------------------------------------------------- create

    async def create(self, upload: Upload, owner: str) -> Asset:
        if not upload.data:
            raise InvalidArgument(
                "the request body is empty; send the media as the body", field="body", reason="EMPTY_BODY"
            )
        if len(upload.data) > self.limits.max_upload_bytes:
            raise InvalidArgument(
                f"the upload is {len(upload.data)} bytes; at most {self.limits.max_upload_bytes} are accepted",
                field="body",
                reason="PAYLOAD_TOO_LARGE",
            )
        check_text(upload.title, upload.tags, upload.description, self.limits)
        filename = check_filename(upload.filename, self.limits)
        intent = check_intent(upload.usage_intent)
        model_id = check_model(upload.model_id)
        sha256 = hashlib.sha256(upload.data).hexdigest()
        asset_id = asset_id_of(sha256)
        existing = await self._store.get(asset_id)
        if existing is not None:
            raise self._duplicate(asset_id)

        media = await self._probe.probe(upload.data, upload.declared_type)
        if media.content_type not in DELIVERABLE_TYPES:
            raise InvalidArgument(
                f"{media.content_type or 'this media'} is not accepted as an asset "
                f"(accepted: {', '.join(sorted(DELIVERABLE_TYPES))})",
                field="body",
                reason="UNSUPPORTED_MEDIA_TYPE",
            )
        now = self._clock()
        asset = Asset(
            asset_id=asset_id,
            sha256=sha256,
            content_type=media.content_type,
            size_bytes=len(upload.data),
            width=media.width,
            height=media.height,
            frame_count=media.frame_count,
            duration_s=media.duration_s,
            title=upload.title,
            tags=tuple(upload.tags),
            description=upload.description,
            filename=filename,
            usage_intent=intent,
            model_id=model_id,
            visibility=upload.visibility,
            cache_policy=upload.cache_policy,
            owner=owner,
            created_at=now,
            updated_at=now,
            moderation=Moderation(scan_attempt=1),
        )
        # Bytes first: a row never points at a blob that is not there. A blob whose row is never
        # committed is garbage-collected (collect_garbage), and never served: delivery starts at the row.
        try:
            await self._blobs.put(original_key(sha256), upload.data)
        except Unavailable as exc:
            raise Unavailable(
                f"the blob store is unavailable ({exc.message}); nothing was stored, retry later",
                reason="BLOB_STORE_UNAVAILABLE",
            ) from exc
        try:
            await self._store.insert(asset)
        except DuplicateAsset:
            raise self._duplicate(asset_id) from None
        try:
            scan_id = await self._scans.start(self._order(asset, upload.data))
        except DomainError as exc:
            # Undo: the upload answers the scanner's refusal (or 503) and leaves nothing behind, so the
            # same upload later starts afresh.
            await self._store.delete(asset_id)
            await self._delete_blob(original_key(sha256))
            if isinstance(exc, Unavailable):
                raise Unavailable(
                    f"the scanner is unavailable ({exc.message}); the upload was not kept, retry later",
                    reason="SCANNER_UNAVAILABLE",
                ) from exc
            raise
        return await self._started(asset, scan_id)

    def _duplicate(self, asset_id: str) -> AlreadyExists:
        return AlreadyExists(
            f"the same content was uploaded before as asset {asset_id}",
            reason="ASSET_ALREADY_EXISTS",
            metadata={"asset_id": asset_id, "canonical_url": self.canonical_url(asset_id)},
        )

    def _order(self, asset: Asset, data: bytes) -> ScanOrder:
        # The same asset and attempt always give the same key: a retried start is answered the same scan.
        request_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"clearframe:asset:{asset.sha256}:{asset.moderation.scan_attempt}")
        )
        return ScanOrder(
            asset_id=asset.asset_id,
            data=data,
            content_type=asset.content_type,
            usage_intent=asset.usage_intent,
            model_id=asset.model_id,
            title=asset.title,
            tags=asset.tags,
            description=asset.description,
            request_id=request_id,
        )

    async def _started(self, asset: Asset, scan_id: str) -> Asset:
        """Record the scan id, unless the decision feed was faster and recorded it (and maybe its
        decision) already."""
        async with self._lock(asset.asset_id):
            current = await self._store.get(asset.asset_id)
            if current is None:
                raise not_found(asset.asset_id)
            if current.moderation.scan_id == scan_id:
                return current
            moderation = replace(current.moderation, scan_id=scan_id)
            updated = await self._store.set_moderation(asset.asset_id, moderation, self._clock())
            return updated or current

    def _lock(self, asset_id: str) -> asyncio.Lock:
        lock = self._locks.get(asset_id)
        if lock is None:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            lock = self._locks[asset_id] = asyncio.Lock()
        return lock

    # -------------------------------------------------------------------------------------- read

    async def get(self, asset_id: str) -> Asset:
        asset = await self._store.get(check_asset_id(asset_id))
        if asset is None:
            raise not_found(asset_id)
        return asset

    async def page(self, where: AssetFilter, size: int, token: str) -> tuple[list[Asset], str]:
        if where.status and where.status not in ModerationStatus.__members__:
            raise InvalidArgument(f"unknown moderation status {where.status!r}", field="moderation_status")
        limit = page_size(size)
        filters = (where.status, where.owner, where.tag)
        offset = decode_page_token(token, filters)
        rows = await self._store.page(where, offset, limit + 1)
        more = len(rows) > limit
        return rows[:limit], encode_page_token(offset + limit, filters) if more else ""

    # -------------------------------------------------------------------------------------- change

    async def update(self, asset_id: str, changes: dict[str, object]) -> Asset:
        """Set descriptive fields (already parsed into domain values by the servicer); text changes re-run
        moderation with a new scan — the current status holds until its decision arrives."""
        current = await self.get(asset_id)
        unknown = set(changes) - set(UPDATABLE)
        if unknown:
            raise InvalidArgument(
                f"cannot update {', '.join(sorted(unknown))}; updatable: {', '.join(UPDATABLE)}",
                field="update_mask",
                reason="INVALID_UPDATE_MASK",
            )
        title = str(changes.get("title", current.title))
        tags_value = changes.get("tags", current.tags)
        tags = tuple(str(t) for t in tags_value) if isinstance(tags_value, (list, tuple)) else current.tags
        description = str(changes.get("description", current.description))
        check_text(title, tags, description, self.limits)
        if "filename" in changes:
            changes["filename"] = check_filename(str(changes["filename"]), self.limits)
        if "tags" in changes:
            changes["tags"] = tags
        updated = await self._store.update_metadata(asset_id, changes, self._clock())
        if updated is None:
            raise not_found(asset_id)
        text_changed = (updated.title, updated.tags, updated.description) != (
            current.title,
            current.tags,
            current.description,
        )
        if text_changed:
            updated = await self._rescan(updated, keep_status=True)
        return updated

    async def delete(self, asset_id: str) -> None:
        asset = await self.get(asset_id)
        renditions = await self._store.renditions(asset_id)
        if not await self._store.delete(asset_id):
            raise not_found(asset_id)
        # Rows first, then bytes: a failed blob delete leaves garbage for collect_garbage, never an
        # asset whose bytes are gone.
        for record in renditions:
            await self._delete_blob(rendition_key(asset_id, record.name))
        await self._delete_blob(original_key(asset.sha256))
        if asset.delivered and self._on_unpublished is not None:
            await self._on_unpublished(asset)

    async def _delete_blob(self, key: str) -> None:
        try:
            await self._blobs.delete(key)
        except Unavailable as exc:
            log.warning("blob delete failed; left for garbage collection", key=key, error=exc.message)

    async def rescan(self, asset_id: str) -> Asset:
        asset = await self.get(asset_id)
        if asset.moderation.status is not ModerationStatus.ERROR:
            raise FailedPrecondition(
                f"asset {asset_id} is {asset.moderation.status.value}; only assets whose scan failed (ERROR) "
                "can be rescanned",
                reason="ASSET_NOT_RESCANNABLE",
            )
        return await self._rescan(asset, keep_status=False)

    async def _rescan(self, asset: Asset, *, keep_status: bool) -> Asset:
        try:
            data = await self._blobs.get(original_key(asset.sha256))
        except Unavailable as exc:
            raise Unavailable(
                f"the blob store is unavailable ({exc.message})", reason="BLOB_STORE_UNAVAILABLE"
            ) from exc
        async with self._lock(asset.asset_id):
            fresh = await self._store.get(asset.asset_id) or asset
            attempt = fresh.moderation.scan_attempt + 1
            pending = replace(fresh, moderation=replace(fresh.moderation, scan_attempt=attempt))
            try:
                scan_id = await self._scans.start(self._order(pending, data))
            except Unavailable as exc:
                raise Unavailable(
                    f"the scanner is unavailable ({exc.message}); retry later", reason="SCANNER_UNAVAILABLE"
                ) from exc
            moderation = (
                replace(fresh.moderation, scan_id=scan_id, scan_attempt=attempt)
                if keep_status
                else Moderation(
                    status=ModerationStatus.PENDING,
                    scan_id=scan_id,
                    scan_attempt=attempt,
                    revision=fresh.moderation.revision,
                )
            )
            updated = await self._store.set_moderation(asset.asset_id, moderation, self._clock())
        if updated is None:
            raise not_found(asset.asset_id)
        return updated

    # -------------------------------------------------------------------------------------- moderation

    async def apply(self, event: ModerationEvent) -> Asset | None:
        """Apply one event of the scanner's decision feed; returns the asset when it changed. Events for
        other scans than the asset's current one, and replays of events already applied, change nothing."""
        return await self._apply(event, from_feed=True)

    async def _apply(self, event: ModerationEvent, *, from_feed: bool) -> Asset | None:
        if event.kind not in ("decision", "scan_failed") or not ASSET_ID_RE.match(event.asset_id):
            return None
        async with self._lock(event.asset_id):
            asset = await self._store.get(event.asset_id)
            if asset is None or (from_feed and event.revision <= asset.moderation.revision):
                return None
            # An outcome read outside the feed (reconcile) keeps the feed's cursor for the asset.
            revision = event.revision if from_feed else asset.moderation.revision
            current = asset.moderation
            # The scan id may not be recorded yet when the decision beats CreateAsset's last step.
            if current.scan_id and event.scan_id != current.scan_id:
                return None
            if not current.scan_id and current.status is not ModerationStatus.PENDING:
                return None
            if event.kind == "scan_failed":
                moderation = replace(
                    current,
                    status=ModerationStatus.ERROR,
                    scan_id=event.scan_id,
                    decision_id="",
                    error=event.error or "the scan failed",
                    revision=revision,
                )
            else:
                status = _VERDICTS.get(event.verdict)
                if status is None:
                    return None
                moderation = replace(
                    current,
                    status=status,
                    scan_id=event.scan_id,
                    decision_id=event.decision_id,
                    error="",
                    revision=revision,
                )
            updated = await self._store.set_moderation(asset.asset_id, moderation, self._clock())
        if updated is None:
            return None
        log.info(
            "asset moderation changed",
            asset_id=asset.asset_id,
            before=current.status.value,
            after=moderation.status.value,
            scan_id=moderation.scan_id,
            decision_id=moderation.decision_id,
        )
        await self._transition(asset, updated)
        return updated

    async def _transition(self, before: Asset, after: Asset) -> None:
        if after.delivered and not before.delivered and self._on_approved is not None:
            await self._on_approved(after)
        if before.delivered and not after.delivered and self._on_unpublished is not None:
            await self._on_unpublished(after)

    async def reconcile(self) -> int:
        """At start-up: PENDING assets whose scan was never started get it started; those whose scan ended
        while nobody listened take its outcome. Returns how many assets changed."""
        changed = 0
        for asset in await self._store.with_status(ModerationStatus.PENDING.value):
            try:
                if not asset.moderation.scan_id:
                    data = await self._blobs.get(original_key(asset.sha256))
                    scan_id = await self._scans.start(self._order(asset, data))
                    await self._started(asset, scan_id)
                    changed += 1
                    continue
                outcome = await self._scans.outcome(asset.moderation.scan_id)
            except Unavailable as exc:
                log.warning("reconciliation postponed", asset_id=asset.asset_id, error=exc.message)
                continue
            if outcome is None or not (outcome.verdict or outcome.error):
                continue
            event = ModerationEvent(
                revision=0,
                kind="scan_failed" if outcome.error else "decision",
                asset_id=asset.asset_id,
                scan_id=outcome.scan_id,
                verdict=outcome.verdict,
                decision_id=outcome.decision_id,
                error=outcome.error,
            )
            if await self._apply(event, from_feed=False) is not None:
                changed += 1
        return changed

    # -------------------------------------------------------------------------------------- garbage

    async def collect_garbage(self, grace: timedelta) -> int:
        """Delete blobs no committed row owns (an upload that failed between its bytes and its row, a
        delete whose blob removal failed), once older than ``grace``. Returns how many were deleted."""
        cutoff = self._clock() - grace
        candidates: dict[str, list[str]] = {}
        async for info in self._blobs.list("originals/"):
            if info.modified < cutoff:
                candidates.setdefault(asset_id_of(info.key.rsplit("/", 1)[-1]), []).append(info.key)
        async for info in self._blobs.list("renditions/"):
            if info.modified < cutoff:
                parts = info.key.split("/")
                if len(parts) == 3:
                    candidates.setdefault(parts[1], []).append(info.key)
        if not candidates:
            return 0
        alive = await self._store.existing(set(candidates))
        deleted = 0
        for asset_id, keys in candidates.items():
            if asset_id in alive:
                continue
            for key in keys:
                await self._delete_blob(key)
                deleted += 1
        if deleted:
            log.info("orphan blobs collected", count=deleted)
        return deleted
