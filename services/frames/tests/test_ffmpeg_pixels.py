"""The ffmpeg decoder with ``pixels_for`` on real media: every frame's facts still come, only the asked
frames (and the last) carry pixels, the same pixels a full decode gives, and a last frame nobody asked
for is decoded again rather than sent without them."""

from __future__ import annotations

import asyncio

import pytest

from clearframe_runtime.ffmpeg import default_ffmpeg
from services.frames.adapters.ffmpeg import FfmpegDecoder
from services.frames.ports import DecodedFrame
from services.frames.settings import DEFAULT_FORMATS
from tests.media_samples import animated_gif, video


async def decode(data: bytes, pixels_for: frozenset[int] | None) -> list[DecodedFrame]:
    decoder = FfmpegDecoder(default_ffmpeg(), allowed_formats=DEFAULT_FORMATS.split(","))
    async with decoder.open(data) as media:
        deadline = asyncio.get_running_loop().time() + 60
        return [
            frame
            async for frame in media.frames(
                width=160, height=120, max_pixels=10**7, deadline=deadline, pixels_for=pixels_for
            )
        ]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return video(tmp_path_factory.mktemp("pixels") / "clip.mp4", frames=45, codec="libx264")


@pytest.mark.parametrize("kind", ["mp4", "gif"])
async def test_only_the_asked_frames_and_the_last_carry_the_same_pixels(kind: str, clip: bytes) -> None:
    data = clip if kind == "mp4" else animated_gif(23)
    full = await decode(data, None)
    asked = frozenset({0, 5, 10, 15, 20})
    some = await decode(data, asked)
    assert [(f.index, f.timestamp_s) for f in some] == [(f.index, f.timestamp_s) for f in full]
    last = full[-1].index
    with_pixels = {f.index for f in some if f.rgb}
    assert with_pixels == asked | {last}  # the last is decoded again: nobody asked for it
    assert all(f.rgb == full[f.index].rgb for f in some if f.rgb)
    assert all(len(f.rgb) == 160 * 120 * 3 for f in full)


async def test_nothing_asked_still_gives_every_frames_facts_and_the_last_frame(clip: bytes) -> None:
    frames = await decode(clip, frozenset())
    assert len(frames) == 45 and [f.index for f in frames if f.rgb] == [44]
