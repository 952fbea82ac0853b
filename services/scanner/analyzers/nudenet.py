"""NudeNet 320n body-part and face detector, run on Triton (model ``nudenet``).

Pre- and post-processing are exactly those of ``nudenet`` 3.4.2 (``NudeDetector.detect``), so results
equal the package's own: BGR, pad bottom/right to a square, bilinear resize to 320x320, scale 1/255,
NCHW; then per anchor ``cx, cy, w, h`` + 18 class scores, keep best score >= 0.2, class = argmax, box to
top-left, scale by max(H, W)/320, clip, class-agnostic NMS (score 0.25, IoU 0.45).

All frames of one call go to Triton in as few requests as possible (``max_batch_size`` frames each).

Output per frame:
    detections  one Detection(label, score, box) per kept box, in NMS order (highest score first)
    scores      {label: highest score of that label in the frame}, only labels that were detected
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar, Literal

import cv2
import numpy as np
import numpy.typing as npt

from clearframe_runtime.vocabulary import NUDENET_LABELS
from services.scanner.analyzers._common import call_timeout, chunks
from services.scanner.analyzers.base import AnalysisContext, Box, Detection, Frame, FrameOutput
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.ports import Inference

#: Class order of the 320n model's output rows 4..21.
LABELS = NUDENET_LABELS
INPUT_SIZE = 320
MIN_SCORE = 0.2
NMS_SCORE = 0.25
NMS_IOU = 0.45
INPUT_NAME = "images"
OUTPUT_NAME = "output0"


def preprocess(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """One RGB uint8 image → the model's (3, 320, 320) float32 input (BGR channel order)."""
    height, width = rgb.shape[:2]
    side = max(height, width)
    padded = cv2.copyMakeBorder(rgb, 0, side - height, 0, side - width, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    # Resize the uint8 image, then scale: the order cv2.dnn.blobFromImage (nudenet's call) uses.
    resized = cv2.resize(padded, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    # The model was trained on BGR (RGB input gives false positives). Padding and resizing act on each
    # channel alone, so swapping channels on the small 320x320 result equals converting the full image first.
    chw = np.empty((3, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)
    for channel in range(3):
        np.divide(resized[:, :, 2 - channel], np.float32(255.0), out=chw[channel])
    return chw


def postprocess(output: npt.NDArray[np.float32], width: int, height: int) -> list[Detection]:
    """One (22, 2100) output → detections in the frame's pixel coordinates."""
    rows = output.T  # (2100, 22)
    class_scores = rows[:, 4:]
    best = class_scores.max(axis=1)
    keep = best >= MIN_SCORE
    if not keep.any():
        return []
    rows, best, classes = rows[keep], best[keep], class_scores[keep].argmax(axis=1)
    scale = max(width, height) / INPUT_SIZE
    # float64 like nudenet's per-row Python arithmetic, so boxes match it to the pixel.
    cx, cy, w, h = (rows[:, i].astype(np.float64) for i in range(4))
    x = np.clip((cx - w / 2) * scale, 0.0, width)
    y = np.clip((cy - h / 2) * scale, 0.0, height)
    bw = np.minimum(w * scale, width - x)
    bh = np.minimum(h * scale, height - y)
    boxes = np.stack([x, y, bw, bh], axis=1)
    indices = cv2.dnn.NMSBoxes(boxes.tolist(), best.astype(float).tolist(), NMS_SCORE, NMS_IOU)
    detections = []
    for i in np.asarray(indices, dtype=int).reshape(-1):
        bx, by, bww, bhh = (int(v) for v in boxes[i])
        detections.append(Detection(label=LABELS[int(classes[i])], score=float(best[i]), box=Box(bx, by, bww, bhh)))
    return detections


class NudeNetAnalyzer:
    """Body-part and face detections per frame."""

    scope: ClassVar[Literal["frame", "media"]] = "frame"
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: AnalyzerSettings, triton: Inference, name: str = "nudenet") -> None:
        self.name = name
        self.version = "nudenet-3.4.2-320n"
        self.models = (settings.nudenet_model,)
        self._settings = settings
        self._triton = triton

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
        if not frames:
            return []
        batch = await asyncio.to_thread(lambda: np.stack([preprocess(frame.rgb()) for frame in frames]))
        outputs: list[npt.NDArray[np.float32]] = []
        for part in chunks(batch, self._settings.max_batch_size):
            result = await self._triton.infer(
                self._settings.nudenet_model,
                {INPUT_NAME: part},
                [OUTPUT_NAME],
                call_timeout(self._settings, context),
            )
            outputs.extend(result[OUTPUT_NAME])
        answers = []
        for frame, output in zip(frames, outputs, strict=True):
            width, height = frame.image.size
            detections = postprocess(output, width=width, height=height)
            scores: dict[str, float] = {}
            for detection in detections:
                scores[detection.label] = max(scores.get(detection.label, 0.0), detection.score)
            answers.append(FrameOutput(scores=scores, detections=detections))
        return answers

    async def close(self) -> None:
        """Nothing to release: the Triton client is shared and owned by the caller."""


def create(settings: AnalyzerSettings, triton: Inference) -> NudeNetAnalyzer:
    return NudeNetAnalyzer(settings, triton)
