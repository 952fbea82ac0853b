"""What the sharelinks domain needs from the outside: blob storage, asset rows, media probing, scans and
their decisions, renditions, CDN purges.

The adapters (``services/sharelinks/adapters``) implement these against the filesystem or S3, SQL, the
frames and scanner services and ffmpeg; ``services/sharelinks/tests/fakes.py`` implements them in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.sharelinks.domain.model import Asset, Moderation, RenditionRecord, ShareLink


class BlobNotFound(LookupError):
    """No blob under the key (never written, deleted, or never completed)."""


@dataclass(frozen=True)
class BlobInfo:
    """One stored blob as listed."""

    key: str
    size: int
    modified: datetime


class BlobStore(Protocol):
    """Immutable byte blobs by key (``originals/…``, ``renditions/…``).

    Keys are relative, ``/``-separated, of ``[A-Za-z0-9._-]`` segments (never ``.`` or ``..``, at most 255
    characters each, 1024 in all); anything else is ``ValueError``, before any I/O. A blob is visible whole
    or not at all: a write that fails or is interrupted leaves nothing readable under its key (and an
    overwrite that fails leaves the old blob). A store that cannot be reached, or that refuses its
    configured credentials, raises :class:`clearframe_runtime.errors.Unavailable` (reasons
    ``BLOB_STORE_UNAVAILABLE`` and ``BLOB_STORE_CREDENTIALS_REJECTED``).

    Implementations: ``adapters.blobs_fs.FsBlobStore`` (a folder; there a key cannot be both a blob and a
    folder of blobs, so with ``a`` stored ``a/b`` is a ValueError, and the other way round),
    ``adapters.blobs_s3.S3BlobStore`` and ``tests.fake_blobs.MemoryBlobStore``.
    """

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (replacing what was there, atomically)."""
        ...

    async def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """The bytes ``start``…``end`` (inclusive; ``None`` = to the end) of the blob; BlobNotFound when absent.

        Ranges follow HTTP's ``bytes=start-end``: an ``end`` past the last byte means the last byte. The
        whole blob (``start=0, end=None``) can always be read, even when empty; any other range must start
        at a byte of the blob, so ``start >= size`` is ``ValueError`` (HTTP's 416), as are a negative
        ``start`` and an ``end`` before ``start``.
        """
        ...

    async def size(self, key: str) -> int | None:
        """The blob's size in bytes, or None when absent."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob; nothing happens when it is absent."""
        ...

    def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        """Every blob whose key starts with ``prefix`` (as a string: ``a/b`` finds ``a/bc``), in no
        particular order; ``modified`` is an aware UTC datetime."""
        ...

    async def check(self) -> None:
        """Raise Unavailable when the store cannot be reached (health)."""
        ...


@dataclass(frozen=True)
class RenditionSpec:
    """One derived file of an approved asset."""

    #: URL segment and key suffix: "mp4", "webp", "poster", "mp4-200", "webp-200", "poster-200".
    name: str
    #: "mp4" (H.264), "webp" (animated WebP) or "poster" (first frame, JPEG).
    kind: str
    #: Output height in pixels (width follows the aspect ratio, even); None keeps the source's size.
    height: int | None


@dataclass(frozen=True)
class RenditionOutput:
    """A produced rendition."""

    name: str
    content_type: str
    width: int
    height: int
    data: bytes


class RenditionMaker(Protocol):
    """Makes renditions with ffmpeg. Raises :class:`RenditionFailed` when the source cannot be converted,
    DeadlineExceeded past the time limit."""

    async def make(self, source: bytes, content_type: str, spec: RenditionSpec) -> RenditionOutput: ...

    async def blurred_preview(self, source: bytes, content_type: str) -> RenditionOutput:
        """A strongly blurred still of the first frame (for reviewers of flagged media only)."""
        ...

    async def review_frame(self, source: bytes, content_type: str, frame_index: int) -> RenditionOutput:
        """The frame at ``frame_index`` (0-based, in decoding order) as it is, as JPEG, for the review page.
        Raises :class:`RenditionFailed` when the source has no such frame."""
        ...


class RenditionFailed(RuntimeError):
    """ffmpeg could not produce a rendition (the message says why)."""


# ------------------------------------------------------------------------------------ media, scans


@dataclass(frozen=True)
class MediaInfo:
    """What probing the upload found (the frames service reads it from the content, not the header)."""

    #: "image", "animated_image" or "video".
    kind: str
    content_type: str
    width: int
    height: int
    frame_count: int
    duration_s: float


class MediaProbe(Protocol):
    """Reads the media's facts and enforces the media limits (size, dimensions, frames, duration).
    Raises InvalidArgument naming what is wrong (UNSUPPORTED_MEDIA_TYPE, MEDIA_UNDECODABLE,
    DIMENSIONS_TOO_LARGE …) and Unavailable when the prober cannot be reached."""

    async def probe(self, data: bytes, declared_type: str) -> MediaInfo: ...


@dataclass(frozen=True)
class ScanOrder:
    """What a scan of an asset is started with."""

    asset_id: str
    data: bytes
    content_type: str
    usage_intent: str
    model_id: str
    title: str
    tags: tuple[str, ...]
    description: str
    #: Idempotency key: a retried start answers the same scan.
    request_id: str


@dataclass(frozen=True)
class ScanOutcome:
    """A scan's state as the scanner reports it; ``verdict`` empty while it runs."""

    scan_id: str
    #: "APPROVED", "FLAGGED", "REJECTED", or "" while running.
    verdict: str
    decision_id: str
    #: Set when the scan failed.
    error: str


