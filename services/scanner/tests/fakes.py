"""In-memory fakes of the scanner's ports, for unit tests that run in seconds without the mesh."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import numpy.typing as npt
from PIL import Image

from services.scanner.analyzers.base import AnalysisContext, Analyzer, Box, Detection, Frame, FrameOutput
from services.scanner.domain.decision import Policy
from services.scanner.domain.model import Scan, ScanState
from services.scanner.ports import MediaFacts

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock: ``now()`` for datetimes, ``seconds()`` for monotonic durations."""

    def __init__(self, start: datetime = T0):
        self.at = start
        self.elapsed = 0.0

    def now(self) -> datetime:
        return self.at

    def seconds(self) -> float:
        return self.elapsed

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self.elapsed += seconds


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"scan{self.n:04d}"


def image(width: int = 8, height: int = 6) -> Image.Image:
    return Image.new("RGB", (width, height), (120, 130, 140))


def png(width: int = 8, height: int = 6) -> bytes:
    import io

    out = io.BytesIO()
    image(width, height).save(out, "PNG")
    return out.getvalue()


def detection(label: str, score: float) -> Detection:
    return Detection(label, score, Box(1, 2, 3, 4))


class ScriptedAnalyzer:
    """A frame analyzer answering per frame index from a script (default: empty output); records batches."""

    scope: ClassVar[Literal["frame", "media"]] = "frame"
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, name: str, outputs: Mapping[int, FrameOutput] | None = None, fail: BaseException | None = None
    ) -> None:
        self.name = name
        self.version = "fake/1"
        self.outputs = dict(outputs or {})
        self.fail = fail
        self.batches: list[list[int]] = []
        self.seen_previous: list[set[str]] = []

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
        self.batches.append([f.index for f in frames])
        self.seen_previous.append(set(context.previous))
        if self.fail is not None:
            raise self.fail
        return [self.outputs.get(f.index, FrameOutput()) for f in frames]

    async def close(self) -> None:
        pass


class MediaAnalyzer:
    """A media-scoped analyzer with one fixed output."""

    scope: ClassVar[Literal["frame", "media"]] = "media"
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, output: FrameOutput) -> None:
        self.name = name
        self.version = "fake-media/1"
        self.output = output

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
        return [self.output]

    async def close(self) -> None:
        pass


class Analyzers:
    """AnalyzerSource: a fixed list and fixed load failures."""

    def __init__(self, *analyzers: Analyzer, failures: dict[str, str] | None = None):
        self._analyzers = list(analyzers)
        self._failures = dict(failures or {})

    def analyzers(self) -> list[Analyzer]:
        return list(self._analyzers)

    def failures(self) -> dict[str, str]:
        return dict(self._failures)


class Frames:
    """FrameSource: facts, then ``count`` frames (every ``step``th index); records how far it was read."""

    def __init__(
        self, frame_count: int, *, kind: str = "animated_gif", fail: BaseException | None = None, paced: bool = True
    ):
        #: paced: yield to the event loop before each frame (frames trickle in); else all arrive at once.
        self.paced = paced
        self.frame_count = frame_count
        self.kind = kind
        self.fail = fail
        self.yielded = 0
        self.closed = False
        self.requests: list[dict[str, Any]] = []

    async def frames(
        self,
        data: bytes,
        content_type: str,
        *,
        gif_step: int,
        video_step: int,
        max_frames: int,
        timeout_s: float,
        metadata: tuple[tuple[str, str], ...],
    ) -> AsyncIterator[MediaFacts | Frame]:
        self.requests.append({"gif_step": gif_step, "video_step": video_step, "max_frames": max_frames})
        try:
            if self.fail is not None:
                raise self.fail
            yield MediaFacts(self.kind, "gif", "gif", 8, 6, self.frame_count, 1.0, 10.0)
            step = video_step if self.kind == "video" else gif_step
            indices = sorted({0, self.frame_count - 1, *range(0, self.frame_count, step)})[:max_frames]
            for index in indices:
                if self.paced:
                    await asyncio.sleep(0)
                self.yielded += 1
                yield Frame(image=image(), index=index, timestamp_s=index / 10)
        finally:
            self.closed = True


