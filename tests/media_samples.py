"""Real media for the tests, made from photos that ship with scikit-image (no downloads)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image
from skimage import data as samples

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "cat")


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(samples, name)()).convert("RGB")


def encoded(name: str, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    photo(name).save(buffer, fmt, **options)
    return buffer.getvalue()


def animated_gif(frames: int, size: tuple[int, int] = (160, 120)) -> bytes:
    """A GIF of `frames` frames cycling through the sample photos."""
    images = [photo(PHOTOS[i % len(PHOTOS)]).resize(size) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return buffer.getvalue()


def video(
    path: Path,
    frames: int = 45,
    fps: int = 15,
    size: tuple[int, int] = (160, 120),
    codec: str = "mpeg4",
    container: str = "mp4",
) -> bytes:
    """A short clip through ffmpeg (moov atom at the end: the mp4 muxer's default)."""
    images = [photo(PHOTOS[i % len(PHOTOS)]).resize(size) for i in range(frames)]
    return _encode(images, path, fps, codec, container)


def panning(frames: int, size: tuple[int, int], name: str = "astronaut") -> list[Image.Image]:
    """A camera pan across a sample photo: neighbouring frames share most of their pixels, as in real
    footage (what GIF and H.264 sizes depend on; cycling unrelated photos is a cut on every frame)."""
    width, height = size
    base = photo(name).resize((width + width // 2, height + height // 2))
    span = max(frames - 1, 1)
    boxes = ((i * (width // 2) // span, i * (height // 2) // span) for i in range(frames))
    return [base.crop((x, y, x + width, y + height)) for x, y in boxes]


def panning_gif(frames: int = 12, size: tuple[int, int] = (288, 216)) -> bytes:
    """A photographic GIF (about 500 KB at the defaults), 50 ms a frame."""
    images = panning(frames, size)
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=50, loop=0)
    return buffer.getvalue()


def panning_video(path: Path, seconds: float = 10, fps: int = 30, size: tuple[int, int] = (640, 360)) -> bytes:
    """An H.264 MP4 of a pan (moov atom at the end)."""
    return _encode(panning(round(seconds * fps), size), path, fps, "libx264", "mp4")


def _encode(images: list[Image.Image], path: Path, fps: int, codec: str, container: str) -> bytes:
    size = images[0].size
    raw = np.stack([np.asarray(image) for image in images])
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{size[0]}x{size[1]}",
        "-r",
        str(fps),
        "-i",
        "pipe:0",
        "-c:v",
        codec,
        "-pix_fmt",
        "yuv420p",
        "-f",
        container,
        str(path),
    ]
    subprocess.run(command, input=raw.tobytes(), check=True, timeout=120)
    return path.read_bytes()


def sample_indices(total: int, step: int, cap: int = 60) -> list[int]:
    """The seed's rule: first and last frame, every `step`-th in between, at most `cap`."""
    if total <= 0:
        return []
    indices = sorted({0, total - 1, *range(0, total, step)})
    return indices[:cap] if len(indices) <= cap else indices
