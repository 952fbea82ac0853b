"""In-memory fakes of the sharelinks ports the other fakes do not cover: probing, the scanner and its
decision feed, renditions, the CDN purge hook — and a clock tests move by hand."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from clearframe_runtime.errors import FailedPrecondition, InvalidArgument, Unavailable
from services.sharelinks.ports import (
    MediaInfo,
    ModerationEvent,
    RenditionFailed,
    RenditionOutput,
    RenditionSpec,
    ScanOrder,
    ScanOutcome,
)

GIF_MAGIC = (b"GIF87a", b"GIF89a")


class FakeClock:
    def __init__(self, start: datetime = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeProbe:
    """Detects GIF/PNG/JPEG by magic bytes; anything else is refused as the frames service refuses it."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    async def probe(self, data: bytes, declared_type: str) -> MediaInfo:
        self.calls += 1
        if self.down:
            raise Unavailable("frames: connection refused", reason="FRAMES_UNAVAILABLE")
        if data[:6] in GIF_MAGIC:
            return MediaInfo("animated_image", "image/gif", 64, 48, 10, 1.0)
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return MediaInfo("image", "image/png", 64, 48, 1, 0.0)
        if data[:3] == b"\xff\xd8\xff":
            return MediaInfo("image", "image/jpeg", 64, 48, 1, 0.0)
        if data[:5] == b"<html":
            return MediaInfo("image", "text/html", 0, 0, 0, 0.0)
        raise InvalidArgument("not a media file ffmpeg can read", field="body", reason="MEDIA_UNDECODABLE")


@dataclass
class FakeScans:
    """The scanner: remembers orders; scan ids are derived from the idempotency key, as the real one answers
    a retried start with the same scan."""

    orders: list[ScanOrder] = field(default_factory=list)
    outcomes: dict[str, ScanOutcome] = field(default_factory=dict)
    down: bool = False

    async def start(self, order: ScanOrder) -> str:
        if self.down:
            raise Unavailable("scanner: connection refused", reason="SCANNER_UNAVAILABLE")
        self.orders.append(order)
        return "scan-" + hashlib.sha256(order.request_id.encode()).hexdigest()[:12]

    async def outcome(self, scan_id: str) -> ScanOutcome | None:
        if self.down:
            raise Unavailable("scanner: connection refused", reason="SCANNER_UNAVAILABLE")
        return self.outcomes.get(scan_id)


class FakeFeed:
    """A decision feed tests append to; ``watch`` replays from a revision, then follows."""

    def __init__(self) -> None:
        self.events: list[ModerationEvent] = []
        self._changed = asyncio.Condition()
        self.fail_next = 0
        self.watches: list[int] = []

    async def publish(self, event: ModerationEvent) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def watch(self, since_revision: int) -> AsyncIterator[ModerationEvent]:
        self.watches.append(since_revision)
        if self.events and since_revision > self.events[-1].revision:
            raise FailedPrecondition("since_revision is ahead of the feed", reason="REVISION_AHEAD")
        if self.fail_next:
            self.fail_next -= 1
            raise Unavailable("scanner: stream broken", reason="SCANNER_UNAVAILABLE")
        seen = since_revision
        while True:
            for event in [e for e in self.events if e.revision > seen]:
                seen = event.revision
                yield event
            async with self._changed:
                await self._changed.wait_for(self._newer_than(seen))

    def _newer_than(self, revision: int) -> Callable[[], bool]:
        return lambda: any(e.revision > revision for e in self.events)


class FakeRenditionMaker:
    """Produces small labelled outputs; names in ``failing`` fail."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.made: list[str] = []

    async def make(self, source: bytes, content_type: str, spec: RenditionSpec) -> RenditionOutput:
        if spec.name in self.failing:
            raise RenditionFailed(f"ffmpeg exited 1 for {spec.name}")
        self.made.append(spec.name)
        height = spec.height or 48
        kind = {"mp4": "video/mp4", "webp": "image/webp", "poster": "image/jpeg"}[spec.kind]
        return RenditionOutput(spec.name, kind, height * 4 // 3, height, f"{spec.name}:".encode() + source[:8])

    async def blurred_preview(self, source: bytes, content_type: str) -> RenditionOutput:
        return RenditionOutput("preview", "image/jpeg", 32, 24, b"\xff\xd8\xffblurred")

    async def review_frame(self, source: bytes, content_type: str, frame_index: int) -> RenditionOutput:
        return RenditionOutput(f"frame-{frame_index}", "image/jpeg", 32, 24, b"\xff\xd8\xff" + source[:8])


class FakePurger:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.purged: list[tuple[str, ...]] = []
        self.attempts = 0

    async def purge(self, surrogate_keys: tuple[str, ...]) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise ConnectionError("purge hook down")
        self.purged.append(surrogate_keys)
