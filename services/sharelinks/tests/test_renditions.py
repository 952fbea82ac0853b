"""The ffmpeg rendition maker on real media: every rendition of a GIF, an MP4 and a PNG decodes, has the
promised codec, size and layout; the other source formats convert; bad input fails cleanly; the time
limit and cancellation leave no ffmpeg behind."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from clearframe_runtime.errors import DeadlineExceeded
from clearframe_runtime.ffmpeg import default_ffmpeg
from services.sharelinks.adapters.renditions import RENDITIONS, FfmpegRenditionMaker
from services.sharelinks.ports import RenditionFailed, RenditionOutput, RenditionSpec
from tests.media_samples import animated_gif, encoded, panning, panning_gif, panning_video, photo, video

FFMPEG = default_ffmpeg()
SPECS = {spec.name: spec for spec in RENDITIONS}


@dataclass(frozen=True)
class Source:
    data: bytes
    content_type: str
    width: int
    height: int
    frames: int


@dataclass(frozen=True)
class Probed:
    """What ffmpeg reads back from a produced file (decoded to the end)."""

    codec: str
    pixel_format: str
    width: int
    height: int
    frames: int
    errors: list[str]


_STREAM = re.compile(r"Stream #0:0\S*: Video: (?P<codec>\w+)[^,]*, (?P<pix>\w+)(?:\([^)]*\))?, (?P<w>\d+)x(?P<h>\d+)")
_FRAMES = re.compile(r"frame=\s*(\d+)")


def probe(data: bytes, tmp_path: Path, name: str) -> Probed:
    path = tmp_path / name
    path.write_bytes(data)
    result = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "level+info", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    stream = _STREAM.search(result.stderr)
    assert stream is not None, result.stderr[-2000:]
    frames = _FRAMES.findall(result.stderr)
    errors = [line for line in result.stderr.splitlines() if re.search(r"\[(error|fatal|panic)\]", line)]
    return Probed(stream["codec"], stream["pix"], int(stream["w"]), int(stream["h"]), int(frames[-1]), errors)


def top_level_boxes(mp4: bytes) -> list[str]:
    boxes, offset = [], 0
    while offset + 8 <= len(mp4):
        size = int.from_bytes(mp4[offset : offset + 4], "big")
        boxes.append(mp4[offset + 4 : offset + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(mp4[offset + 8 : offset + 16], "big")
        elif size == 0:
            break
        offset += size
    return boxes


def gif_with_transparency() -> bytes:
    """An odd-sized animated GIF whose corners are transparent."""
    frames = []
    for image in panning(8, (161, 121)):
        rgba = image.convert("RGBA")
        pixels = np.asarray(rgba).copy()
        pixels[:20, :20, 3] = 0
        frames.append(Image.fromarray(pixels, "RGBA"))
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0, disposal=2)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def sources(media_dir: Path) -> dict[str, Source]:
    png = photo("coffee").resize((301, 211))  # odd sides, taller than 200
    png_buffer = io.BytesIO()
    png.save(png_buffer, "PNG")
    return {
        "gif": Source(gif_with_transparency(), "image/gif", 161, 121, 8),
        "mp4": Source(video(media_dir / "clip.mp4", frames=30, size=(320, 240)), "video/mp4", 320, 240, 30),
        "png": Source(png_buffer.getvalue(), "image/png", 301, 211, 1),
    }


@pytest.fixture(scope="module")
def long_video(media_dir: Path) -> bytes:
    return panning_video(media_dir / "long.mp4", seconds=10, fps=30, size=(640, 360))


@pytest.fixture
def maker() -> FfmpegRenditionMaker:
    return FfmpegRenditionMaker(FFMPEG)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The maker's temporary directories go here, so a test can see that none is left."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield root


def our_ffmpeg_children() -> list[int]:
    """ffmpeg processes this test process started that still exist (running or not yet reaped)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm, _, rest = stat.partition("(")[2].rpartition(")")
        ppid = int(rest.split()[1])
        if ppid == os.getpid() and comm.startswith("ffmpeg"):
            found.append(int(entry.name))
    return found


