"""The one interface every analyzer implements, and the values it exchanges with the pipeline.

An analyzer looks at a batch of frames (a still image is a batch of one) and answers one
:class:`FrameOutput` per frame, in order. Media-scoped analyzers (``scope = "media"``, e.g. text
moderation) ignore the frames and answer exactly one output for the whole media. Analyzers that need
another's results name it in ``requires`` and read them from ``context.previous``.

Failures: raise :class:`AnalyzerError` (or let any exception escape); the pipeline records it under the
analyzer's own key and the other analyzers still answer. Raise
:class:`clearframe_runtime.errors.Unavailable` when a dependency (Triton) is down: the whole scan then
fails fast with UNAVAILABLE instead of answering without its models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from PIL import Image


@dataclass(frozen=True)
class Frame:
    """One image to analyze: RGB, EXIF orientation already applied."""

    image: Image.Image
    index: int = 0
    timestamp_s: float = 0.0
    _rgb: npt.NDArray[np.uint8] | None = field(default=None, init=False, repr=False, compare=False)

    def rgb(self) -> npt.NDArray[np.uint8]:
        """The image as a read-only (H, W, 3) uint8 array, made once and shared by every analyzer.

        Two analyzers asking at the same moment may both build it; they get equal arrays either way."""
        if self._rgb is None:
            image = self.image if self.image.mode == "RGB" else self.image.convert("RGB")
            array = np.asarray(image, dtype=np.uint8)
            array.flags.writeable = False
            object.__setattr__(self, "_rgb", array)
        assert self._rgb is not None
        return self._rgb


@dataclass(frozen=True)
class Box:
    """Pixel box in the frame's own coordinates (top-left, size)."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: Box


@dataclass
class FrameOutput:
    """What one analyzer says about one frame (or, media-scoped, about the whole media)."""

    #: Named scores, e.g. {"nsfw": 0.03, "sfw": 0.97} or {"min_age": 24.0}.
    scores: dict[str, float] = field(default_factory=dict)
    #: Labels with confidence, e.g. tags.
    labels: list[tuple[str, float]] = field(default_factory=list)
    #: Object detections with boxes.
    detections: list[Detection] = field(default_factory=list)
    #: Anything else the analyzer wants the pipeline to see (hash values, matches, flagged terms …).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TextInput:
    """The upload's metadata for text moderation (seed 002's scan_metadata)."""

    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()

    def fields(self) -> dict[str, str]:
        return {"title": self.title, "description": self.description, "tags": " ".join(self.tags)}


@dataclass
class AnalysisContext:
    """Per-scan context handed to every analyzer."""

    text: TextInput = field(default_factory=TextInput)
    usage_intent: str = ""
    model_id: str = ""
    #: Seconds left for this scan; analyzers pass it on as their own deadline.
    timeout_s: float = 30.0
    #: Results of analyzers that ran earlier in this batch, by analyzer name (one output per frame).
    previous: Mapping[str, Sequence[FrameOutput]] = field(default_factory=dict)


class AnalyzerError(Exception):
    """An analyzer could not analyze this input; the message goes into the result."""


@runtime_checkable
class Analyzer(Protocol):
    """One analyzer. Instances are created by a factory (see registry) and live until reloaded."""

    #: Key of its results (the seed's `modules.<name>`).
    name: str
    #: "frame": one output per frame; "media": one output for the whole media.
    scope: ClassVar[Literal["frame", "media"]]
    #: Names of analyzers whose results it reads from context.previous.
    requires: ClassVar[tuple[str, ...]]
    #: Model or algorithm version, reported with its results.
    version: str

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]: ...

    async def close(self) -> None: ...
