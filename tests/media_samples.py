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
    raw = np.stack([np.asarray(photo(PHOTOS[i % len(PHOTOS)]).resize(size)) for i in range(frames)])
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
