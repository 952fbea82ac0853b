"""Frame extraction logic: limits, the sampling rule and the streaming use cases.

Nothing here imports grpc or generated code (the servicer translates), nor ffmpeg (the decoder port
does the decoding).

Sampling (seed 000's ``_sample_indices``, kept): of ``total`` frames, always the first and the last, and
every ``step``-th one from the first: ``{0, total-1} | {0, step, 2*step, …}``. The step is 5 for GIFs
and other animated images and 20 for video. By time: for each multiple of the interval, the first frame
at or after it, plus the last frame. When more frames qualify than ``max_frames``, the selection is
thinned evenly by position, keeping its first and last element (``max_frames == 1`` keeps the first).

Frames are selected as they are decoded, so they stream out before decoding ends. The frame count is
known beforehand from the container (packets), but the frame that is really last is only known at the
end of decoding: the most recent frame is held back and sent at the end if it was not sent already.
"""

from __future__ import annotations

import asyncio
import enum
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from clearframe_runtime.errors import DeadlineExceeded, Internal, InvalidArgument, ResourceExhausted
from services.frames.ports import (
    DecodedFrame,
    FrameEncoder,
    ImageFormat,
    MediaDecoder,
    OpenMedia,
    OversizedFrame,
    ProbedMedia,
    undecodable,
)

log = structlog.get_logger(__name__)

DEFAULT_GIF_STEP = 5
DEFAULT_VIDEO_STEP = 20
DEFAULT_MAX_FRAMES = 60
MAX_FRAMES_LIMIT = 1000
MIN_INTERVAL_S = 0.01
DEFAULT_JPEG_QUALITY = 90
#: Room for the message fields around an encoded frame.
_MESSAGE_OVERHEAD = 4096

T = TypeVar("T")


# --- the sampling rule -------------------------------------------------------------------------------


def sample_indices(total: int, step: int) -> list[int]:
    """Seed 000's rule: the first and the last frame and every ``step``-th frame, sorted, no duplicates."""
    if step < 1:
        raise ValueError("step must be at least 1")
    if total <= 0:
        return []
    return sorted({0, total - 1, *range(0, total, step)})