def wait_for_ffmpeg(limit_s: float = 30) -> None:
    deadline = time.monotonic() + limit_s
    while not our_ffmpeg_children():
        assert time.monotonic() < deadline, "ffmpeg never started"
        time.sleep(0.01)


def leftovers(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def duration_s(mp4: bytes, tmp_path: Path) -> float:
    (tmp_path / "d.mp4").write_bytes(mp4)
    log = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(tmp_path / "d.mp4")], capture_output=True, text=True, timeout=60, check=False
    )
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", log.stderr)
    assert duration is not None, log.stderr
    return int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3])


def expected_height(source: Source, spec: RenditionSpec) -> int:
    height = source.height if spec.height is None else min(spec.height, source.height)
    return height - height % 2 if spec.kind == "mp4" else height


# --- every rendition of a GIF, an MP4 and a PNG ---------------------------------------------------------


@pytest.mark.parametrize("spec_name", list(SPECS))
@pytest.mark.parametrize("source_name", ["gif", "mp4", "png"])
async def test_every_rendition_decodes_with_the_promised_codec_and_size(
    maker: FfmpegRenditionMaker, sources: dict[str, Source], source_name: str, spec_name: str, tmp_path: Path
) -> None:
    source, spec = sources[source_name], SPECS[spec_name]
    out = await maker.make(source.data, source.content_type, spec)
    probed = probe(out.data, tmp_path, spec.name)

    assert out.name == spec.name
    assert probed.errors == []
    assert (out.width, out.height) == (probed.width, probed.height)
    assert out.height == expected_height(source, spec)
    # The aspect ratio is kept to a pixel (two for the even-sided MP4).
    slack = 2 if spec.kind == "mp4" else 1
    assert abs(out.width - out.height * source.width / source.height) <= slack
    if spec.kind == "mp4":
        assert out.content_type == "video/mp4"
        assert (probed.codec, probed.pixel_format) == ("h264", "yuv420p")
        assert out.width % 2 == 0 and out.height % 2 == 0
        boxes = top_level_boxes(out.data)
        assert boxes.index("moov") < boxes.index("mdat")  # +faststart: playable before it is all loaded
        assert probed.frames == source.frames
    elif spec.kind == "webp":
        assert out.content_type == "image/webp"
        assert out.data[:4] == b"RIFF" and out.data[8:12] == b"WEBP"
        assert probed.codec in ("webp", "webp_anim")  # ffmpeg names an animated WebP's decoder webp_anim
        with Image.open(io.BytesIO(out.data)) as image:
            assert image.size == (out.width, out.height)
            animated_frames = getattr(image, "n_frames", 1)
            if source.content_type.startswith("video/"):  # resampled to VIDEO_WEBP_FPS: fewer, still moving
                assert 1 < animated_frames < source.frames
            else:
                assert animated_frames == source.frames
    else:
        assert out.content_type == "image/jpeg"
        assert probed.codec == "mjpeg"
        assert probed.frames == 1
        with Image.open(io.BytesIO(out.data)) as image:
            assert (image.format, image.size) == ("JPEG", (out.width, out.height))


async def test_mp4_keeps_the_source_frame_times(
    maker: FfmpegRenditionMaker, sources: dict[str, Source], tmp_path: Path
) -> None:
    gif = sources["gif"]
    out = await maker.make(gif.data, gif.content_type, SPECS["mp4"])
    # 8 frames of 80 ms each.
    assert duration_s(out.data, tmp_path) == pytest.approx(0.64, abs=0.05)


async def test_a_gifs_mp4_is_several_times_smaller(maker: FfmpegRenditionMaker) -> None:
    gif = panning_gif()
    out = await maker.make(gif, "image/gif", SPECS["mp4"])
    assert len(out.data) * 5 < len(gif)


async def test_the_poster_is_the_first_frame(maker: FfmpegRenditionMaker) -> None:
    # Each frame is a different photo: the poster must look like the first, not like the second.
    gif = animated_gif(2, (160, 120))
    out = await maker.make(gif, "image/gif", SPECS["poster"])
    poster = np.asarray(Image.open(io.BytesIO(out.data)).convert("RGB"), dtype=np.float64)
    first, second = (np.asarray(photo(name).resize((160, 120)), dtype=np.float64) for name in ("astronaut", "coffee"))
    assert np.abs(poster - first).mean() < 12 < np.abs(poster - second).mean()