class Scans(Protocol):
    """The scanner service. Raises Unavailable when it cannot be reached."""

    async def start(self, order: ScanOrder) -> str:
        """Start the scan without waiting for it; returns its scan id."""
        ...

    async def outcome(self, scan_id: str) -> ScanOutcome | None:
        """The scan's state; None when the scanner does not know it."""
        ...


@dataclass(frozen=True)
class ModerationEvent:
    """One entry of the scanner's decision feed."""

    revision: int
    #: "decision", "scan_failed" or "heartbeat" (nothing happened; ``revision`` is the feed's head).
    kind: str
    asset_id: str = ""
    scan_id: str = ""
    #: For decisions: "APPROVED", "FLAGGED", "REJECTED" (or "PENDING").
    verdict: str = ""
    decision_id: str = ""
    #: For failed scans: why.
    error: str = ""


class DecisionFeed(Protocol):
    """The scanner's moderation events in revision order, from just after ``since_revision`` on, then
    live; raises Unavailable when the stream cannot be opened or breaks (the caller resumes)."""

    def watch(self, since_revision: int) -> AsyncIterator[ModerationEvent]: ...


class CdnPurger(Protocol):
    """Tells the CDNs in front to drop what they cached under the surrogate keys. Raises on failure (the
    caller retries)."""

    async def purge(self, surrogate_keys: tuple[str, ...]) -> None: ...


# ------------------------------------------------------------------------------------------ storage


class DuplicateAsset(Exception):
    """An asset with this id exists already."""


@dataclass(frozen=True)
class AssetFilter:
    status: str = ""
    owner: str = ""
    tag: str = ""


class AssetStore(Protocol):
    """Asset rows, their renditions and the decision feed's cursor.

    Datetimes must be aware (a naive one is ``ValueError``) and come back as aware UTC. Lists are newest
    first (``created_at`` descending), then by ``asset_id``. ``services/sharelinks/adapters/sql.py`` implements
    it in SQL, ``services/sharelinks/tests/fake_store.py`` in memory; ``tests/test_store.py`` holds both to it.
    """

    async def insert(self, asset: Asset) -> None:
        """Raises DuplicateAsset when the id is taken (of concurrent inserts of one id, exactly one wins)."""
        ...

    async def get(self, asset_id: str) -> Asset | None: ...

    async def page(self, where: AssetFilter, offset: int, limit: int) -> list[Asset]:
        """Newest first (then by id). Empty filter fields match everything; ``tag`` is an exact match on one of
        the asset's tags. A negative offset or limit is ``ValueError``."""
        ...

    async def update_metadata(self, asset_id: str, changes: dict[str, object], at: datetime) -> Asset | None:
        """Set the named descriptive fields (title, tags, description, filename, visibility, cache_policy) and
        ``updated_at = at``; the updated asset, or None when absent. Any other field, or a value of the wrong
        type, is ``ValueError`` (see :mod:`services.sharelinks.domain.descriptive`)."""
        ...

    async def set_moderation(self, asset_id: str, moderation: Moderation, at: datetime) -> Asset | None:
        """Replace the moderation facts and set ``updated_at = at``; the updated asset, or None when absent."""
        ...

    async def delete(self, asset_id: str) -> bool:
        """Remove the asset, its tags and its rendition rows (one transaction); False when there was none."""
        ...

    async def with_status(self, status: str) -> list[Asset]:
        """Every asset in this moderation state, in list order (start-up reconciliation)."""
        ...

    async def existing(self, asset_ids: set[str]) -> set[str]:
        """Which of these ids have a row (blob garbage collection); any number of ids."""
        ...

    async def renditions(self, asset_id: str) -> list[RenditionRecord]:
        """The asset's rendition records, by name."""
        ...

    async def save_rendition(self, record: RenditionRecord) -> None:
        """Insert or replace the record of (asset, name). Nothing is saved when the asset has no row (it was
        deleted while the rendition was being made)."""
        ...

    async def delete_renditions(self, asset_id: str) -> None: ...

    async def cursor(self) -> int:
        """The revision of the last moderation event applied (0 for none)."""
        ...

    async def save_cursor(self, revision: int) -> None:
        """Keep ``revision`` as the cursor (the last saved one wins)."""
        ...


# ------------------------------------------------------------------------------------------ links


class DuplicateCode(Exception):
    """A link with this code exists already."""


class LinkStore(Protocol):
    """Short links and their exact counters."""

    async def insert_link(self, link: ShareLink) -> None:
        """Raises DuplicateCode when the code is taken (also under concurrent inserts: exactly one wins)."""
        ...

    async def get_link(self, code: str) -> ShareLink | None: ...

    async def links(self, asset_id: str, offset: int, limit: int) -> list[ShareLink]:
        """Newest first (then by code); ``asset_id`` empty for all."""
        ...

    async def update_link(self, code: str, changes: dict[str, object], at: datetime) -> ShareLink | None:
        """Set the named fields (title, description, tags, expires_at, max_clicks, disabled, redirect_status,
        utm); ValueError for others."""
        ...

    async def delete_link(self, code: str) -> bool: ...

    async def count_click(self, code: str, at: datetime) -> tuple[ShareLink, bool] | None:
        """Add one click atomically unless the link is at its ``max_clicks`` (also under concurrent clicks on
        several replicas: never past the limit). The link afterwards and whether this click was counted; None
        when the link does not exist."""
        ...

    async def add_clicks(self, code: str, count: int, at: datetime) -> None:
        """Add ``count`` clicks counted in memory meanwhile (links without a limit), in one statement;
        ``last_click_at`` becomes ``at`` unless it is later already. Nothing when the link is gone."""
        ...

    async def count_preview(self, code: str) -> None:
        """Add one crawler preview."""
        ...

    async def delete_links_of(self, asset_id: str) -> int:
        """Remove every link of an asset (the asset was deleted); how many."""
        ...