def thin(items: Sequence[T], max_items: int) -> list[T]:
    """At most ``max_items`` of ``items``, evenly spaced by position, keeping the first and the last.

    Position ``k`` of the result is ``items[floor(k*(n-1)/(max_items-1))]``: k = 0 gives the first item,
    k = max_items-1 the last, and as n > max_items the spacing exceeds 1, so no item repeats. With
    ``max_items == 1`` only the first item is kept (there is no room for both ends).
    """
    if max_items < 1:
        raise ValueError("max_items must be at least 1")
    n = len(items)
    if n <= max_items:
        return list(items)
    if max_items == 1:
        return [items[0]]
    return [items[(k * (n - 1)) // (max_items - 1)] for k in range(max_items)]


def interval_targets(duration_s: float, interval_s: float) -> list[float]:
    """The multiples of ``interval_s`` from 0 up to (not including) the duration; [0.0] at least."""
    if interval_s <= 0:
        raise ValueError("interval must be positive")
    count = max(1, math.ceil(duration_s / interval_s - 1e-9))
    return [k * interval_s for k in range(count)]


@dataclass(frozen=True)
class StepSampling:
    gif_step: int = DEFAULT_GIF_STEP
    video_step: int = DEFAULT_VIDEO_STEP


@dataclass(frozen=True)
class IntervalSampling:
    interval_s: float


@dataclass(frozen=True)
class Sampling:
    """How frames are chosen (validated)."""

    method: StepSampling | IntervalSampling = field(default_factory=StepSampling)
    max_frames: int = DEFAULT_MAX_FRAMES

    @classmethod
    def step(cls, gif_step: int = 0, video_step: int = 0, max_frames: int = 0) -> Sampling:
        for name, value in (("gif_step", gif_step), ("video_step", video_step)):
            if value < 0:
                raise InvalidArgument(
                    f"sampling.step.{name} must be at least 1 (0 for the default), not {value}",
                    field=f"sampling.step.{name}",
                    reason="INVALID_SAMPLING",
                )
        method = StepSampling(gif_step or DEFAULT_GIF_STEP, video_step or DEFAULT_VIDEO_STEP)
        return cls(method, _max_frames(max_frames))

    @classmethod
    def interval(cls, interval_s: float, max_frames: int = 0) -> Sampling:
        if not interval_s >= MIN_INTERVAL_S:
            raise InvalidArgument(
                f"sampling.interval.interval must be at least {MIN_INTERVAL_S * 1000:.0f} ms, not {interval_s:g} s",
                field="sampling.interval.interval",
                reason="INVALID_SAMPLING",
            )
        return cls(IntervalSampling(interval_s), _max_frames(max_frames))


def _max_frames(value: int) -> int:
    if value == 0:
        return DEFAULT_MAX_FRAMES
    if not 1 <= value <= MAX_FRAMES_LIMIT:
        raise InvalidArgument(
            f"sampling.max_frames must be between 1 and {MAX_FRAMES_LIMIT} (0 for {DEFAULT_MAX_FRAMES}), not {value}",
            field="sampling.max_frames",
            reason="INVALID_SAMPLING",
        )
    return value


class FrameSelector:
    """Decides, frame by frame as they are decoded, which frames to send.

    ``offer`` answers for each decoded frame; ``offer_last`` for the frame that turned out to be last.
    The frame count from the container drives the plan; if decoding yields fewer or more frames than it
    said, the frame that is really last is still sent (then the plan's own "last" may be one extra).
    """

    def __init__(self, sampling: Sampling, *, expected_frames: int, duration_s: float, step: int):
        self.max_frames = sampling.max_frames
        self.step_used = 0
        self.thinned = False
        self._sent: set[int] = set()
        self._wanted: set[int] = set()
        self._targets: list[float] = []
        self._interval = 0.0
        self._open_ended = False
        if isinstance(sampling.method, StepSampling):
            self.step_used = step
            candidates = sample_indices(expected_frames, step)
            chosen = thin(candidates, self.max_frames)
            self.thinned = len(chosen) < len(candidates)
            self._wanted = set(chosen)
            self.include_last = not candidates or chosen[-1] == candidates[-1]
        else:
            self._interval = sampling.method.interval_s
            if duration_s > 0:
                plan: list[float | None] = [*interval_targets(duration_s, self._interval), None]  # None: the last
                chosen_plan = thin(plan, self.max_frames)
                self.thinned = len(chosen_plan) < len(plan)
                self.include_last = chosen_plan[-1] is None
                self._targets = [t for t in chosen_plan if t is not None]
            else:
                # Unknown duration: take targets as they come, keeping one slot for the last frame.
                self._open_ended = True
                self.include_last = self.max_frames > 1
                self._targets = [0.0]

    @property
    def sent(self) -> int:
        return len(self._sent)

    @property
    def pixels_needed(self) -> frozenset[int] | None:
        """The frames ``offer`` can take, when known before decoding (step sampling); None: any frame may be
        taken (time-based sampling). The last frame may be taken besides (``offer_last``)."""
        return None if self._interval else frozenset(self._wanted)

    def offer(self, index: int, timestamp_s: float) -> bool:
        if index in self._sent:
            return False
        take = self._take_by_time(timestamp_s) if self._interval else index in self._wanted
        if take:
            self._sent.add(index)
        return take

    def _take_by_time(self, timestamp_s: float) -> bool:
        if not self._targets or timestamp_s < self._targets[0] - 1e-6:
            return False
        if self._open_ended:
            limit = self.max_frames - 1 if self.include_last else self.max_frames
            if self.sent >= limit:
                self._targets = []
                return False
            nxt = self._targets[0] + self._interval
            while nxt <= timestamp_s + 1e-6:
                nxt += self._interval
            self._targets = [nxt]
            return True
        while self._targets and self._targets[0] <= timestamp_s + 1e-6:
            self._targets.pop(0)
        return True

    def offer_last(self, index: int) -> bool:
        if not self.include_last or index in self._sent:
            return False
        self._sent.add(index)
        return True


# --- media facts and limits --------------------------------------------------------------------------


class MediaKind(enum.Enum):
    IMAGE = "image"
    ANIMATED_GIF = "animated_gif"
    ANIMATED_IMAGE = "animated_image"
    VIDEO = "video"


@dataclass(frozen=True)
class MediaInfo:
    """What a probe found, as the contract reports it."""

    kind: MediaKind
    container: str
    codec: str
    width: int
    height: int
    frame_count: int
    duration_s: float
    fps: float
    has_audio: bool
    size_bytes: int
    content_type: str

    @classmethod
    def of(cls, probed: ProbedMedia, size_bytes: int) -> MediaInfo:
        kind = media_kind(probed.content_type, probed.frame_count)
        if kind is MediaKind.IMAGE and not probed.content_type.startswith("video/"):
            duration, fps = 0.0, 0.0
        else:
            duration = probed.duration_s
            # Average rate over the whole media (GIF delays vary); the declared rate when that is unknown.
            fps = probed.frame_count / duration if duration > 0 and probed.frame_count > 1 else probed.declared_fps
        return cls(
            kind=kind,
            container=probed.container,
            codec=probed.codec,
            width=probed.width,
            height=probed.height,
            frame_count=probed.frame_count,
            duration_s=duration,
            fps=round(fps, 6),
            has_audio=probed.has_audio,
            size_bytes=size_bytes,
            content_type=probed.content_type,
        )

    def step(self, sampling: StepSampling) -> int:
        return sampling.video_step if self.kind is MediaKind.VIDEO else sampling.gif_step


def media_kind(content_type: str, frame_count: int) -> MediaKind:
    """Video containers are video; other media is an image, animated when it has more than one frame."""
    if content_type.startswith("video/"):
        return MediaKind.VIDEO
    if frame_count <= 1:
        return MediaKind.IMAGE
    if content_type == "image/gif":
        return MediaKind.ANIMATED_GIF
    return MediaKind.ANIMATED_IMAGE


@dataclass(frozen=True)
class Limits:
    """Bounds on input, checked before decoding and again while decoding."""

    max_input_bytes: int
    max_dimension: int
    max_pixels: int
    max_source_frames: int
    max_duration_s: float

    def narrowed(
        self,
        *,
        max_input_bytes: int = 0,
        max_dimension: int = 0,
        max_pixels: int = 0,
        max_source_frames: int = 0,
        max_duration_s: float = 0.0,
    ) -> Limits:
        """These limits lowered by a request's (0 keeps the server's; raising one is refused)."""
        requested = {
            "max_input_bytes": max_input_bytes,
            "max_dimension": max_dimension,
            "max_pixels": max_pixels,
            "max_source_frames": max_source_frames,
            "max_duration": max_duration_s,
        }
        server = {
            "max_input_bytes": self.max_input_bytes,
            "max_dimension": self.max_dimension,
            "max_pixels": self.max_pixels,
            "max_source_frames": self.max_source_frames,
            "max_duration": self.max_duration_s,
        }
        for name, value in requested.items():
            if value < 0 or value > server[name]:
                raise InvalidArgument(
                    f"limits.{name} must be between 0 (the server's) and the server's limit {server[name]:g}, "
                    f"not {value:g}",
                    field=f"limits.{name}",
                    reason="INVALID_LIMITS",
                    metadata={"limit": name, "max": f"{server[name]:g}"},
                )
        return Limits(
            max_input_bytes=max_input_bytes or self.max_input_bytes,
            max_dimension=max_dimension or self.max_dimension,
            max_pixels=max_pixels or self.max_pixels,
            max_source_frames=max_source_frames or self.max_source_frames,
            max_duration_s=max_duration_s or self.max_duration_s,
        )

    def check_input(self, size: int) -> None:
        if size == 0:
            raise InvalidArgument(
                "the request body is empty: send the media as the body", field="body", reason="EMPTY_BODY"
            )
        if size > self.max_input_bytes:
            raise InvalidArgument(
                f"the media is {size} bytes; the limit max_input_bytes is {self.max_input_bytes} bytes",
                field="body",
                reason="PAYLOAD_TOO_LARGE",
                metadata={"limit": "max_input_bytes", "max": str(self.max_input_bytes), "value": str(size)},
            )

    def check_dimensions(self, width: int, height: int) -> None:
        if width > self.max_dimension or height > self.max_dimension:
            raise dimensions_too_large(width, height, f"the limit max_dimension is {self.max_dimension} px per side")
        if width * height > self.max_pixels:
            raise dimensions_too_large(
                width, height, f"{width * height} pixels per frame; the limit max_pixels is {self.max_pixels}"
            )

    def check_frames(self, frames: int, *, decoding: bool = False) -> None:
        """``frames`` counted in the container, or (``decoding``) the number of frames decoded so far."""
        if frames > self.max_source_frames:
            counted = f"more than {self.max_source_frames}" if decoding else str(frames)
            raise InvalidArgument(
                f"the media has {counted} frames; the limit max_source_frames is {self.max_source_frames}",
                field="body",
                reason="TOO_MANY_FRAMES",
                metadata={"limit": "max_source_frames", "max": str(self.max_source_frames), "value": str(frames)},
            )

    def check_duration(self, duration_s: float) -> None:
        if duration_s > self.max_duration_s:
            raise InvalidArgument(
                f"the media lasts {duration_s:.3f} s; the limit max_duration is {self.max_duration_s:g} s",
                field="body",
                reason="DURATION_TOO_LONG",
                metadata={"limit": "max_duration", "max": f"{self.max_duration_s:g}", "value": f"{duration_s:.3f}"},
            )

    def check(self, info: MediaInfo) -> None:
        self.check_dimensions(info.width, info.height)
        self.check_duration(info.duration_s)
        self.check_frames(info.frame_count)


def dimensions_too_large(width: int, height: int, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"the media is {width}x{height} pixels: {why}",
        field="body",
        reason="DIMENSIONS_TOO_LARGE",
        metadata={"value": f"{width}x{height}"},
    )


# --- output ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameOutput:
    image_format: ImageFormat = ImageFormat.PNG
    max_dimension: int = 0
    jpeg_quality: int = DEFAULT_JPEG_QUALITY

    @classmethod
    def create(cls, image_format: ImageFormat, max_dimension: int = 0, jpeg_quality: int = 0) -> FrameOutput:
        if max_dimension < 0:
            raise InvalidArgument(
                f"output.max_dimension must be 0 (source size) or positive, not {max_dimension}",
                field="output.max_dimension",
                reason="INVALID_OUTPUT_FORMAT",
            )
        if not 0 <= jpeg_quality <= 100:
            raise InvalidArgument(
                f"output.jpeg_quality must be between 1 and 100 (0 for {DEFAULT_JPEG_QUALITY}), not {jpeg_quality}",
                field="output.jpeg_quality",
                reason="INVALID_OUTPUT_FORMAT",
            )
        return cls(image_format, max_dimension, jpeg_quality or DEFAULT_JPEG_QUALITY)

    def size(self, width: int, height: int) -> tuple[int, int]:
        """Output size: the longest side at most ``max_dimension`` (aspect kept, never upscaled)."""
        longest = max(width, height)
        if not self.max_dimension or longest <= self.max_dimension:
            return width, height
        scale = self.max_dimension / longest
        return max(1, round(width * scale)), max(1, round(height * scale))


# --- the use cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """Server-side bounds of the service."""

    limits: Limits
    decode_timeout_s: float
    max_concurrent: int
    queue_timeout_s: float
    max_message_bytes: int


@dataclass(frozen=True)
class ExtractRequest:
    data: bytes
    sampling: Sampling = field(default_factory=Sampling)
    output: FrameOutput = field(default_factory=FrameOutput)
    limits: Limits | None = None


@dataclass(frozen=True)
class Frame:
    index: int
    timestamp_s: float
    image: bytes
    content_type: str
    width: int
    height: int
    sample_index: int


@dataclass(frozen=True)
class Summary:
    frames_sent: int
    frames_decoded: int
    thinned: bool
    step_used: int
    elapsed_s: float


Event = MediaInfo | Frame | Summary


@dataclass(frozen=True)
class _Deadline:
    """When ffmpeg must be stopped (event-loop clock) and which limit that is."""

    at: float
    limit: str
    seconds: float


class FramesService:
    """Probe and extract, bounded by the policy's limits, its time limit and its worker slots."""

    def __init__(self, decoder: MediaDecoder, encoder: FrameEncoder, policy: Policy):
        self._decoder = decoder
        self._encoder = encoder
        self.policy = policy
        self._slots = asyncio.Semaphore(policy.max_concurrent)

    async def probe(
        self, data: bytes, limits: Limits | None = None, *, time_remaining: float | None = None
    ) -> MediaInfo:
        extraction = Extraction(self, ExtractRequest(data, limits=limits), time_remaining)
        async with extraction.session() as (media, deadline):
            return await extraction.probe(media, deadline)

    def extract(self, request: ExtractRequest, *, time_remaining: float | None = None) -> Extraction:
        """One extraction; iterate :meth:`Extraction.events`, call :meth:`Extraction.abort` to stop it."""
        return Extraction(self, request, time_remaining)


class Extraction:
    """One call: a MediaInfo, then the sampled frames as they are decoded, then a Summary."""

    def __init__(self, service: FramesService, request: ExtractRequest, time_remaining: float | None):
        self._service = service
        self._request = request
        loop = asyncio.get_running_loop()
        self._call_deadline = None if time_remaining is None else loop.time() + max(time_remaining, 0.0)
        self._media: OpenMedia | None = None
        self._aborted = False

    def abort(self) -> None:
        """The caller went away: kill the decoder now (safe from any callback, repeatedly)."""
        self._aborted = True
        if self._media is not None:
            self._media.kill()

    @property
    def limits(self) -> Limits:
        return self._request.limits or self._service.policy.limits

    @asynccontextmanager
    async def session(self) -> AsyncIterator[tuple[OpenMedia, _Deadline]]:
        """Input checked, a worker slot held, the media open in the decoder, the deadline set."""
        service, policy = self._service, self._service.policy
        self.limits.check_input(len(self._request.data))
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(service._slots.acquire(), policy.queue_timeout_s)
        except TimeoutError:
            raise ResourceExhausted(
                f"all {policy.max_concurrent} ffmpeg workers are busy; retry later", reason="EXTRACTION_BUSY"
            ) from None
        try:
            # The decode time limit starts with the work; the call's deadline is where the caller put it.
            deadline = _Deadline(loop.time() + policy.decode_timeout_s, "decode_timeout", policy.decode_timeout_s)
            if self._call_deadline is not None and self._call_deadline < deadline.at:
                deadline = _Deadline(self._call_deadline, "call_deadline", self._call_deadline - loop.time())
            async with service._decoder.open(self._request.data) as media:
                self._media = media
                if self._aborted:
                    media.kill()
                try:
                    yield media, deadline
                finally:
                    self._media = None
        finally:
            service._slots.release()

    async def probe(self, media: OpenMedia, deadline: _Deadline) -> MediaInfo:
        try:
            probed = await media.probe(max_pixels=self.limits.max_pixels, deadline=deadline.at)
        except TimeoutError:
            raise _timeout(deadline) from None
        except OversizedFrame as exc:
            self.limits.check_dimensions(exc.width, exc.height)
            raise dimensions_too_large(exc.width, exc.height, "the decoder cannot allocate frames this large") from None
        info = MediaInfo.of(probed, len(self._request.data))
        self.limits.check(info)
        return info

    async def events(self) -> AsyncIterator[Event]:
        started = time.monotonic()
        request = self._request
        async with self.session() as (media, deadline):
            info = await self.probe(media, deadline)
            if info.frame_count == 0:
                raise undecodable("it contains no video frames")
            width, height = request.output.size(info.width, info.height)
            if request.output.image_format is ImageFormat.RGB24:
                self._check_message_size(width * height * 3)
            method = request.sampling.method
            step = info.step(method) if isinstance(method, StepSampling) else 0
            selector = FrameSelector(
                request.sampling, expected_frames=info.frame_count, duration_s=info.duration_s, step=step
            )
            yield info

            held: DecodedFrame | None = None
            decoded = 0
            frames = media.frames(
                width=width,
                height=height,
                max_pixels=self.limits.max_pixels,
                deadline=deadline.at,
                pixels_for=selector.pixels_needed,
            )
            try:
                async for frame in frames:
                    decoded += 1
                    self.limits.check_frames(frame.index + 1, decoding=True)
                    self.limits.check_duration(frame.timestamp_s)
                    if selector.offer(frame.index, frame.timestamp_s):
                        yield await self._frame(frame, selector.sent - 1)
                    held = frame
            except TimeoutError:
                raise _timeout(deadline) from None
            finally:
                await frames.aclose()
            if held is None:
                raise undecodable("no frame could be decoded")
            if selector.offer_last(held.index):
                yield await self._frame(held, selector.sent - 1)
            elapsed = time.monotonic() - started
            log.info(
                "frames.extracted",
                kind=info.kind.value,
                container=info.container,
                frames_decoded=decoded,
                frames_sent=selector.sent,
                elapsed_s=round(elapsed, 3),
            )
            yield Summary(
                frames_sent=selector.sent,
                frames_decoded=decoded,
                thinned=selector.thinned,
                step_used=selector.step_used,
                elapsed_s=elapsed,
            )

    async def _frame(self, frame: DecodedFrame, sample_index: int) -> Frame:
        if not frame.rgb:  # the decoder left out pixels the selector's plan asked for: a decoder bug
            raise Internal(f"frame {frame.index} came without its pixels", reason="FFMPEG_FAILED")
        output = self._request.output
        image = await asyncio.to_thread(
            self._service._encoder.encode, frame, output.image_format, jpeg_quality=output.jpeg_quality
        )
        self._check_message_size(len(image))
        return Frame(
            index=frame.index,
            timestamp_s=frame.timestamp_s,
            image=image,
            content_type=output.image_format.content_type,
            width=frame.width,
            height=frame.height,
            sample_index=sample_index,
        )

    def _check_message_size(self, size: int) -> None:
        limit = self._service.policy.max_message_bytes - _MESSAGE_OVERHEAD
        if size > limit:
            raise InvalidArgument(
                f"an encoded frame takes {size} bytes, more than one message may carry ({limit}): "
                "set output.max_dimension or choose JPEG",
                field="output.max_dimension",
                reason="FRAME_TOO_LARGE",
                metadata={"limit": "max_message_bytes", "max": str(limit), "value": str(size)},
            )


def _timeout(deadline: _Deadline) -> DeadlineExceeded:
    if deadline.limit == "call_deadline":
        message = f"the call's deadline ({deadline.seconds:.3f} s left at the start) passed: ffmpeg was stopped"
    else:
        message = f"extraction took longer than the decode time limit of {deadline.seconds:g} s: ffmpeg was stopped"
    return DeadlineExceeded(
        message, reason="EXTRACTION_TIMEOUT", metadata={"limit": deadline.limit, "max": f"{deadline.seconds:g}"}
    )


__all__ = [
    "DEFAULT_GIF_STEP",
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_VIDEO_STEP",
    "Event",
    "ExtractRequest",
    "Extraction",
    "Frame",
    "FrameOutput",
    "FrameSelector",
    "FramesService",
    "ImageFormat",
    "Limits",
    "MediaInfo",
    "MediaKind",
    "Policy",
    "Sampling",
    "Summary",
    "interval_targets",
    "media_kind",
    "sample_indices",
    "thin",
]