def png_with_transparency(hidden: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A photo whose corner is transparent, of a colour that must not show."""
    pixels = np.asarray(photo("chelsea").resize((201, 151)).convert("RGBA")).copy()
    pixels[:20, :20] = (*hidden, 0)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buffer, "PNG")
    return buffer.getvalue()


def first_frame(mp4: bytes, tmp_path: Path) -> bytes:
    """The MP4's first frame as PNG."""
    (tmp_path / "in.mp4").write_bytes(mp4)
    command = [FFMPEG, "-v", "error", "-i", str(tmp_path / "in.mp4"), "-frames:v", "1", "-update", "1"]
    subprocess.run([*command, str(tmp_path / "1.png")], check=True, timeout=60)
    return (tmp_path / "1.png").read_bytes()


def rgb_at(image_file: bytes, x: int, y: int) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(image_file)) as image:
        pixel = image.convert("RGB").getpixel((x, y))
    assert isinstance(pixel, tuple)
    return int(pixel[0]), int(pixel[1]), int(pixel[2])


def pixels(image_file: bytes) -> npt.NDArray[np.float64]:
    with Image.open(io.BytesIO(image_file)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64)


def alpha_at(image_file: bytes, x: int, y: int) -> int:
    with Image.open(io.BytesIO(image_file)) as image:
        pixel = image.convert("RGBA").getpixel((x, y))
    assert isinstance(pixel, tuple)
    return int(pixel[3])


@pytest.mark.parametrize("source_name", ["gif", "transparent-png"])
async def test_transparency_lies_on_white_in_mp4_and_poster_and_stays_in_webp(
    maker: FfmpegRenditionMaker, sources: dict[str, Source], tmp_path: Path, source_name: str
) -> None:
    source = sources["gif"] if source_name == "gif" else Source(png_with_transparency(), "image/png", 201, 151, 1)
    poster = await maker.make(source.data, source.content_type, SPECS["poster"])
    assert min(rgb_at(poster.data, 3, 3)) >= 245

    mp4 = await maker.make(source.data, source.content_type, SPECS["mp4"])
    assert min(rgb_at(first_frame(mp4.data, tmp_path), 3, 3)) >= 245

    if source_name == "transparent-png":
        # Blurred, the hidden colour would spread over the corner: red and white behind it look alike.
        over_red = await maker.blurred_preview(source.data, source.content_type)
        over_white = await maker.blurred_preview(png_with_transparency((255, 255, 255)), "image/png")
        difference = np.abs(pixels(over_red.data) - pixels(over_white.data))
        assert difference.max() < 10

    webp = await maker.make(source.data, source.content_type, SPECS["webp"])
    assert alpha_at(webp.data, 3, 3) == 0


# --- the other source formats ---------------------------------------------------------------------------


def _animated(fmt: str, **options: object) -> bytes:
    frames = panning(5, (180, 120))
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content_type", "make_source", "frames"),
    [
        ("image/jpeg", lambda _: encoded("chelsea", "JPEG", quality=90), 1),
        ("image/webp", lambda _: encoded("chelsea", "WEBP", quality=80), 1),
        ("image/webp", lambda _: _animated("WEBP", quality=80), 5),
        ("image/apng", lambda _: _animated("PNG"), 5),
        ("video/webm", lambda path: video(path / "clip.webm", frames=12, codec="libvpx-vp9", container="webm"), 12),
    ],
    ids=["jpeg", "still-webp", "animated-webp", "apng", "webm"],
)
async def test_other_sources_convert_with_their_frames(
    maker: FfmpegRenditionMaker, tmp_path: Path, content_type: str, make_source: Callable[[Path], bytes], frames: int
) -> None:
    data = make_source(tmp_path)
    for name in ("mp4-200", "webp"):
        out = await maker.make(data, content_type, SPECS[name])
        probed = probe(out.data, tmp_path, name)
        assert probed.errors == []
        if name == "mp4-200":
            assert (probed.codec, probed.frames) == ("h264", frames)
        else:
            with Image.open(io.BytesIO(out.data)) as image:
                animated_frames = getattr(image, "n_frames", 1)
                if content_type.startswith("video/"):
                    assert 1 < animated_frames < frames
                else:
                    assert animated_frames == frames


