"""Settings of the frames service (environment, prefix CLEARFRAME_; its own ones CLEARFRAME_FRAMES_…)."""

from __future__ import annotations

import os

from pydantic import Field

from clearframe_runtime import topology
from clearframe_runtime.settings import ServiceSettings

#: ffmpeg demuxers read by default: GIF, APNG, animated and still WebP, PNG, JPEG, MP4/MOV, Matroska/WebM,
#: AVI. Everything else (ffmpeg also reads text as "tty" video, playlists, raw streams …) is refused.
DEFAULT_FORMATS = "gif,apng,webp_anim,webp_pipe,png_pipe,jpeg_pipe,mov,matroska,avi"


class FramesSettings(ServiceSettings):
    listen: str = topology.local_address("frames")
    #: ffmpeg binary; empty: the static build that ships in the imageio-ffmpeg wheel.
    frames_ffmpeg_path: str = ""
    #: Largest input accepted, in bytes (CLEARFRAME_FRAMES_MAX_INPUT_BYTES).
    frames_max_input_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    #: Largest width and largest height, in pixels.
    frames_max_dimension: int = Field(default=8192, gt=0)
    #: Largest width x height of one frame (decompression bombs); ffmpeg's decoders are held to it too.
    frames_max_pixels: int = Field(default=40_000_000, gt=0)
    #: Most frames in the source.
    frames_max_source_frames: int = Field(default=10_000, gt=0)
    #: Longest duration of the source, in seconds.
    frames_max_duration_s: float = Field(default=600.0, gt=0)
    #: Wall time one call's ffmpeg work (probe and decode) may take; ffmpeg is killed when it runs out.
    frames_decode_timeout_s: float = Field(default=60.0, gt=0)
    #: ffmpeg processes run at once; further calls wait for a slot.
    frames_max_concurrent: int = Field(default_factory=lambda: os.cpu_count() or 2, gt=0)
    #: How long a call waits for a slot before it gets RESOURCE_EXHAUSTED (EXTRACTION_BUSY).
    frames_queue_timeout_s: float = Field(default=10.0, ge=0)
    #: Comma list of ffmpeg demuxer names that may read input.
    frames_allowed_formats: str = DEFAULT_FORMATS
