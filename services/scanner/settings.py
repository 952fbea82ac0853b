"""Settings of the scanner service (environment, prefix CLEARFRAME_)."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field

from clearframe_runtime import topology
from clearframe_runtime.settings import ServiceSettings
from services.scanner.domain.scans import ScanLimits

HERE = Path(__file__).resolve().parent


class ScannerSettings(ServiceSettings):
    listen: str = topology.local_address("scanner")
    #: Triton's gRPC address.
    triton_url: str = topology.triton_grpc_address()
    #: The frames and config services.
    frames_url: str = topology.local_address("frames")
    config_url: str = topology.local_address("config")
    #: The analyzer list (the seed's modules.cfg), hot-reloaded.
    scanner_modules_cfg: Path = HERE / "modules.cfg"
    #: Hash banks of known-bad media (one file per bank; see the README).
    scanner_hash_banks: Path = Path("var/data/hashbanks")
    #: Where /check keeps the downscaled copy of each image (the seed's image_storage module).
    scanner_image_store: Path = Path("var/data/scanner-images")
    #: Limits: still images (seed: 10 MiB), GIF/video (seed: 25 MiB), decoded pixels of a still image.
    scanner_max_image_bytes: int = 10 * 1024 * 1024
    scanner_max_media_bytes: int = 25 * 1024 * 1024
    scanner_max_pixels: int = 50_000_000
    #: Seed sampling: first, last and every Nth frame; at most this many frames.
    scanner_gif_step: int = 5
    scanner_video_step: int = 20
    scanner_max_frames: int = 60
    #: Stop reading frames once a frame's risk reaches this (the seed's hard limit: 1.0).
    scanner_hard_limit: float = 1.0
    #: Frames analyzed per Triton batch.
    scanner_batch_size: int = 8
    #: Batches of one GIF/video analyzed at once (the next starts while one waits for age or a slower model).
    scanner_batches_in_flight: int = Field(default=2, ge=1)
    #: Deadline of one scan.
    scanner_timeout_s: float = 60.0
    #: This instance's name on the scans it runs ("" → host name and listen address): a restart under the
    #: same name finishes (FAILED) the background scans the previous process left RUNNING.
    scanner_instance: str = ""
    #: Another instance's RUNNING scan older than this is taken as orphaned and finished FAILED at start.
    scanner_orphan_after_s: float = 600.0
    #: Triton calls: deadline, retries on UNAVAILABLE, first backoff.
    triton_timeout_s: float = 10.0
    triton_retries: int = 2
    triton_backoff_s: float = 0.1
    #: Input tensors through system shared memory (/dev/shm): only for a Triton on the same host (`make run`).
    triton_shared_memory: bool = False

    def limits(self) -> ScanLimits:
        return ScanLimits(
            max_image_bytes=self.scanner_max_image_bytes,
            max_media_bytes=self.scanner_max_media_bytes,
            max_pixels=self.scanner_max_pixels,
            gif_step=self.scanner_gif_step,
            video_step=self.scanner_video_step,
            max_frames=self.scanner_max_frames,
            timeout_s=self.scanner_timeout_s,
            orphan_after_s=self.scanner_orphan_after_s,
        )

    def instance(self) -> str:
        return self.scanner_instance or f"{socket.gethostname()}/{self.listen}"
