"""The scanner's records: a scan and its full result, as plain values (the api layer owns the wire shape).

Every field here has its counterpart in ``clearframe.scanner.v1`` (``Scan``, ``ScanResult``);
``services/scanner/wire.py`` converts both ways. Enumerations are their short names ("APPROVED",
"HIGH", "URGENT"); an absent value is the empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.scanner.analyzers.base import Box
from services.scanner.domain.decision import Rule
from services.scanner.domain.legacy import NsfwClasses

ANALYSIS_VERSION = "clearframe-scanner/1.0"
MEDIA_TYPES = ("image", "animated_gif", "video")


class ScanState(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Failure:
    """Why an analyzer or a scan failed: a gRPC status name ("INTERNAL", "UNAVAILABLE" …), a message for
    people, and an optional machine-readable reason."""

    code: str
    message: str
    reason: str = ""


@dataclass(frozen=True)
class ScoredLabel:
    label: str
    score: float


@dataclass(frozen=True)
class DetectionEvidence:
    label: str
    mapped_label: str
    score: float
    box: Box


@dataclass(frozen=True)
class FrameEvidence:
    index: int
    timestamp_s: float
    width: int
    height: int
    risk_score: float
    detections: tuple[DetectionEvidence, ...] = ()
    #: "nsfw", "legacy_risk" and "<analyzer>.<score>" of the other analyzers.
    scores: Mapping[str, float] = field(default_factory=dict)
    #: The derived DeepDanbooru-style tags of the frame (rating tag first).
    labels: tuple[ScoredLabel, ...] = ()


@dataclass(frozen=True)
class AnalyzerEvidence:
    analyzer: str
    model_version: str = ""
    frames_analyzed: int = 0
    latency_s: float = 0.0
    scores: Mapping[str, float] = field(default_factory=dict)
    #: Measured labels, best first.
    labels: tuple[ScoredLabel, ...] = ()
    error: Failure | None = None
    skipped: bool = False


@dataclass(frozen=True)
class LegacyEvidence:
    """Seed 000's values, derived (README: How /check is derived)."""

    classes: NsfwClasses
    danbooru_tags: tuple[ScoredLabel, ...]
    rating_tag: str
    legacy_risk: float
    source_analyzers: tuple[str, ...] = ("opennsfw", "nudenet")
    method: str = "README: How /check is derived"


@dataclass(frozen=True)
class TextFieldEvidence:
    field: str
    flagged: bool
    probability: float
    matched_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class TextEvidence:
    fields: tuple[TextFieldEvidence, ...]
    flagged: bool


@dataclass(frozen=True)
class AgeEvidence:
    underage_signal: bool = False
    faces_checked: int = 0
    min_estimated_age_years: float = 0.0
    threshold_years: int = 0
    child_content_signal: bool = False
    matched_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class HashMatchEvidence:
    algorithm: str
    list: str
    matched_id: str
    distance: int
    threshold: int
    frame_index: int
    #: The bank entry's hash and this media's hash on that frame (hex), shown side by side to a reviewer.
    matched_hash: str = ""
    hash: str = ""


@dataclass(frozen=True)
class Thresholds:
    auto_approve_under: float
    auto_flag_over: float
    auto_reject_over: float


@dataclass(frozen=True)
class Reasons:
    """The statement of reasons of an automated decision."""

    automated: bool
    rules: tuple[Rule, ...]
    thresholds: Thresholds
    usage_intent: str
    model_id: str
    config_version: int
    summary: str


@dataclass(frozen=True)
class ScanResult:
    verdict: str
    nudity_score: float
    risk_score: float
    #: "LOW", "MEDIUM", "HIGH", "CRITICAL".
    risk_level: str
    human_review_required: bool
    #: "" (no review), "NORMAL" or "URGENT".
    review_priority: str
    analyzers: Mapping[str, AnalyzerEvidence]
    frames: tuple[FrameEvidence, ...]
    legacy: LegacyEvidence | None
    text: TextEvidence | None
    age: AgeEvidence
    hash_matches: tuple[HashMatchEvidence, ...]
    reasons: Reasons
    tags: tuple[str, ...]
    frames_total: int
    frames_analyzed: int
    pdq_hash: str
    analysis_version: str
    completed_at: datetime
    #: Said by the applied configuration (e.g. weights of labels no analyzer produces), repeated in every scan.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scan:
    scan_id: str
    state: ScanState
    content_type: str
    size_bytes: int
    sha256: str
    usage_intent: str
    created_at: datetime
    asset_id: str = ""
    model_id: str = ""
    title: str = ""
    tags: tuple[str, ...] = ()
    description: str = ""
    creator: str = ""
    #: "" until the scan knows its media: "image", "animated_gif" or "video".
    media_type: str = ""
    completed_at: datetime | None = None
    result: ScanResult | None = None
    error: Failure | None = None
    #: The scanner instance that runs (or ran) it; a restart of that instance finishes what it left RUNNING.
    runner: str = ""

    @property
    def verdict(self) -> str:
        return self.result.verdict if self.result is not None else ""