def policy(**overrides: Any) -> Policy:
    values: dict[str, Any] = {
        "usage_intent": "public_site",
        "model_id": "",
        "version": 3,
        "source": "CONFIG_SOURCE_INTENT_GLOBAL",
        "components": {
            "breast_detection": True,
            "genitalia_detection": True,
            "buttocks_detection": True,
            "anus_detection": True,
            "face_detection": True,
        },
        "weights": {"GENITALIA": 100.0, "BREAST_EXPOSED": 50.0, "BUTTOCKS_EXPOSED": 40.0, "FACE_DETECTED": 0.0},
        "auto_approve_under": 20.0,
        "auto_flag_over": 50.0,
        "auto_reject_over": 80.0,
        "underage_multiplier": 2.0,
        "child_multiplier": 3.0,
        "age_estimation": True,
        "child_content_detection": True,
        "image_description": False,
        "child_keywords": ("child", "kid"),
        "age_threshold": 18,
        "description_analysis": False,
        "webhook_delivery": True,
    }
    values.update(overrides)
    return Policy(**values)


class Policies:
    """PolicySource: one policy for everything (or an error)."""

    def __init__(self, value: Policy | None = None, fail: BaseException | None = None):
        self.value = value or policy()
        self.fail = fail
        self.asked: list[tuple[str, str]] = []

    async def resolve(self, usage_intent: str, model_id: str, metadata: tuple[tuple[str, str], ...]) -> Policy:
        self.asked.append((usage_intent, model_id))
        if self.fail is not None:
            raise self.fail
        return self.value


class Scans:
    """ScanStore in memory."""

    def __init__(self) -> None:
        self.scans: dict[str, Scan] = {}
        self.tags: Counter[str] = Counter()
        self.saves: list[Scan] = []

    async def save(self, scan: Scan) -> None:
        self.scans[scan.scan_id] = scan
        self.saves.append(scan)

    async def get(self, scan_id: str) -> Scan | None:
        return self.scans.get(scan_id)

    async def list_scans(
        self,
        *,
        asset_id: str,
        verdict: str,
        usage_intent: str,
        model_id: str,
        start: datetime | None,
        end: datetime | None,
        offset: int,
        limit: int,
    ) -> list[Scan]:
        found = [
            s
            for s in self.scans.values()
            if (not asset_id or s.asset_id == asset_id)
            and (not verdict or s.verdict == verdict)
            and (not usage_intent or s.usage_intent == usage_intent)
            and (not model_id or s.model_id == model_id)
        ]
        return sorted(found, key=lambda s: s.created_at, reverse=True)[offset : offset + limit]

    async def running(self) -> list[Scan]:
        return [s for s in self.scans.values() if s.state == ScanState.RUNNING]

    async def record_tags(self, tags: list[str]) -> int:
        self.tags.update(tags)
        return len(tags)

    async def tag_stats(self, offset: int, limit: int) -> tuple[list[tuple[str, int]], int]:
        ranked = sorted(self.tags.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[offset : offset + limit], sum(self.tags.values())


class Images:
    """EvidenceImageStore in memory."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[int, int]] = {}

    async def keep(self, digest: str, image: Image.Image) -> str:
        self.kept[digest] = image.size
        return f"images/{digest[:2]}/{digest}.jpg"


class Inference:
    """Inference port: answers consecutive rows of fixed outputs, call after call; records each call."""

    def __init__(self, answers: Mapping[str, npt.NDArray[Any]]):
        self.answers = dict(answers)
        self.offset = 0
        self.calls: list[tuple[str, dict[str, tuple[int, ...]], float | None]] = []

    async def infer(
        self,
        model: str,
        inputs: Mapping[str, npt.NDArray[Any]],
        outputs: Sequence[str],
        timeout_s: float | None = None,
    ) -> dict[str, npt.NDArray[Any]]:
        self.calls.append((model, {k: tuple(v.shape) for k, v in inputs.items()}, timeout_s))
        batch = next(iter(inputs.values())).shape[0]
        start, self.offset = self.offset, self.offset + batch
        return {name: self.answers[name][start : start + batch] for name in outputs}
