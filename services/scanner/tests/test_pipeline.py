"""The pipeline with in-memory analyzers and frames: batching as frames arrive, early exit at the hard
limit, a failing analyzer, Triton down, analyzers that need others, media-scoped analyzers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import ClassVar

import pytest

from clearframe_runtime.errors import InvalidArgument, Unavailable
from services.scanner.analyzers.base import AnalysisContext, AnalyzerError, Frame, FrameOutput
from services.scanner.domain.pipeline import NUDENET, OPENNSFW, ScanOutcome, ScanPipeline
from services.scanner.tests.fakes import Analyzers, Clock, Frames, MediaAnalyzer, ScriptedAnalyzer, detection, image

CONTEXT = AnalysisContext(timeout_s=5.0)


async def scan(
    pipeline: ScanPipeline, *, gif_step: int = 1, max_frames: int = 60, only: frozenset[str] | None = None
) -> ScanOutcome:
    return await pipeline.scan_media(
        b"GIF89a", "image/gif", CONTEXT, gif_step=gif_step, video_step=20, max_frames=max_frames, only=only
    )


async def test_frames_are_analyzed_in_batches_of_at_most_batch_size() -> None:
    # All frames already decoded: full batches.
    analyzer = ScriptedAnalyzer(OPENNSFW)
    frames = Frames(10, paced=False)
    outcome = await scan(ScanPipeline(Analyzers(analyzer), frames, batch_size=4))
    assert analyzer.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert (len(outcome.frames), outcome.frames_total, outcome.early_exit) == (10, 10, False)
    assert outcome.analyzers[OPENNSFW].frames_analyzed == 10
    assert frames.requests == [{"gif_step": 1, "video_step": 20, "max_frames": 60}]


async def test_inference_starts_before_decoding_ends() -> None:
    # Frames trickling in: a batch takes what has arrived instead of waiting for a full one.
    analyzer = ScriptedAnalyzer(OPENNSFW)
    await scan(ScanPipeline(Analyzers(analyzer), Frames(10), batch_size=4))
    assert [i for batch in analyzer.batches for i in batch] == list(range(10))  # every frame once, in order
    assert analyzer.batches[0] == [0]
    assert len(analyzer.batches) > 3 and all(len(batch) <= 4 for batch in analyzer.batches)


async def test_sampling_settings_reach_the_frame_source_and_facts_count_the_whole_file() -> None:
    frames = Frames(23)
    outcome = await scan(ScanPipeline(Analyzers(ScriptedAnalyzer(OPENNSFW)), frames), gif_step=5)
    assert [r.frame.index for r in outcome.frames] == [0, 5, 10, 15, 20, 22]
    assert outcome.frames_total == 23 and outcome.facts is not None and outcome.facts.frame_count == 23


async def test_early_exit_stops_reading_frames_at_the_hard_limit() -> None:
    # Frame 2 is explicit (risk 1.0): the scan stops there and the frame source is closed.
    explicit = FrameOutput(detections=[detection("FEMALE_GENITALIA_EXPOSED", 0.9)])
    nudenet = ScriptedAnalyzer(NUDENET, outputs={2: explicit})
    frames = Frames(40)
    outcome = await scan(ScanPipeline(Analyzers(nudenet), frames, batch_size=1, hard_limit=1.0))
    assert outcome.early_exit is True
    assert [r.frame.index for r in outcome.frames] == [0, 1, 2]
    assert outcome.max_risk == 1.0
    assert frames.yielded < 40 and frames.closed
    assert "rating:explicit" in outcome.tags()


async def test_below_the_hard_limit_every_frame_is_read() -> None:
    suggestive = FrameOutput(detections=[detection("FEMALE_BREAST_EXPOSED", 0.5)])
    outcome = await scan(ScanPipeline(Analyzers(ScriptedAnalyzer(NUDENET, outputs={1: suggestive})), Frames(5)))
    assert (outcome.early_exit, len(outcome.frames), outcome.max_risk) == (False, 5, 0.7)


async def test_a_failing_analyzer_reports_its_error_and_the_others_still_answer() -> None:
    broken = ScriptedAnalyzer("broken", fail=AnalyzerError("cannot read this"))
    crashing = ScriptedAnalyzer("crashing", fail=ZeroDivisionError("oops"))
    opennsfw = ScriptedAnalyzer(OPENNSFW, outputs={0: FrameOutput(scores={"nsfw": 0.3})})
    outcome = await ScanPipeline(Analyzers(broken, crashing, opennsfw), Frames(1)).scan_image(
        Frame(image=image()), CONTEXT
    )
    assert outcome.analyzers["broken"].error == "AnalyzerError: cannot read this"
    assert outcome.analyzers["crashing"].error == "ZeroDivisionError: oops"
    assert outcome.analyzers[OPENNSFW].error is None
    assert outcome.frames[0].unsafe == 0.3


async def test_an_analyzer_answering_the_wrong_number_of_outputs_is_an_error() -> None:
    class Short(ScriptedAnalyzer):
        async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
            return []

    outcome = await scan(ScanPipeline(Analyzers(Short("short")), Frames(3, paced=False), batch_size=8))
    assert outcome.analyzers["short"].error == "ValueError: answered 0 outputs for 3 frames"
    assert outcome.frames[0].outputs == {}


async def test_unavailable_inference_fails_the_whole_scan() -> None:
    down = ScriptedAnalyzer(NUDENET, fail=Unavailable("Triton is down", reason="TRITON_UNAVAILABLE"))
    frames = Frames(10)
    with pytest.raises(Unavailable):
        await scan(ScanPipeline(Analyzers(down, ScriptedAnalyzer(OPENNSFW)), frames, batch_size=2))
    assert frames.closed


async def test_bad_media_from_the_frame_source_is_reported() -> None:
    frames = Frames(3, fail=InvalidArgument("not a GIF", reason="MEDIA_UNDECODABLE"))
    with pytest.raises(InvalidArgument, match="not a GIF"):
        await scan(ScanPipeline(Analyzers(ScriptedAnalyzer(OPENNSFW)), frames))


async def test_an_analyzer_runs_after_the_ones_it_requires_and_sees_their_outputs() -> None:
    class Age(ScriptedAnalyzer):
        requires: ClassVar[tuple[str, ...]] = (NUDENET,)

    age = Age("age")
    nudenet = ScriptedAnalyzer(NUDENET)
    await scan(ScanPipeline(Analyzers(age, nudenet), Frames(2)))
    assert nudenet.seen_previous and all(seen == set() for seen in nudenet.seen_previous)
    assert age.seen_previous and all(seen == {NUDENET} for seen in age.seen_previous)


async def test_media_scoped_analyzers_run_once_and_load_failures_are_listed() -> None:
    text = MediaAnalyzer("text", FrameOutput(extra={"fields": {}}))
    outcome = await scan(
        ScanPipeline(Analyzers(ScriptedAnalyzer(OPENNSFW), text, failures={"anime_tagger": "no weights"}), Frames(4))
    )
    assert outcome.analyzers["text"].media_output is text.output
    assert outcome.analyzers["text"].frames_analyzed == 1
    assert outcome.analyzers["anime_tagger"].error == "not loaded: no weights"


async def test_only_limits_the_analyzers_and_hides_load_failures() -> None:
    other = ScriptedAnalyzer("pdq")
    outcome = await scan(
        ScanPipeline(Analyzers(ScriptedAnalyzer(NUDENET), other, failures={"x": "broken"}), Frames(2)),
        only=frozenset({NUDENET}),
    )
    assert set(outcome.analyzers) == {NUDENET}
    assert other.batches == []


async def test_latency_is_measured_with_the_injected_clock() -> None:
    clock = Clock()

    class Slow(ScriptedAnalyzer):
        async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
            clock.advance(0.25)
            return [FrameOutput() for _ in frames]

    outcome = await ScanPipeline(Analyzers(Slow("slow")), Frames(1), clock=clock.seconds).scan_image(
        Frame(image=image()), CONTEXT
    )
    assert outcome.analyzers["slow"].latency_s == 0.25


async def test_a_failing_scan_stops_its_media_scoped_analyzers() -> None:
    class Waiting(MediaAnalyzer):
        cancelled = False

        async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                Waiting.cancelled = True
                raise
            return []

    down = ScriptedAnalyzer(NUDENET, fail=Unavailable("Triton is down"))
    with pytest.raises(Unavailable):
        await scan(ScanPipeline(Analyzers(down, Waiting("text", FrameOutput())), Frames(3)))
    assert Waiting.cancelled


class Gated(ScriptedAnalyzer):
    """Holds each batch until ``release`` (per first frame index) is set; records the batches running at once."""

    def __init__(self, name: str, outputs: dict[int, FrameOutput] | None = None) -> None:
        super().__init__(name, outputs)
        self.gates: dict[int, asyncio.Event] = {}
        self.running = 0
        self.most_at_once = 0
        self.cancelled: list[int] = []

    def release(self, first: int) -> None:
        self.gates.setdefault(first, asyncio.Event()).set()

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
        first = frames[0].index
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.gates.setdefault(first, asyncio.Event()).wait()
        except asyncio.CancelledError:
            self.cancelled.append(first)
            raise
        finally:
            self.running -= 1
        return await super().analyze(frames, context)


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_two_batches_run_at_once_and_answer_in_frame_order() -> None:
    analyzer = Gated(OPENNSFW)
    task = asyncio.create_task(
        scan(ScanPipeline(Analyzers(analyzer), Frames(4, paced=False), batch_size=2, in_flight=2))
    )
    await _until(lambda: analyzer.running == 2)  # the second batch started before the first answered
    analyzer.release(2)  # the later batch finishes first ...
    await _until(lambda: analyzer.batches == [[2, 3]])
    analyzer.release(0)
    outcome = await asyncio.wait_for(task, 5)
    assert [r.frame.index for r in outcome.frames] == [0, 1, 2, 3]  # ... and the results keep frame order
    assert analyzer.most_at_once == 2


async def test_one_in_flight_runs_batch_after_batch() -> None:
    analyzer = Gated(OPENNSFW)
    task = asyncio.create_task(
        scan(ScanPipeline(Analyzers(analyzer), Frames(4, paced=False), batch_size=2, in_flight=1))
    )
    await _until(lambda: analyzer.running == 1)
    analyzer.release(2)
    for _ in range(50):
        await asyncio.sleep(0)
    assert analyzer.batches == [] and analyzer.running == 1  # the second batch has not started
    analyzer.release(0)
    outcome = await asyncio.wait_for(task, 5)
    assert analyzer.most_at_once == 1 and len(outcome.frames) == 4


async def test_early_exit_cancels_the_batch_still_running() -> None:
    explicit = FrameOutput(detections=[detection("FEMALE_GENITALIA_EXPOSED", 0.9)])
    nudenet = Gated(NUDENET, outputs={0: explicit})
    frames = Frames(40, paced=False)
    task = asyncio.create_task(scan(ScanPipeline(Analyzers(nudenet), frames, batch_size=2, hard_limit=1.0)))
    await _until(lambda: nudenet.running == 2)
    nudenet.release(0)
    outcome = await asyncio.wait_for(task, 5)
    assert outcome.early_exit and [r.frame.index for r in outcome.frames] == [0, 1]
    assert nudenet.cancelled == [2] and frames.closed


def test_batch_size_and_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="in_flight"):
        ScanPipeline(Analyzers(), Frames(1), in_flight=0)