@pytest.mark.parametrize(
    ("size", "mp4_200", "webp_200"),
    [((1, 1), (2, 2), (1, 1)), ((1, 500), (2, 200), (1, 200)), ((3000, 1), (3000, 2), (3000, 1))],
)
async def test_degenerate_sizes_still_give_every_rendition_and_no_upscaling(
    maker: FfmpegRenditionMaker,
    tmp_path: Path,
    size: tuple[int, int],
    mp4_200: tuple[int, int],
    webp_200: tuple[int, int],
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, "PNG")
    outputs = {spec.name: await maker.make(buffer.getvalue(), "image/png", spec) for spec in RENDITIONS}
    outputs["blurred"] = await maker.blurred_preview(buffer.getvalue(), "image/png")
    for name, out in outputs.items():
        probed = probe(out.data, tmp_path, name)
        assert (probed.width, probed.height) == (out.width, out.height)
    assert (outputs["mp4-200"].width, outputs["mp4-200"].height) == mp4_200
    assert (outputs["webp-200"].width, outputs["webp-200"].height) == webp_200
    assert (outputs["poster"].width, outputs["poster"].height) == size


# --- the blurred preview --------------------------------------------------------------------------------


def _detail(image: Image.Image) -> float:
    """Mean difference of neighbouring pixels (grey): what edges, faces and text are made of."""
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


@pytest.mark.parametrize(("content_type", "data"), [("image/png", encoded("astronaut")), ("image/gif", None)])
async def test_the_blurred_preview_is_small_and_has_no_detail_left(
    maker: FfmpegRenditionMaker, sources: dict[str, Source], content_type: str, data: bytes | None
) -> None:
    data = data if data is not None else sources["gif"].data
    out = await maker.blurred_preview(data, content_type)
    assert out.content_type == "image/jpeg"
    with Image.open(io.BytesIO(out.data)) as image:
        assert image.format == "JPEG"
        assert image.size == (out.width, out.height)
        assert out.height <= 320
        sharp = Image.open(io.BytesIO(data)).convert("RGB").resize(image.size)
        assert _detail(image) * 10 < _detail(sharp)


# --- review frames (unblurred) --------------------------------------------------------------------------


def _difference(a: Image.Image, b: Image.Image) -> float:
    pixels_a = np.asarray(a.convert("RGB"), dtype=np.float64)
    pixels_b = np.asarray(b.convert("RGB"), dtype=np.float64)
    return float(np.abs(pixels_a - pixels_b).mean())


async def test_review_frames_are_the_source_frames_by_index(maker: FfmpegRenditionMaker) -> None:
    gif = animated_gif(4)
    with Image.open(io.BytesIO(gif)) as source:
        frames = []
        for index in range(4):
            source.seek(index)
            frames.append(source.convert("RGB"))
    for index in range(4):
        out = await maker.review_frame(gif, "image/gif", index)
        assert out.content_type == "image/jpeg"
        with Image.open(io.BytesIO(out.data)) as image:
            assert image.format == "JPEG" and image.size == frames[index].size == (out.width, out.height)
            distances = [_difference(image, frame) for frame in frames]
            # Unblurred and the right one: close to its own frame (JPEG noise only), far from the others.
            assert distances.index(min(distances)) == index and distances[index] < 8, distances


