"""Small helpers shared by the builtin analyzers (batching, deadlines)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from services.scanner.analyzers.base import AnalysisContext
from services.scanner.analyzers.settings import AnalyzerSettings

ScalarT = TypeVar("ScalarT", bound=np.generic)


def chunks(items: npt.NDArray[ScalarT], size: int) -> Iterator[npt.NDArray[ScalarT]]:
    """Consecutive slices of at most ``size`` rows of a batch (Triton's max_batch_size)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def call_timeout(settings: AnalyzerSettings, context: AnalysisContext) -> float:
    """The deadline of one Triton request: the scan's remaining time, capped by the settings."""
    return max(0.001, min(settings.inference_timeout_s, context.timeout_s))
