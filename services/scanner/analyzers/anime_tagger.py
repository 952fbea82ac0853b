"""Pluggable slot for an anime/illustration tagger (WD14-style ONNX on Triton) — disabled by default.

No tagger weights ship offline (deploy/triton/README.md, "Optional: anime tagger"), so this analyzer only
exists when a model file is configured: ``AnalyzerSettings.anime_tagger_model`` (the ``.onnx`` file that
was placed in the Triton repository as ``anime_tagger/1/model.onnx``) and its tag list
(``anime_tagger_tags``, default ``selected_tags.csv`` beside the model; columns ``name`` and, optionally,
``category`` where 9 marks rating tags). Without them, ``create`` raises :class:`AnalyzerError`, so a
``modules.cfg`` that lists ``anime_tagger`` reports "not configured" in the registry's failures instead
of pretending to tag.

When configured, it follows the WD14 v2 taggers' convention: pad to a white square, resize to 448x448
(area), BGR, float32 0..255, NHWC; one sigmoid score per tag.
    labels  [(tag, score)] for tags scoring >= anime_tagger_threshold, best first
    scores  {rating tag: score} for every rating tag (category 9), e.g. {"explicit": 0.91, ...}
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from services.scanner.analyzers._common import call_timeout, chunks
from services.scanner.analyzers.base import AnalysisContext, AnalyzerError, Frame, FrameOutput
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.ports import Inference

INPUT_SIZE = 448
INPUT_NAME = "input_1:0"
OUTPUT_NAME = "predictions_sigmoid"
RATING_CATEGORY = "9"


def preprocess(image: Image.Image) -> npt.NDArray[np.float32]:
    """RGB image → (448, 448, 3) float32 BGR in 0..255, padded to a white square."""
    rgb = image.convert("RGB")
    side = max(rgb.size)
    square = Image.new("RGB", (side, side), (255, 255, 255))
    square.paste(rgb, ((side - rgb.width) // 2, (side - rgb.height) // 2))
    resized = square.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BOX)
    return np.ascontiguousarray(np.asarray(resized, dtype=np.float32)[:, :, ::-1])


def load_tags(path: Path) -> tuple[list[str], set[int]]:
    """Tag names in output order, and the positions of rating tags."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "name" not in rows[0]:
        raise AnalyzerError(f"anime_tagger: {path} has no 'name' column")
    names = [row["name"] for row in rows]
    ratings = {i for i, row in enumerate(rows) if row.get("category") == RATING_CATEGORY}
    return names, ratings


class AnimeTaggerAnalyzer:
    """Tags and rating scores of illustrations."""

    scope: ClassVar[Literal["frame", "media"]] = "frame"
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: AnalyzerSettings, triton: Inference, tags: Path, name: str = "anime_tagger"):
        self.name = name
        self.models = (settings.anime_tagger_triton_model,)
        self._settings = settings
        self._triton = triton
        self._tags, self._ratings = load_tags(tags)
        assert settings.anime_tagger_model is not None
        self.version = settings.anime_tagger_model.stem

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
        if not frames:
            return []
        batch = await asyncio.to_thread(lambda: np.stack([preprocess(frame.image) for frame in frames]))
        answers: list[FrameOutput] = []
        for part in chunks(batch, self._settings.max_batch_size):
            result = await self._triton.infer(
                self._settings.anime_tagger_triton_model,
                {INPUT_NAME: part},
                [OUTPUT_NAME],
                call_timeout(self._settings, context),
            )
            for row in result[OUTPUT_NAME]:
                if len(row) != len(self._tags):
                    raise AnalyzerError(f"anime_tagger: model returned {len(row)} scores for {len(self._tags)} tags")
                order = np.argsort(-row)
                labels = [
                    (self._tags[i], float(row[i]))
                    for i in order
                    if row[i] >= self._settings.anime_tagger_threshold and i not in self._ratings
                ]
                scores = {self._tags[i]: float(row[i]) for i in sorted(self._ratings)}
                answers.append(FrameOutput(scores=scores, labels=labels))
        return answers

    async def close(self) -> None:
        """Nothing to release: the Triton client is shared and owned by the caller."""


def create(settings: AnalyzerSettings, triton: Inference) -> AnimeTaggerAnalyzer:
    model = settings.anime_tagger_model
    if model is None:
        raise AnalyzerError(
            "anime_tagger is not configured: set AnalyzerSettings.anime_tagger_model to the tagger's .onnx file "
            "(served by Triton as 'anime_tagger', see deploy/triton/README.md)"
        )
    if not model.is_file():
        raise AnalyzerError(f"anime_tagger: model file {model} does not exist")
    tags = settings.anime_tagger_tags or model.with_name("selected_tags.csv")
    if not tags.is_file():
        raise AnalyzerError(f"anime_tagger: tag list {tags} does not exist (set anime_tagger_tags)")
    return AnimeTaggerAnalyzer(settings, triton, tags)
