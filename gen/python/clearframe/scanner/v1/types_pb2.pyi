import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_APPROVED: _ClassVar[Verdict]
    VERDICT_FLAGGED: _ClassVar[Verdict]
    VERDICT_REJECTED: _ClassVar[Verdict]
    VERDICT_PENDING: _ClassVar[Verdict]

class RiskLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_LEVEL_UNSPECIFIED: _ClassVar[RiskLevel]
    RISK_LEVEL_LOW: _ClassVar[RiskLevel]
    RISK_LEVEL_MEDIUM: _ClassVar[RiskLevel]
    RISK_LEVEL_HIGH: _ClassVar[RiskLevel]
    RISK_LEVEL_CRITICAL: _ClassVar[RiskLevel]

class MediaType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_TYPE_UNSPECIFIED: _ClassVar[MediaType]
    MEDIA_TYPE_IMAGE: _ClassVar[MediaType]
    MEDIA_TYPE_ANIMATED_GIF: _ClassVar[MediaType]
    MEDIA_TYPE_VIDEO: _ClassVar[MediaType]

class ValueOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALUE_ORIGIN_UNSPECIFIED: _ClassVar[ValueOrigin]
    VALUE_ORIGIN_MEASURED: _ClassVar[ValueOrigin]
    VALUE_ORIGIN_DERIVED: _ClassVar[ValueOrigin]

class ReviewPriority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_PRIORITY_UNSPECIFIED: _ClassVar[ReviewPriority]
    REVIEW_PRIORITY_NORMAL: _ClassVar[ReviewPriority]
    REVIEW_PRIORITY_URGENT: _ClassVar[ReviewPriority]
VERDICT_UNSPECIFIED: Verdict
VERDICT_APPROVED: Verdict
VERDICT_FLAGGED: Verdict
VERDICT_REJECTED: Verdict
VERDICT_PENDING: Verdict
RISK_LEVEL_UNSPECIFIED: RiskLevel
RISK_LEVEL_LOW: RiskLevel
RISK_LEVEL_MEDIUM: RiskLevel
RISK_LEVEL_HIGH: RiskLevel
RISK_LEVEL_CRITICAL: RiskLevel
MEDIA_TYPE_UNSPECIFIED: MediaType
MEDIA_TYPE_IMAGE: MediaType
MEDIA_TYPE_ANIMATED_GIF: MediaType
MEDIA_TYPE_VIDEO: MediaType
VALUE_ORIGIN_UNSPECIFIED: ValueOrigin
VALUE_ORIGIN_MEASURED: ValueOrigin
VALUE_ORIGIN_DERIVED: ValueOrigin
REVIEW_PRIORITY_UNSPECIFIED: ReviewPriority
REVIEW_PRIORITY_NORMAL: ReviewPriority
REVIEW_PRIORITY_URGENT: ReviewPriority

class Provenance(_message.Message):
    __slots__ = ("origin", "source_analyzers", "method")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ANALYZERS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    origin: ValueOrigin
    source_analyzers: _containers.RepeatedScalarFieldContainer[str]
    method: str
    def __init__(self, origin: _Optional[_Union[ValueOrigin, str]] = ..., source_analyzers: _Optional[_Iterable[str]] = ..., method: _Optional[str] = ...) -> None: ...

class ScoredLabel(_message.Message):
    __slots__ = ("label", "score", "origin")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    label: str
    score: float
    origin: ValueOrigin
    def __init__(self, label: _Optional[str] = ..., score: _Optional[float] = ..., origin: _Optional[_Union[ValueOrigin, str]] = ...) -> None: ...

