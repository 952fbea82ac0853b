"""What the frames logic needs from the outside: a media decoder (ffmpeg) and an image encoder (Pillow).

Adapters raise :mod:`clearframe_runtime.errors` for media they cannot read (with the reasons the
contract lists), :class:`OversizedFrame` when the decoder refuses a frame's size, and the built-in
:class:`TimeoutError` when the deadline they were given passed; they never leave a decoder process
running behind them.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from clearframe_runtime.errors import InvalidArgument


class ImageFormat(enum.Enum):
    """Encoding of an extracted frame."""

    PNG = "image/png"
    JPEG = "image/jpeg"
    RGB24 = "application/octet-stream"

    @property
    def content_type(self) -> str:
        return self.value


class OversizedFrame(Exception):
    """The decoder refused to allocate a frame this large (the limits say why)."""

    def __init__(self, width: int, height: int):
        super().__init__(f"{width}x{height}")
        self.width = width
        self.height = height


def undecodable(detail: str) -> InvalidArgument:
    """The error for media the decoder could not read: truncated or corrupt data (MEDIA_UNDECODABLE)."""
    return InvalidArgument(f"the media is truncated or corrupt: {detail}", field="body", reason="MEDIA_UNDECODABLE")


@dataclass(frozen=True)
class ProbedMedia:
    """What the decoder read from the container, without decoding frames."""

    #: Demuxer name as ffmpeg reports it, e.g. "gif", "mov,mp4,m4a,3gp,3g2,mj2".
    container: str
    #: Codec of the first video stream, e.g. "gif", "h264".
    codec: str
    width: int
    height: int
    #: Frames (packets) of the first video stream.
    frame_count: int
    #: Seconds; 0 when unknown.
    duration_s: float
    #: Frame rate the container declares; 0 when unknown.
    declared_fps: float
    has_audio: bool
    #: Content type derived from the container, e.g. "image/gif", "video/mp4".
    content_type: str


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame as packed 8-bit RGB."""

    #: 0-based index of the frame in the source.
    index: int
    #: Presentation time from the start, in seconds.
    timestamp_s: float
    #: Packed RGB24 pixels; empty for a frame whose pixels were not asked for (``OpenMedia.frames``).
    rgb: bytes
    width: int
    height: int


class OpenMedia(Protocol):
    """Media the decoder holds (in memory) for the duration of one call."""

    async def probe(self, *, max_pixels: int, deadline: float) -> ProbedMedia:
        """Read the container's facts; ``deadline`` is on the event loop's clock."""
        ...

    def frames(
        self,
        *,
        width: int,
        height: int,
        max_pixels: int,
        deadline: float,
        pixels_for: frozenset[int] | None = None,
    ) -> AsyncGenerator[DecodedFrame, None]:
        """Decode every frame, scaled to ``width`` x ``height``, in presentation order, as it is decoded.

        ``pixels_for``: the indices of the frames whose pixels are needed (None: all); the others come with
        empty ``rgb``, except the last frame, which always carries its pixels."""
        ...

    def kill(self) -> None:
        """Stop any decoding at once (the caller went away). Safe to call at any time, repeatedly."""
        ...


class MediaDecoder(Protocol):
    def open(self, data: bytes) -> AbstractAsyncContextManager[OpenMedia]:
        """Hold ``data`` for probing and decoding; everything is released on exit."""
        ...


class FrameEncoder(Protocol):
    def encode(self, frame: DecodedFrame, image_format: ImageFormat, *, jpeg_quality: int) -> bytes:
        """Encode one frame (CPU-bound: the caller runs it in a worker thread)."""
        ...
