"""What the scanning pipeline needs from the outside: analyzers, frames, storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.scanner.analyzers.base import Analyzer, Frame


@dataclass(frozen=True)
class MediaFacts:
    """What the frames service reports about a GIF or video before its frames."""

    kind: str  # "image", "animated_gif" or "video"
    container: str
    codec: str
    width: int
    height: int
    frame_count: int
    duration_s: float
    fps: float


class AnalyzerSource(Protocol):
    """The analyzers currently configured (hot-reloaded from modules.cfg)."""

    def analyzers(self) -> list[Analyzer]: ...
    def failures(self) -> dict[str, str]: ...


class FrameSource(Protocol):
    """Sampled frames of a GIF or video, streamed as they are decoded (the frames service)."""

    def frames(
        self,
        data: bytes,
        content_type: str,
        *,
        gif_step: int,
        video_step: int,
        max_frames: int,
        timeout_s: float,
        metadata: tuple[tuple[str, str], ...],
    ) -> AsyncIterator[MediaFacts | Frame]: ...


@dataclass(frozen=True)
class ScanRecord:
    scan_id: str
    state: str
    media_type: str
    content_type: str
    size_bytes: int
    sha256: str
    usage_intent: str
    model_id: str
    asset_id: str
    creator: str
    verdict: str
    created_at: datetime
    completed_at: datetime | None
    #: The Scan message as proto JSON (the api layer owns the wire shape).
    document: str


class ScanStore(Protocol):
    async def save(self, record: ScanRecord) -> None: ...
    async def get(self, scan_id: str) -> ScanRecord | None: ...
    async def list_scans(
        self,
        *,
        asset_id: str,
        verdict: str,
        usage_intent: str,
        model_id: str,
        start: datetime | None,
        end: datetime | None,
        offset: int,
        limit: int,
    ) -> list[ScanRecord]: ...
    async def record_tags(self, tags: list[str]) -> int: ...
    async def tag_stats(self, offset: int, limit: int) -> tuple[list[tuple[str, int]], int]: ...