class BoundingBox(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    width: int
    height: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class Detection(_message.Message):
    __slots__ = ("label", "mapped_label", "score", "box")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    MAPPED_LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    label: str
    mapped_label: str
    score: float
    box: BoundingBox
    def __init__(self, label: _Optional[str] = ..., mapped_label: _Optional[str] = ..., score: _Optional[float] = ..., box: _Optional[_Union[BoundingBox, _Mapping]] = ...) -> None: ...

class FrameEvidence(_message.Message):
    __slots__ = ("index", "timestamp", "width", "height", "detections", "scores", "labels", "risk_score")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    index: int
    timestamp: _duration_pb2.Duration
    width: int
    height: int
    detections: _containers.RepeatedCompositeFieldContainer[Detection]
    scores: _containers.ScalarMap[str, float]
    labels: _containers.RepeatedCompositeFieldContainer[ScoredLabel]
    risk_score: float
    def __init__(self, index: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., detections: _Optional[_Iterable[_Union[Detection, _Mapping]]] = ..., scores: _Optional[_Mapping[str, float]] = ..., labels: _Optional[_Iterable[_Union[ScoredLabel, _Mapping]]] = ..., risk_score: _Optional[float] = ...) -> None: ...

class AnalyzerResult(_message.Message):
    __slots__ = ("analyzer", "model_version", "error", "latency", "frames_analyzed", "scores", "labels", "skipped")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    FRAMES_ANALYZED_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    analyzer: str
    model_version: str
    error: _status_pb2.Status
    latency: _duration_pb2.Duration
    frames_analyzed: int
    scores: _containers.ScalarMap[str, float]
    labels: _containers.RepeatedCompositeFieldContainer[ScoredLabel]
    skipped: bool
    def __init__(self, analyzer: _Optional[str] = ..., model_version: _Optional[str] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., frames_analyzed: _Optional[int] = ..., scores: _Optional[_Mapping[str, float]] = ..., labels: _Optional[_Iterable[_Union[ScoredLabel, _Mapping]]] = ..., skipped: _Optional[bool] = ...) -> None: ...

class LegacyNsfwClasses(_message.Message):
    __slots__ = ("drawings", "hentai", "neutral", "porn", "sexy")
    DRAWINGS_FIELD_NUMBER: _ClassVar[int]
    HENTAI_FIELD_NUMBER: _ClassVar[int]
    NEUTRAL_FIELD_NUMBER: _ClassVar[int]
    PORN_FIELD_NUMBER: _ClassVar[int]
    SEXY_FIELD_NUMBER: _ClassVar[int]
    drawings: float
    hentai: float
    neutral: float
    porn: float
    sexy: float
    def __init__(self, drawings: _Optional[float] = ..., hentai: _Optional[float] = ..., neutral: _Optional[float] = ..., porn: _Optional[float] = ..., sexy: _Optional[float] = ...) -> None: ...

class LegacyScores(_message.Message):
    __slots__ = ("nsfw_classes", "danbooru_tags", "rating_tag", "legacy_risk", "provenance")
    NSFW_CLASSES_FIELD_NUMBER: _ClassVar[int]
    DANBOORU_TAGS_FIELD_NUMBER: _ClassVar[int]
    RATING_TAG_FIELD_NUMBER: _ClassVar[int]
    LEGACY_RISK_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    nsfw_classes: LegacyNsfwClasses
    danbooru_tags: _containers.RepeatedCompositeFieldContainer[ScoredLabel]
    rating_tag: str
    legacy_risk: float
    provenance: Provenance
    def __init__(self, nsfw_classes: _Optional[_Union[LegacyNsfwClasses, _Mapping]] = ..., danbooru_tags: _Optional[_Iterable[_Union[ScoredLabel, _Mapping]]] = ..., rating_tag: _Optional[str] = ..., legacy_risk: _Optional[float] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class TextFieldModeration(_message.Message):
    __slots__ = ("field", "flagged", "probability", "matched_terms")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    MATCHED_TERMS_FIELD_NUMBER: _ClassVar[int]
    field: str
    flagged: bool
    probability: float
    matched_terms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, field: _Optional[str] = ..., flagged: _Optional[bool] = ..., probability: _Optional[float] = ..., matched_terms: _Optional[_Iterable[str]] = ...) -> None: ...

class TextModeration(_message.Message):
    __slots__ = ("fields", "flagged")
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedCompositeFieldContainer[TextFieldModeration]
    flagged: bool
    def __init__(self, fields: _Optional[_Iterable[_Union[TextFieldModeration, _Mapping]]] = ..., flagged: _Optional[bool] = ...) -> None: ...

class AgeSignal(_message.Message):
    __slots__ = ("underage_signal", "faces_checked", "min_estimated_age_years", "threshold_years", "child_content_signal", "matched_keywords")
    UNDERAGE_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    FACES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    MIN_ESTIMATED_AGE_YEARS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_YEARS_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTENT_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    MATCHED_KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    underage_signal: bool
    faces_checked: int
    min_estimated_age_years: float
    threshold_years: int
    child_content_signal: bool
    matched_keywords: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, underage_signal: _Optional[bool] = ..., faces_checked: _Optional[int] = ..., min_estimated_age_years: _Optional[float] = ..., threshold_years: _Optional[int] = ..., child_content_signal: _Optional[bool] = ..., matched_keywords: _Optional[_Iterable[str]] = ...) -> None: ...