async def test_a_video_review_frame_is_its_frame_at_most_1280_px(maker: FfmpegRenditionMaker, media_dir: Path) -> None:
    clip = video(media_dir / "review.mp4", frames=6, size=(1600, 1200))
    first = await maker.review_frame(clip, "video/mp4", 0)
    second = await maker.review_frame(clip, "video/mp4", 1)
    assert (first.width, first.height) == (1280, 960) == (second.width, second.height)
    with Image.open(io.BytesIO(first.data)) as a, Image.open(io.BytesIO(second.data)) as b:
        assert _difference(a, b) > 20  # frames 0 and 1 show different photos
    with pytest.raises(RenditionFailed):
        await maker.review_frame(clip, "video/mp4", 6)  # past the last frame: no output
    with pytest.raises(ValueError, match="frame_index"):
        await maker.review_frame(clip, "video/mp4", -1)


# --- bad input, time limit, cancellation ----------------------------------------------------------------


@pytest.mark.parametrize("spec_name", ["mp4", "webp"])
async def test_a_truncated_gif_fails(maker: FfmpegRenditionMaker, sources: dict[str, Source], spec_name: str) -> None:
    gif = sources["gif"].data
    with pytest.raises(RenditionFailed, match="rendition failed"):
        async with asyncio.timeout(60):  # failing means failing, not hanging
            await maker.make(gif[: len(gif) // 2], "image/gif", SPECS[spec_name])


async def test_a_gif_cut_inside_its_first_frame_has_no_poster(
    maker: FfmpegRenditionMaker, sources: dict[str, Source]
) -> None:
    with pytest.raises(RenditionFailed):
        await maker.make(sources["gif"].data[:900], "image/gif", SPECS["poster"])


@pytest.mark.parametrize("content_type", ["image/gif", "image/png", "image/webp", "video/mp4", "video/webm"])
@pytest.mark.parametrize("spec_name", ["mp4", "webp", "poster"])
async def test_random_bytes_fail(maker: FfmpegRenditionMaker, content_type: str, spec_name: str) -> None:
    noise = np.random.default_rng(7).bytes(20_000)
    with pytest.raises(RenditionFailed):
        async with asyncio.timeout(60):
            await maker.make(noise, content_type, SPECS[spec_name])


async def test_media_under_a_content_type_that_is_not_its_own_fails(
    maker: FfmpegRenditionMaker, sources: dict[str, Source]
) -> None:
    # Only the demuxers of the declared type may read the source.
    with pytest.raises(RenditionFailed, match="whitelist"):
        await maker.make(sources["png"].data, "image/gif", SPECS["poster"])


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", ""])
async def test_no_renditions_of_other_content_types(
    maker: FfmpegRenditionMaker, sources: dict[str, Source], content_type: str
) -> None:
    with pytest.raises(RenditionFailed, match="no renditions of"):
        await maker.make(sources["gif"].data, content_type, SPECS["mp4"])


async def test_a_missing_ffmpeg_fails_the_rendition(sources: dict[str, Source], tmp_path: Path) -> None:
    maker = FfmpegRenditionMaker(str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(RenditionFailed, match="could not be started"):
        await maker.make(sources["gif"].data, "image/gif", SPECS["mp4"])


async def test_past_the_time_limit_ffmpeg_is_killed(long_video: bytes, private_tmp: Path) -> None:
    maker = FfmpegRenditionMaker(FFMPEG, timeout_s=0.3)
    with pytest.raises(DeadlineExceeded):
        await maker.make(long_video, "video/mp4", SPECS["webp"])
    assert our_ffmpeg_children() == []
    assert leftovers(private_tmp) == []


async def test_a_cancelled_rendition_kills_ffmpeg(
    maker: FfmpegRenditionMaker, long_video: bytes, private_tmp: Path
) -> None:
    task = asyncio.create_task(maker.make(long_video, "video/mp4", SPECS["webp"]))
    await asyncio.to_thread(wait_for_ffmpeg)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert our_ffmpeg_children() == []
    assert leftovers(private_tmp) == []


async def test_nothing_is_left_in_the_temporary_directory(
    maker: FfmpegRenditionMaker, sources: dict[str, Source], private_tmp: Path
) -> None:
    out: RenditionOutput = await maker.make(sources["png"].data, "image/png", SPECS["poster-200"])
    assert out.data
    with pytest.raises(RenditionFailed):
        await maker.make(b"not media", "image/png", SPECS["poster-200"])
    assert leftovers(private_tmp) == []
