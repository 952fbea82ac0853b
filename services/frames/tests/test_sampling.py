"""The sampling rule, its cap, sampling by time, and the limits — pure domain logic, no ffmpeg."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from clearframe_runtime.errors import InvalidArgument
from services.frames.domain import (
    FrameOutput,
    FrameSelector,
    Limits,
    MediaKind,
    Sampling,
    StepSampling,
    interval_targets,
    media_kind,
    sample_indices,
    thin,
)
from services.frames.ports import ImageFormat

# --- seed 000's _sample_indices -----------------------------------------------------------------------


def test_first_last_and_every_nth_frame() -> None:
    assert sample_indices(23, 5) == [0, 5, 10, 15, 20, 22]
    assert sample_indices(100, 20) == [0, 20, 40, 60, 80, 99]


def test_last_frame_on_the_step_is_not_repeated() -> None:
    assert sample_indices(21, 5) == [0, 5, 10, 15, 20]
    assert sample_indices(6, 5) == [0, 5]


@pytest.mark.parametrize(
    ("total", "step", "expected"),
    [
        (0, 5, []),  # nothing decoded
        (1, 5, [0]),  # one frame is both first and last
        (2, 5, [0, 1]),
        (3, 20, [0, 2]),  # step larger than the media: first and last only
        (5, 1, [0, 1, 2, 3, 4]),  # N = 1: every frame
        (1, 1, [0]),
    ],
)
def test_edge_cases(total: int, step: int, expected: list[int]) -> None:
    assert sample_indices(total, step) == expected


def test_matches_the_seed_definition_everywhere() -> None:
    for total in range(0, 60):
        for step in range(1, 25):
            seed = sorted({i for i in range(total) if i in (0, total - 1) or i % step == 0})
            assert sample_indices(total, step) == seed, (total, step)


def test_step_must_be_positive() -> None:
    with pytest.raises(ValueError):
        sample_indices(10, 0)


# --- the cap -----------------------------------------------------------------------------------------


def test_cap_keeps_first_and_last_and_spreads_the_rest_evenly() -> None:
    assert thin(list(range(100)), 5) == [0, 24, 49, 74, 99]
    assert thin([0, 5, 10, 15, 20, 22], 3) == [0, 10, 22]
    assert thin(list(range(10)), 2) == [0, 9]


def test_cap_of_one_keeps_only_the_first() -> None:
    assert thin([0, 5, 10], 1) == [0]


def test_cap_not_reached_changes_nothing() -> None:
    assert thin([0, 5, 10], 3) == [0, 5, 10]
    assert thin([0, 5, 10], 60) == [0, 5, 10]


def test_thinning_never_repeats_and_gaps_differ_by_at_most_one() -> None:
    for n in range(2, 120):
        for m in range(2, n):
            kept = thin(list(range(n)), m)
            assert len(kept) == m and kept[0] == 0 and kept[-1] == n - 1
            gaps = {b - a for a, b in itertools.pairwise(kept)}
            assert min(gaps) >= 1 and max(gaps) - min(gaps) <= 1, (n, m, kept)


# --- frame by frame, as decoded ----------------------------------------------------------------------


def _run(selector: FrameSelector, timestamps: list[float]) -> list[int]:
    sent = [i for i, t in enumerate(timestamps) if selector.offer(i, t)]
    if timestamps and selector.offer_last(len(timestamps) - 1):
        sent.append(len(timestamps) - 1)
    return sent


def _frames(count: int, fps: float = 10.0) -> list[float]:
    return [i / fps for i in range(count)]


def test_selector_follows_the_rule_while_decoding() -> None:
    selector = FrameSelector(Sampling.step(), expected_frames=23, duration_s=2.3, step=5)
    assert _run(selector, _frames(23)) == [0, 5, 10, 15, 20, 22]
    assert not selector.thinned and selector.step_used == 5


def test_selector_caps_with_first_and_last() -> None:
    selector = FrameSelector(Sampling.step(max_frames=3), expected_frames=23, duration_s=2.3, step=5)
    assert _run(selector, _frames(23)) == [0, 10, 22]
    assert selector.thinned


def test_selector_with_a_cap_of_one_sends_the_first_frame_only() -> None:
    selector = FrameSelector(Sampling.step(max_frames=1), expected_frames=23, duration_s=2.3, step=5)
    assert _run(selector, _frames(23)) == [0]


def test_selector_sends_the_real_last_frame_when_the_container_overstated_the_count() -> None:
    # The container said 23 frames; only 18 could be decoded: frame 17 is the last one.
    selector = FrameSelector(Sampling.step(), expected_frames=23, duration_s=2.3, step=5)
    assert _run(selector, _frames(18)) == [0, 5, 10, 15, 17]


def test_a_single_frame_is_sent_once() -> None:
    selector = FrameSelector(Sampling.step(), expected_frames=1, duration_s=0.0, step=5)
    assert _run(selector, [0.0]) == [0]


def test_interval_takes_the_first_frame_at_or_after_each_multiple_plus_the_last() -> None:
    selector = FrameSelector(Sampling.interval(0.5), expected_frames=23, duration_s=2.3, step=0)
    assert _run(selector, _frames(23)) == [0, 5, 10, 15, 20, 22]


def test_interval_with_variable_frame_delays_sends_a_frame_once_for_several_multiples() -> None:
    # GIF delays vary: frames at 0, 0.7, 0.8 and 2.0 s; multiples of 0.5 up to 2.1 s.
    selector = FrameSelector(Sampling.interval(0.5), expected_frames=5, duration_s=2.1, step=0)
    assert _run(selector, [0.0, 0.7, 0.8, 2.0, 2.05]) == [0, 1, 3, 4]


def test_interval_is_thinned_with_first_and_last() -> None:
    assert interval_targets(10.0, 0.5) == [k * 0.5 for k in range(20)]
    selector = FrameSelector(Sampling.interval(0.5, max_frames=5), expected_frames=300, duration_s=10.0, step=0)
    sent = _run(selector, _frames(300, fps=30))
    # 20 multiples + the last frame, thinned to 5: multiples #0, #5, #10, #15 and the last frame.
    assert sent == [0, 75, 150, 225, 299]
    assert selector.thinned


def test_interval_with_unknown_duration_keeps_a_slot_for_the_last_frame() -> None:
    selector = FrameSelector(Sampling.interval(1.0, max_frames=3), expected_frames=50, duration_s=0.0, step=0)
    assert _run(selector, _frames(50)) == [0, 10, 49]


# --- validation and limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Sampling.step(max_frames=1001), "sampling.max_frames"),
        (lambda: Sampling.step(max_frames=-1), "sampling.max_frames"),
        (lambda: Sampling.step(gif_step=-2), "sampling.step.gif_step"),
        (lambda: Sampling.interval(0.005), "sampling.interval.interval"),
        (lambda: Sampling.interval(0.0), "sampling.interval.interval"),
    ],
)
def test_invalid_sampling_names_the_field(make: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        make()
    assert caught.value.reason == "INVALID_SAMPLING"
    assert caught.value.field == field


def test_defaults_are_the_seeds() -> None:
    sampling = Sampling.step()
    assert isinstance(sampling.method, StepSampling)
    assert (sampling.method.gif_step, sampling.method.video_step, sampling.max_frames) == (5, 20, 60)


SERVER = Limits(max_input_bytes=1000, max_dimension=100, max_pixels=5000, max_source_frames=50, max_duration_s=10.0)


def test_requests_may_lower_limits_but_not_raise_them() -> None:
    lowered = SERVER.narrowed(max_source_frames=10)
    assert lowered.max_source_frames == 10 and lowered.max_dimension == 100
    with pytest.raises(InvalidArgument) as caught:
        SERVER.narrowed(max_dimension=101)
    assert caught.value.reason == "INVALID_LIMITS" and caught.value.field == "limits.max_dimension"


@pytest.mark.parametrize(
    ("check", "reason", "words"),
    [
        (lambda: SERVER.check_input(1001), "PAYLOAD_TOO_LARGE", "max_input_bytes"),
        (lambda: SERVER.check_input(0), "EMPTY_BODY", "empty"),
        (lambda: SERVER.check_dimensions(101, 10), "DIMENSIONS_TOO_LARGE", "max_dimension"),
        (lambda: SERVER.check_dimensions(80, 80), "DIMENSIONS_TOO_LARGE", "max_pixels"),
        (lambda: SERVER.check_frames(51), "TOO_MANY_FRAMES", "max_source_frames"),
        (lambda: SERVER.check_duration(10.5), "DURATION_TOO_LONG", "max_duration"),
    ],
)
def test_each_limit_is_named_in_its_error(check: Callable[[], object], reason: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check()
    assert caught.value.reason == reason
    assert words in caught.value.message


def test_output_size_keeps_aspect_and_never_upscales() -> None:
    output = FrameOutput.create(ImageFormat.JPEG, max_dimension=80)
    assert output.size(160, 120) == (80, 60)
    assert output.size(60, 40) == (60, 40)
    assert FrameOutput.create(ImageFormat.PNG).size(160, 120) == (160, 120)
    with pytest.raises(InvalidArgument):
        FrameOutput.create(ImageFormat.JPEG, jpeg_quality=101)


def test_kind_comes_from_the_content() -> None:
    assert media_kind("image/gif", 23) is MediaKind.ANIMATED_GIF
    assert media_kind("image/gif", 1) is MediaKind.IMAGE
    assert media_kind("image/webp", 23) is MediaKind.ANIMATED_IMAGE
    assert media_kind("video/mp4", 1) is MediaKind.VIDEO