class HashMatch(_message.Message):
    __slots__ = ("algorithm", "list", "matched_id", "distance", "threshold", "frame_index", "matched_hash", "hash")
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    MATCHED_ID_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FRAME_INDEX_FIELD_NUMBER: _ClassVar[int]
    MATCHED_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    list: str
    matched_id: str
    distance: int
    threshold: int
    frame_index: int
    matched_hash: str
    hash: str
    def __init__(self, algorithm: _Optional[str] = ..., list: _Optional[str] = ..., matched_id: _Optional[str] = ..., distance: _Optional[int] = ..., threshold: _Optional[int] = ..., frame_index: _Optional[int] = ..., matched_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class AppliedThresholds(_message.Message):
    __slots__ = ("auto_approve_under", "auto_flag_over", "auto_reject_over")
    AUTO_APPROVE_UNDER_FIELD_NUMBER: _ClassVar[int]
    AUTO_FLAG_OVER_FIELD_NUMBER: _ClassVar[int]
    AUTO_REJECT_OVER_FIELD_NUMBER: _ClassVar[int]
    auto_approve_under: float
    auto_flag_over: float
    auto_reject_over: float
    def __init__(self, auto_approve_under: _Optional[float] = ..., auto_flag_over: _Optional[float] = ..., auto_reject_over: _Optional[float] = ...) -> None: ...

class ReasonRule(_message.Message):
    __slots__ = ("rule", "description", "observed", "threshold", "labels")
    RULE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    rule: str
    description: str
    observed: float
    threshold: float
    labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rule: _Optional[str] = ..., description: _Optional[str] = ..., observed: _Optional[float] = ..., threshold: _Optional[float] = ..., labels: _Optional[_Iterable[str]] = ...) -> None: ...

class StatementOfReasons(_message.Message):
    __slots__ = ("automated", "rules", "thresholds", "usage_intent", "model_id", "config_version", "summary")
    AUTOMATED_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    automated: bool
    rules: _containers.RepeatedCompositeFieldContainer[ReasonRule]
    thresholds: AppliedThresholds
    usage_intent: str
    model_id: str
    config_version: int
    summary: str
    def __init__(self, automated: _Optional[bool] = ..., rules: _Optional[_Iterable[_Union[ReasonRule, _Mapping]]] = ..., thresholds: _Optional[_Union[AppliedThresholds, _Mapping]] = ..., usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., config_version: _Optional[int] = ..., summary: _Optional[str] = ...) -> None: ...

class ScanResult(_message.Message):
    __slots__ = ("verdict", "nudity_score", "risk_score", "risk_level", "human_review_required", "review_priority", "analyzers", "frames", "legacy", "text", "age", "hash_matches", "reasons", "tags", "frames_total", "frames_analyzed", "pdq_hash", "analysis_version", "complete_time", "warnings")
    class AnalyzersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: AnalyzerResult
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[AnalyzerResult, _Mapping]] = ...) -> None: ...
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    NUDITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    RISK_LEVEL_FIELD_NUMBER: _ClassVar[int]
    HUMAN_REVIEW_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    REVIEW_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ANALYZERS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    LEGACY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AGE_FIELD_NUMBER: _ClassVar[int]
    HASH_MATCHES_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FRAMES_ANALYZED_FIELD_NUMBER: _ClassVar[int]
    PDQ_HASH_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_VERSION_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    verdict: Verdict
    nudity_score: float
    risk_score: float
    risk_level: RiskLevel
    human_review_required: bool
    review_priority: ReviewPriority
    analyzers: _containers.MessageMap[str, AnalyzerResult]
    frames: _containers.RepeatedCompositeFieldContainer[FrameEvidence]
    legacy: LegacyScores
    text: TextModeration
    age: AgeSignal
    hash_matches: _containers.RepeatedCompositeFieldContainer[HashMatch]
    reasons: StatementOfReasons
    tags: _containers.RepeatedScalarFieldContainer[str]
    frames_total: int
    frames_analyzed: int
    pdq_hash: str
    analysis_version: str
    complete_time: _timestamp_pb2.Timestamp
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, verdict: _Optional[_Union[Verdict, str]] = ..., nudity_score: _Optional[float] = ..., risk_score: _Optional[float] = ..., risk_level: _Optional[_Union[RiskLevel, str]] = ..., human_review_required: _Optional[bool] = ..., review_priority: _Optional[_Union[ReviewPriority, str]] = ..., analyzers: _Optional[_Mapping[str, AnalyzerResult]] = ..., frames: _Optional[_Iterable[_Union[FrameEvidence, _Mapping]]] = ..., legacy: _Optional[_Union[LegacyScores, _Mapping]] = ..., text: _Optional[_Union[TextModeration, _Mapping]] = ..., age: _Optional[_Union[AgeSignal, _Mapping]] = ..., hash_matches: _Optional[_Iterable[_Union[HashMatch, _Mapping]]] = ..., reasons: _Optional[_Union[StatementOfReasons, _Mapping]] = ..., tags: _Optional[_Iterable[str]] = ..., frames_total: _Optional[int] = ..., frames_analyzed: _Optional[int] = ..., pdq_hash: _Optional[str] = ..., analysis_version: _Optional[str] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...
