"""Time every rendition of a ~500 KB photographic GIF and a 10-s 640x360 H.264 video, one at a time.

Usage: `python -m bench.renditions [--gif PATH] [--threads N]` — prints a Markdown table per source:
rendition, size, bytes, seconds (best of three), and the source-to-MP4 size ratio. ``--gif`` measures a
GIF of your own instead of the generated one.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from clearframe_runtime.ffmpeg import default_ffmpeg
from services.sharelinks.adapters.renditions import RENDITIONS, FfmpegRenditionMaker
from tests.media_samples import panning_gif, panning_video

ROUNDS = 3


async def measure(maker: FfmpegRenditionMaker, title: str, data: bytes, content_type: str) -> None:
    print(f"\n### {title} ({len(data) / 1000:.0f} KB, {content_type})\n")
    print("| rendition | size | bytes | s |")
    print("|---|---|---:|---:|")
    total = 0.0
    mp4_bytes = 0
    for spec in RENDITIONS:
        best = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            out = await maker.make(data, content_type, spec)
            best = min(best, time.perf_counter() - start)
        total += best
        mp4_bytes = len(out.data) if spec.name == "mp4" else mp4_bytes
        print(f"| {spec.name} | {out.width}x{out.height} | {len(out.data)} | {best:.2f} |")
    start = time.perf_counter()
    preview = await maker.blurred_preview(data, content_type)
    print(f"| blurred preview | {preview.width}x{preview.height} | {len(preview.data)} | ", end="")
    print(f"{time.perf_counter() - start:.2f} |")
    print(f"\nAll six renditions: {total:.2f} s. Source / MP4 bytes: {len(data) / mp4_bytes:.1f}x.")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gif", type=Path, help="a GIF to measure instead of the generated one")
    parser.add_argument("--threads", type=int, default=1, help="ffmpeg threads per rendition")
    args = parser.parse_args()
    maker = FfmpegRenditionMaker(default_ffmpeg(), threads=args.threads)
    gif = args.gif.read_bytes() if args.gif else panning_gif()
    await measure(maker, str(args.gif.name) if args.gif else "GIF, a pan across a photo", gif, "image/gif")
    with tempfile.TemporaryDirectory() as folder:
        clip = panning_video(Path(folder) / "clip.mp4", seconds=10, fps=30, size=(640, 360))
    await measure(maker, "MP4, 10 s at 30 fps, 640x360", clip, "video/mp4")


if __name__ == "__main__":
    asyncio.run(main())
