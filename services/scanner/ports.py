"""What the scanner's domain needs from the outside: inference, analyzers, frames, policies, storage.

The adapters (``services/scanner/adapters``) implement these against Triton, the frames and config
services, SQL and the filesystem; the unit tests implement them in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy.typing as npt
from PIL import Image

from services.scanner.analyzers.base import Analyzer, Frame
from services.scanner.domain.decision import Policy
from services.scanner.domain.model import Scan


@dataclass(frozen=True)
class MediaFacts:
    """What the frames service reports about a GIF or video before its frames."""

    kind: str  # "image", "animated_gif" or "video"
    container: str
    codec: str
    width: int
    height: int
    #: Frames of the whole file (not only the sampled ones).
    frame_count: int
    duration_s: float
    fps: float


class Inference(Protocol):
    """Model inference (Triton). Raises Unavailable when the server is down, DeadlineExceeded past
    ``timeout_s``; analyzers depend on this port, never on the concrete client."""

    async def infer(
        self,
        model: str,
        inputs: Mapping[str, npt.NDArray[Any]],
        outputs: Sequence[str],
        timeout_s: float | None = None,
    ) -> dict[str, npt.NDArray[Any]]: ...


class AnalyzerSource(Protocol):
    """The analyzers currently configured (hot-reloaded from modules.cfg)."""

    def analyzers(self) -> list[Analyzer]: ...
    def failures(self) -> dict[str, str]: ...


class FrameSource(Protocol):
    """Sampled frames of a GIF or video, streamed as they are decoded (the frames service): first one
    MediaFacts, then the frames."""

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


class PolicySource(Protocol):
    """The resolved analysis configuration of an intent and model (the config service)."""

    async def resolve(self, usage_intent: str, model_id: str, metadata: tuple[tuple[str, str], ...]) -> Policy: ...


class ScanReader(Protocol):
    """Read access to scans (what moderation needs)."""

    async def get(self, scan_id: str) -> Scan | None: ...


class ScanStore(ScanReader, Protocol):
    """Scans (one row each, rewritten as it changes) and seed 000's tag counts."""

    async def save(self, scan: Scan) -> None: ...
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
    ) -> list[Scan]:
        """Newest first; ``verdict`` is a short name ("APPROVED") or "" for any."""
        ...

    async def running(self) -> list[Scan]:
        """Every scan in state RUNNING (of any runner)."""
        ...

    async def record_tags(self, tags: list[str]) -> int:
        """Count each tag once more; returns how many were recorded."""
        ...

    async def tag_stats(self, offset: int, limit: int) -> tuple[list[tuple[str, int]], int]:
        """Tags by count (highest first) and the sum of all counts."""
        ...


class EvidenceImageStore(Protocol):
    """Where /check keeps a downscaled copy of each image (the seed's image_storage module)."""

    async def keep(self, digest: str, image: Image.Image) -> str:
        """Store the copy under the content's SHA-256; returns its path relative to the store."""
        ...
