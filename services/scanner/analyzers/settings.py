"""Settings of the builtin analyzers: one small frozen value, passed to every analyzer factory.

The scanner's settings (pydantic-settings, environment) build one :class:`AnalyzerSettings` at start-up;
plug-ins receive the same object. Every field has a safe default, so ``AnalyzerSettings()`` is a working
configuration for tests and ``make run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AnalyzerSettings:
    """Thresholds, model names and file locations of the builtin analyzers."""

    #: Most frames per Triton request; the production configs say ``max_batch_size: 16``.
    max_batch_size: int = 16
    #: Per-request Triton deadline cap; the scan's own remaining time (context.timeout_s) wins if shorter.
    inference_timeout_s: float = 10.0

    #: Triton model names (deploy/triton/models/<name>).
    nudenet_model: str = "nudenet"
    opennsfw_model: str = "opennsfw"
    age_model: str = "age"

    #: NudeNet face boxes below this score are not sent to the age model.
    age_min_face_score: float = 0.3
    #: A face whose estimated age is below this raises ``underage_signal`` (a review hint, never a verdict).
    age_threshold: float = 18.0

    #: Folder of PDQ hash banks (``<bank>.txt``, see analyzers/pdq.py); None: hash only, no matching.
    hash_bank_dir: Path | None = None
    #: Largest Hamming distance (of 256 bits) that counts as a match; 31 is the industry's usual value.
    pdq_match_threshold: int = 31

    #: alt-profanity-check probability at or above which a text field is flagged.
    profanity_threshold: float = 0.5

    #: Optional anime tagger (WD14-style ONNX served by Triton as ``anime_tagger_triton_model``): the model
    #: file; None keeps the slot disabled (listing it in modules.cfg reports "not configured").
    anime_tagger_model: Path | None = None
    #: Tag list of the tagger (CSV with a ``name`` column); default: selected_tags.csv beside the model.
    anime_tagger_tags: Path | None = None
    anime_tagger_triton_model: str = "anime_tagger"
    anime_tagger_threshold: float = 0.35

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch_size <= 16:
            raise ValueError("max_batch_size must be between 1 and 16 (the models' max_batch_size)")
        if self.inference_timeout_s <= 0:
            raise ValueError("inference_timeout_s must be positive")
        if not 0 <= self.pdq_match_threshold <= 256:
            raise ValueError("pdq_match_threshold must be between 0 and 256")
        for name in ("age_min_face_score", "profanity_threshold", "anime_tagger_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


__all__ = ["AnalyzerSettings"]
