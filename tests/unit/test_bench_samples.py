"""The scan benchmark's generated media (bench/samples.py): the sizes asked for, the same bytes every time,
the frame counts asked for; and the section's helpers (bench/scan.py) on a hand-made result."""

from __future__ import annotations

import io
import os
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

from bench import samples
from bench.scan import Scaled, scaled, scaling_rows, seconds
from bench.sections import MODULES


@pytest.mark.parametrize("megapixels", samples.MEGAPIXELS)
def test_dimensions_are_4_to_3_at_the_asked_pixel_count(megapixels: float) -> None:
    width, height = samples.dimensions(megapixels)
    assert abs(width * height / 1e6 - megapixels) / megapixels < 0.01
    assert abs(width / height - 4 / 3) < 0.01


@pytest.mark.parametrize("fmt", samples.IMAGE_FORMATS)
def test_images_are_deterministic_and_decode_to_their_size(fmt: str, tmp_path: Path) -> None:
    first = samples.image(0.3, fmt, cache=tmp_path / "a")
    assert first == samples.image(0.3, fmt, cache=tmp_path / "a")  # from the cache
    assert first == samples.image(0.3, fmt, cache=tmp_path / "b")  # generated again
    decoded = Image.open(io.BytesIO(first))
    assert decoded.format == fmt and decoded.size == samples.dimensions(0.3)


def test_a_mosaic_holds_several_photos_when_large() -> None:
    # A large mosaic is a grid of CELL-sized photos (their corners differ), not one photo blown up.
    large = samples.mosaic(2048, 1536)
    cells = {large.crop((x, y, x + 4, y + 4)).tobytes() for x in range(0, 2048, 512) for y in range(0, 1536, 512)}
    assert len(cells) > 1


@pytest.mark.parametrize("kind", samples.CLIP_KINDS)
def test_clips_have_the_asked_frames_and_are_deterministic(kind: str, tmp_path: Path) -> None:
    data = samples.clip(10, kind, cache=tmp_path / "a")
    assert data == samples.clip(10, kind, cache=tmp_path / "b")
    path = tmp_path / f"clip.{kind}"
    path.write_bytes(data)
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert frames == 10
    if kind == "gif":
        gif = Image.open(io.BytesIO(data))
        assert getattr(gif, "n_frames", 1) == 10 and gif.size == samples.CLIP_SIZES["gif"]


def test_pan_frames_move_and_come_back() -> None:
    frames = list(samples.pan_frames(samples.PAN_PERIOD + 1, (240, 180)))
    assert len({len(f) for f in frames}) == 1 and len(frames[0]) == 240 * 180 * 3
    assert frames[0] != frames[1] and frames[0] == frames[samples.PAN_PERIOD]


def test_the_section_is_registered_and_reads_durations() -> None:
    assert "scan" in MODULES
    assert seconds("0.250s") == 0.25 and seconds("3s") == 3.0


def test_media_over_the_upload_limit_are_listed_not_sent() -> None:
    from bench.scan import LIMITS

    row = scaled(None, "", "GIF 3000 frames", b"\0" * (LIMITS.max_media_bytes + 1), "image/gif", 1)  # type: ignore[arg-type]
    assert row.refused.startswith("over the 25 MiB upload limit")
    line = scaling_rows([row], lambda r: "")[0]
    assert "not sent" in line and line.count("|") == scaling_rows([_measured()], lambda r: "")[0].count("|")


def test_outside_the_analyzers_is_the_total_minus_the_slowest_first_wave_and_age() -> None:
    assert _measured().outside_ms == 1000 - 400 - 100


def _measured() -> Scaled:
    return Scaled(
        "JPEG 1 MP",
        1000,
        total_ms=1000,
        analyzers_ms={"nudenet": 400, "opennsfw": 300, "pdq": 350, "age": 100, "text": 5},
        frames_total=1,
        frames_analyzed=1,
    )


def test_where_the_time_goes_names_the_largest_images_biggest_analyzer() -> None:
    from bench.scan import where_time_goes

    small = _measured()
    large = Scaled(
        "JPEG 12 MP",
        1,
        total_ms=2000,
        analyzers_ms={"nudenet": 500, "opennsfw": 400, "pdq": 1500, "age": 0, "text": 5},
        frames_total=1,
        frames_analyzed=1,
    )
    clip = Scaled(
        "MP4 300 frames", 1, total_ms=1600, analyzers_ms={"nudenet": 1200}, frames_total=300, frames_analyzed=16
    )
    bullets = where_time_goes([small, large], [clip])
    assert bullets[0].startswith("- JPEG, 1 → 12 MP: total ×2.0; at 12 MP pdq is 75% of the time")
    assert "nudenet ×1.2" in bullets[0] and "pdq ×4.3" in bullets[0]
    assert bullets[1].startswith("- MP4: ms per scanned frame by source frames: 300 → 100;")


def test_processes_are_named_by_role_and_the_cpu_lines_add_up() -> None:
    import subprocess
    import sys

    from bench.scan import cpu_lines
    from bench.scanning import _descendants, role

    child = subprocess.Popen([sys.executable, "-m", "json.tool"], stdin=subprocess.PIPE)
    try:
        assert child.pid in _descendants(os.getpid())
        assert role(child.pid) == "json.tool"
    finally:
        child.communicate(b"{}")
    cpu = {
        "in-process": {"client": 50.0},
        "/check": {"scanner": 30.0, "Triton model stubs": 36.0, "auth": 4.0, "client": 2.0},
    }
    first, second = cpu_lines(cpu, 0.6)
    assert "in-process baseline 50.0" in first and "`/check` 72.0 — Triton model stubs 36.0, scanner 30.0" in first
    assert "0.69 predicted, ×0.60 measured" in first
    assert "≤ 62 ms" in second and "leaving 26 ms for everything else, which takes 36 here" in second


def test_outside_is_not_shown_for_media_of_overlapping_batches() -> None:
    from bench.scan import ONE_BATCH

    many = Scaled("MP4 300 frames", 1, 700.0, {"nudenet": 600.0, "age": 120.0}, 300, ONE_BATCH + 1)
    assert many.outside_ms is None and "| – |" in scaling_rows([many], lambda r: "")[0]
