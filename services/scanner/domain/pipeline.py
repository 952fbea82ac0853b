"""The scanning pipeline: analyzers over frames, per-frame evidence and risk, early exit.

A still image is one frame. A GIF or video streams its sampled frames from the frames service; frames
are analyzed in batches as they arrive (decoding and inference overlap), up to ``in_flight`` batches at
once (so one batch's age estimates or a model that finished early leave no core idle while the next batch
runs), their results taken in frame order; once the risk reaches the hard limit the pipeline stops
reading, the batches still running are cancelled and the frames service stops decoding (early exit).

One failing analyzer gives an error entry under its own name and the others still answer. An analyzer
that raises Unavailable (Triton down) fails the whole scan with UNAVAILABLE: a verdict without its
models would be a lie.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import structlog

from clearframe_runtime.errors import DeadlineExceeded, DomainError, Unavailable
from services.scanner.analyzers.base import AnalysisContext, Analyzer, Detection, Frame, FrameOutput
from services.scanner.domain import legacy
from services.scanner.ports import AnalyzerSource, FrameSource, MediaFacts

log = structlog.get_logger(__name__)

NUDENET = "nudenet"
OPENNSFW = "opennsfw"


@dataclass
class AnalyzerRun:
    """One analyzer over the whole scan."""

    name: str
    version: str
    frames_analyzed: int = 0
    latency_s: float = 0.0
    error: str | None = None
    #: Max of each score over frames; union of labels with their best score.
    scores: dict[str, float] = field(default_factory=dict)
    labels: dict[str, float] = field(default_factory=dict)
    #: Media-scoped analyzers' single output.
    media_output: FrameOutput | None = None

    def absorb(self, output: FrameOutput) -> None:
        self.frames_analyzed += 1
        for key, value in output.scores.items():
            self.scores[key] = max(self.scores.get(key, value), value)
        for label, score in output.labels:
            self.labels[label] = max(self.labels.get(label, score), score)


@dataclass
class FrameReport:
    """Everything known about one frame."""

    frame: Frame
    outputs: dict[str, FrameOutput]
    detections: list[Detection]
    unsafe: float
    classes: legacy.NsfwClasses
    rating: str
    risk: float
    tags: list[tuple[str, float]]


@dataclass
class ScanOutcome:
    frames: list[FrameReport]
    analyzers: dict[str, AnalyzerRun]
    facts: MediaFacts | None
    early_exit: bool
    frames_total: int

    @property
    def max_risk(self) -> float:
        return max((f.risk for f in self.frames), default=0.0)

    def tags(self) -> list[str]:
        """Sorted unique labels over all frames (seed /batch: at most 200)."""
        return sorted({tag for report in self.frames for tag, _ in report.tags})[:200]


def _report(frame: Frame, outputs: dict[str, FrameOutput]) -> FrameReport:
    nudenet = outputs.get(NUDENET)
    detections = list(nudenet.detections) if nudenet else []
    opennsfw = outputs.get(OPENNSFW)
    unsafe = opennsfw.scores.get("nsfw", 0.0) if opennsfw else 0.0
    classes = legacy.nsfw_classes(unsafe, detections)
    rating = legacy.rating(classes)
    return FrameReport(
        frame=frame,
        outputs=outputs,
        detections=detections,
        unsafe=unsafe,
        classes=classes,
        rating=rating,
        risk=legacy.frame_risk(classes, rating),
        tags=legacy.danbooru_tags(detections, rating),
    )


def _waves(analyzers: Sequence[Analyzer]) -> list[list[Analyzer]]:
    """Group frame analyzers so each runs after the analyzers it requires (same wave: concurrently)."""
    pending = list(analyzers)
    present = {a.name for a in analyzers}
    done: set[str] = set()
    waves = []
    while pending:
        ready = [a for a in pending if all(r in done or r not in present for r in a.requires)]
        if not ready:  # a cycle: run the rest anyway rather than hang
            ready = pending
        waves.append(ready)
        done |= {a.name for a in ready}
        pending = [a for a in pending if a not in ready]
    return waves


class ScanPipeline:
    """Runs the configured analyzers over images and media."""

    def __init__(
        self,
        analyzers: AnalyzerSource,
        frames: FrameSource,
        *,
        batch_size: int = 8,
        in_flight: int = 2,
        hard_limit: float = 1.0,
        clock: Callable[[], float] = time.perf_counter,
    ):
        if batch_size < 1 or in_flight < 1:
            raise ValueError(f"batch_size ({batch_size}) and in_flight ({in_flight}) must be at least 1")
        self._clock = clock
        self._analyzers = analyzers
        self._frames = frames
        self._batch_size = batch_size
        self._in_flight = in_flight
        self._hard_limit = hard_limit

    def _current(
        self, only: frozenset[str] | None = None
    ) -> tuple[list[Analyzer], list[Analyzer], dict[str, AnalyzerRun]]:
        active = [a for a in self._analyzers.analyzers() if only is None or a.name in only]
        runs = {a.name: AnalyzerRun(a.name, a.version) for a in active}
        if only is None:
            for name, error in self._analyzers.failures().items():
                runs.setdefault(name, AnalyzerRun(name, "", error=f"not loaded: {error}"))
        frame_scoped = [a for a in active if a.scope == "frame"]
        media_scoped = [a for a in active if a.scope == "media"]
        return frame_scoped, media_scoped, runs

    async def _run_one(
        self, analyzer: Analyzer, frames: Sequence[Frame], context: AnalysisContext, run: AnalyzerRun
    ) -> list[FrameOutput] | None:
        started = self._clock()
        try:
            outputs = await analyzer.analyze(frames, context)
            if len(outputs) != (len(frames) if analyzer.scope == "frame" else 1):
                raise ValueError(f"answered {len(outputs)} outputs for {len(frames)} frames")
            return outputs
        except (Unavailable, DeadlineExceeded):
            raise
        except DomainError as exc:
            run.error = exc.message
        except Exception as exc:
            log.warning("analyzer.failed", analyzer=analyzer.name, error=repr(exc))
            run.error = f"{type(exc).__name__}: {exc}"
        finally:
            run.latency_s += self._clock() - started
        return None

    async def _analyze_batch(
        self, analyzers: list[Analyzer], frames: list[Frame], context: AnalysisContext, runs: dict[str, AnalyzerRun]
    ) -> list[FrameReport]:
        per_analyzer: dict[str, list[FrameOutput]] = {}
        for wave in _waves(analyzers):
            batch_context = AnalysisContext(
                text=context.text,
                usage_intent=context.usage_intent,
                model_id=context.model_id,
                timeout_s=context.timeout_s,
                previous=dict(per_analyzer),
            )
            answers = await asyncio.gather(*(self._run_one(a, frames, batch_context, runs[a.name]) for a in wave))
            for analyzer, outputs in zip(wave, answers, strict=True):
                if outputs is not None:
                    per_analyzer[analyzer.name] = outputs
                    for output in outputs:
                        runs[analyzer.name].absorb(output)
        return [
            _report(frame, {name: outputs[i] for name, outputs in per_analyzer.items()})
            for i, frame in enumerate(frames)
        ]

    async def _run_media_scoped(
        self, analyzers: list[Analyzer], context: AnalysisContext, runs: dict[str, AnalyzerRun]
    ) -> None:
        answers = await asyncio.gather(*(self._run_one(a, [], context, runs[a.name]) for a in analyzers))
        for analyzer, outputs in zip(analyzers, answers, strict=True):
            if outputs:
                runs[analyzer.name].media_output = outputs[0]
                runs[analyzer.name].absorb(outputs[0])

    async def scan_image(self, frame: Frame, context: AnalysisContext) -> ScanOutcome:
        frame_scoped, media_scoped, runs = self._current()
        reports, _ = await asyncio.gather(
            self._analyze_batch(frame_scoped, [frame], context, runs),
            self._run_media_scoped(media_scoped, context, runs),
        )
        return ScanOutcome(frames=reports, analyzers=runs, facts=None, early_exit=False, frames_total=1)

    async def scan_media(
        self,
        data: bytes,
        content_type: str,
        context: AnalysisContext,
        *,
        gif_step: int,
        video_step: int,
        max_frames: int,
        metadata: tuple[tuple[str, str], ...] = (),
        only: frozenset[str] | None = None,
    ) -> ScanOutcome:
        """Scan a GIF or video; ``only`` limits the analyzers to those named (None: all configured)."""
        frame_scoped, media_scoped, runs = self._current(only)
        media_task = asyncio.create_task(self._run_media_scoped(media_scoped, context, runs))
        queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        facts: list[MediaFacts] = []
        stream = self._frames.frames(
            data,
            content_type,
            gif_step=gif_step,
            video_step=video_step,
            max_frames=max_frames,
            timeout_s=context.timeout_s,
            metadata=metadata,
        )

        async def produce(source: AsyncIterator[MediaFacts | Frame]) -> None:
            try:
                async for item in source:
                    if isinstance(item, MediaFacts):
                        facts.append(item)
                    else:
                        await queue.put(item)
            finally:
                queue.put_nowait(None)

        producer = asyncio.create_task(produce(stream))
        reports: list[FrameReport] = []
        running: collections.deque[asyncio.Task[list[FrameReport]]] = collections.deque()
        early_exit = False
        finished = False

        async def next_batch(wait: bool) -> list[Frame]:
            """The next batch of decoded frames: what has arrived, up to a batch (inference starts while
            decoding goes on); waits for the first frame only when ``wait``. [] when none (yet)."""
            nonlocal finished
            batch: list[Frame] = []
            while len(batch) < self._batch_size and not finished and ((wait and not batch) or not queue.empty()):
                item = await queue.get()
                if item is None:
                    finished = True
                else:
                    batch.append(item)
            return batch

        try:
            try:
                while True:
                    if not finished and len(running) < self._in_flight:
                        # Wait for frames only when nothing runs; else take what is there and go on.
                        batch = await next_batch(wait=not running)
                        if batch:
                            running.append(asyncio.create_task(self._analyze_batch(frame_scoped, batch, context, runs)))
                            continue
                    if not running:
                        break
                    reports += await running.popleft()
                    if max(r.risk for r in reports) >= self._hard_limit:
                        early_exit = True
                        log.info("scan.early_exit", frames_analyzed=len(reports), risk=reports[-1].risk)
                        break
            finally:
                # Early exit (or a failure) cancels the stream: the frames service stops decoding; batches still
                # running are cancelled. A failure of the stream itself (bad media) re-raises here with its own
                # message.
                for task in running:
                    task.cancel()
                for task in running:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if not producer.done():
                    producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer
        except BaseException:  # a failed batch, bad media, or this scan cancelled: media analyzers stop too
            media_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await media_task
            raise
        await media_task
        total = facts[0].frame_count if facts else len(reports)
        return ScanOutcome(
            frames=reports, analyzers=runs, facts=facts[0] if facts else None, early_exit=early_exit, frames_total=total
        )
