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


class RenditionFailed(RuntimeError):
    """ffmpeg could not produce a rendition (the message says why)."""
