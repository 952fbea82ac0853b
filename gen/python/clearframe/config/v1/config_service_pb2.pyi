import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConfigSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFIG_SOURCE_UNSPECIFIED: _ClassVar[ConfigSource]
    CONFIG_SOURCE_MODEL_OVERRIDE: _ClassVar[ConfigSource]
    CONFIG_SOURCE_INTENT_GLOBAL: _ClassVar[ConfigSource]
    CONFIG_SOURCE_BUILTIN_DEFAULT: _ClassVar[ConfigSource]

class ConfigEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONFIG_EVENT_TYPE_UNSPECIFIED: _ClassVar[ConfigEventType]
    CONFIG_EVENT_TYPE_SNAPSHOT: _ClassVar[ConfigEventType]
    CONFIG_EVENT_TYPE_SNAPSHOT_COMPLETE: _ClassVar[ConfigEventType]
    CONFIG_EVENT_TYPE_UPDATED: _ClassVar[ConfigEventType]
    CONFIG_EVENT_TYPE_DEACTIVATED: _ClassVar[ConfigEventType]
    CONFIG_EVENT_TYPE_HEARTBEAT: _ClassVar[ConfigEventType]
CONFIG_SOURCE_UNSPECIFIED: ConfigSource
CONFIG_SOURCE_MODEL_OVERRIDE: ConfigSource
CONFIG_SOURCE_INTENT_GLOBAL: ConfigSource
CONFIG_SOURCE_BUILTIN_DEFAULT: ConfigSource
CONFIG_EVENT_TYPE_UNSPECIFIED: ConfigEventType
CONFIG_EVENT_TYPE_SNAPSHOT: ConfigEventType
CONFIG_EVENT_TYPE_SNAPSHOT_COMPLETE: ConfigEventType
CONFIG_EVENT_TYPE_UPDATED: ConfigEventType
CONFIG_EVENT_TYPE_DEACTIVATED: ConfigEventType
CONFIG_EVENT_TYPE_HEARTBEAT: ConfigEventType

class NudenetComponents(_message.Message):
    __slots__ = ("breast_detection", "genitalia_detection", "buttocks_detection", "anus_detection", "face_detection")
    BREAST_DETECTION_FIELD_NUMBER: _ClassVar[int]
    GENITALIA_DETECTION_FIELD_NUMBER: _ClassVar[int]
    BUTTOCKS_DETECTION_FIELD_NUMBER: _ClassVar[int]
    ANUS_DETECTION_FIELD_NUMBER: _ClassVar[int]
    FACE_DETECTION_FIELD_NUMBER: _ClassVar[int]
    breast_detection: bool
    genitalia_detection: bool
    buttocks_detection: bool
    anus_detection: bool
    face_detection: bool
    def __init__(self, breast_detection: _Optional[bool] = ..., genitalia_detection: _Optional[bool] = ..., buttocks_detection: _Optional[bool] = ..., anus_detection: _Optional[bool] = ..., face_detection: _Optional[bool] = ...) -> None: ...

class BlipComponents(_message.Message):
    __slots__ = ("age_estimation", "child_content_detection", "image_description")
    AGE_ESTIMATION_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTENT_DETECTION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    age_estimation: bool
    child_content_detection: bool
    image_description: bool
    def __init__(self, age_estimation: _Optional[bool] = ..., child_content_detection: _Optional[bool] = ..., image_description: _Optional[bool] = ...) -> None: ...

class DetectionConfig(_message.Message):
    __slots__ = ("nudenet_components", "blip_components")
    NUDENET_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    BLIP_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    nudenet_components: NudenetComponents
    blip_components: BlipComponents
    def __init__(self, nudenet_components: _Optional[_Union[NudenetComponents, _Mapping]] = ..., blip_components: _Optional[_Union[BlipComponents, _Mapping]] = ...) -> None: ...

class Thresholds(_message.Message):
    __slots__ = ("auto_approve_under", "auto_flag_over", "auto_reject_over")
    AUTO_APPROVE_UNDER_FIELD_NUMBER: _ClassVar[int]
    AUTO_FLAG_OVER_FIELD_NUMBER: _ClassVar[int]
    AUTO_REJECT_OVER_FIELD_NUMBER: _ClassVar[int]
    auto_approve_under: float
    auto_flag_over: float
    auto_reject_over: float
    def __init__(self, auto_approve_under: _Optional[float] = ..., auto_flag_over: _Optional[float] = ..., auto_reject_over: _Optional[float] = ...) -> None: ...

class RiskMultipliers(_message.Message):
    __slots__ = ("underage_detected", "child_content_blip")
    UNDERAGE_DETECTED_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTENT_BLIP_FIELD_NUMBER: _ClassVar[int]
    underage_detected: float
    child_content_blip: float
    def __init__(self, underage_detected: _Optional[float] = ..., child_content_blip: _Optional[float] = ...) -> None: ...

class ScoringConfig(_message.Message):
    __slots__ = ("detection_weights", "thresholds", "risk_multipliers")
    class DetectionWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    DETECTION_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    RISK_MULTIPLIERS_FIELD_NUMBER: _ClassVar[int]
    detection_weights: _containers.ScalarMap[str, float]
    thresholds: Thresholds
    risk_multipliers: RiskMultipliers
    def __init__(self, detection_weights: _Optional[_Mapping[str, float]] = ..., thresholds: _Optional[_Union[Thresholds, _Mapping]] = ..., risk_multipliers: _Optional[_Union[RiskMultipliers, _Mapping]] = ...) -> None: ...

class BlipConfig(_message.Message):
    __slots__ = ("enabled", "child_detection_keywords", "age_estimation_threshold", "description_analysis", "webhook_delivery")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    CHILD_DETECTION_KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    AGE_ESTIMATION_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_DELIVERY_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    child_detection_keywords: _containers.RepeatedScalarFieldContainer[str]
    age_estimation_threshold: int
    description_analysis: bool
    webhook_delivery: bool
    def __init__(self, enabled: _Optional[bool] = ..., child_detection_keywords: _Optional[_Iterable[str]] = ..., age_estimation_threshold: _Optional[int] = ..., description_analysis: _Optional[bool] = ..., webhook_delivery: _Optional[bool] = ...) -> None: ...

class ConfigBody(_message.Message):
    __slots__ = ("detection_config", "scoring_config", "blip_config")
    DETECTION_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SCORING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    BLIP_CONFIG_FIELD_NUMBER: _ClassVar[int]
    detection_config: DetectionConfig
    scoring_config: ScoringConfig
    blip_config: BlipConfig
    def __init__(self, detection_config: _Optional[_Union[DetectionConfig, _Mapping]] = ..., scoring_config: _Optional[_Union[ScoringConfig, _Mapping]] = ..., blip_config: _Optional[_Union[BlipConfig, _Mapping]] = ...) -> None: ...

class AnalysisConfig(_message.Message):
    __slots__ = ("id", "usage_intent", "model_id", "detection_config", "scoring_config", "blip_config", "version", "is_active", "created_by", "created_at", "updated_at", "not_run", "warnings")
    ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    DETECTION_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SCORING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    BLIP_CONFIG_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    NOT_RUN_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    id: int
    usage_intent: str
    model_id: str
    detection_config: DetectionConfig
    scoring_config: ScoringConfig
    blip_config: BlipConfig
    version: int
    is_active: bool
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    not_run: _containers.RepeatedCompositeFieldContainer[NotRunComponent]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[int] = ..., usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., detection_config: _Optional[_Union[DetectionConfig, _Mapping]] = ..., scoring_config: _Optional[_Union[ScoringConfig, _Mapping]] = ..., blip_config: _Optional[_Union[BlipConfig, _Mapping]] = ..., version: _Optional[int] = ..., is_active: _Optional[bool] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_run: _Optional[_Iterable[_Union[NotRunComponent, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class NotRunComponent(_message.Message):
    __slots__ = ("field", "reason")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    field: str
    reason: str
    def __init__(self, field: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CacheStatus(_message.Message):
    __slots__ = ("cached", "age_ms", "expires_in_ms")
    CACHED_FIELD_NUMBER: _ClassVar[int]
    AGE_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_MS_FIELD_NUMBER: _ClassVar[int]
    cached: bool
    age_ms: int
    expires_in_ms: int
    def __init__(self, cached: _Optional[bool] = ..., age_ms: _Optional[int] = ..., expires_in_ms: _Optional[int] = ...) -> None: ...

class GetAnalysisConfigRequest(_message.Message):
    __slots__ = ("usage_intent", "model_id", "api_key")
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    usage_intent: str
    model_id: str
    api_key: str
    def __init__(self, usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., api_key: _Optional[str] = ...) -> None: ...

class GetAnalysisConfigResponse(_message.Message):
    __slots__ = ("success", "data", "message", "cache_status")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CACHE_STATUS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    data: AnalysisConfig
    message: str
    cache_status: CacheStatus
    def __init__(self, success: _Optional[bool] = ..., data: _Optional[_Union[AnalysisConfig, _Mapping]] = ..., message: _Optional[str] = ..., cache_status: _Optional[_Union[CacheStatus, _Mapping]] = ...) -> None: ...

class UpdateAnalysisConfigRequest(_message.Message):
    __slots__ = ("usage_intent", "model_id", "config", "update_mask", "api_key", "config_json")
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    usage_intent: str
    model_id: str
    config: ConfigBody
    update_mask: _field_mask_pb2.FieldMask
    api_key: str
    config_json: _struct_pb2.Struct
    def __init__(self, usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., config: _Optional[_Union[ConfigBody, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., api_key: _Optional[str] = ..., config_json: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class UpdateAnalysisConfigResponse(_message.Message):
    __slots__ = ("success", "data", "message", "cache_status", "warnings")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CACHE_STATUS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    data: AnalysisConfig
    message: str
    cache_status: CacheStatus
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, success: _Optional[bool] = ..., data: _Optional[_Union[AnalysisConfig, _Mapping]] = ..., message: _Optional[str] = ..., cache_status: _Optional[_Union[CacheStatus, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteAnalysisConfigRequest(_message.Message):
    __slots__ = ("usage_intent", "model_id", "api_key")
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    usage_intent: str
    model_id: str
    api_key: str
    def __init__(self, usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., api_key: _Optional[str] = ...) -> None: ...

class DeleteAnalysisConfigResponse(_message.Message):
    __slots__ = ("success", "data", "message")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    data: AnalysisConfig
    message: str
    def __init__(self, success: _Optional[bool] = ..., data: _Optional[_Union[AnalysisConfig, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class AnalysisConfigAuditEntry(_message.Message):
    __slots__ = ("id", "config_id", "action", "changed_by", "source_ip", "user_agent", "changes", "previous_values", "usage_intent", "model_id", "timestamp", "version")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VALUES_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    id: int
    config_id: int
    action: str
    changed_by: str
    source_ip: str
    user_agent: str
    changes: ConfigBody
    previous_values: AnalysisConfig
    usage_intent: str
    model_id: str
    timestamp: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, id: _Optional[int] = ..., config_id: _Optional[int] = ..., action: _Optional[str] = ..., changed_by: _Optional[str] = ..., source_ip: _Optional[str] = ..., user_agent: _Optional[str] = ..., changes: _Optional[_Union[ConfigBody, _Mapping]] = ..., previous_values: _Optional[_Union[AnalysisConfig, _Mapping]] = ..., usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class ListAnalysisConfigAuditRequest(_message.Message):
    __slots__ = ("usage_intent", "limit", "offset", "page_size", "page_token", "model_id", "api_key")
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    usage_intent: str
    limit: int
    offset: int
    page_size: int
    page_token: str
    model_id: str
    api_key: str
    def __init__(self, usage_intent: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., model_id: _Optional[str] = ..., api_key: _Optional[str] = ...) -> None: ...

class AuditPagination(_message.Message):
    __slots__ = ("limit", "offset", "total")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    limit: int
    offset: int
    total: int
    def __init__(self, limit: _Optional[int] = ..., offset: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class ListAnalysisConfigAuditResponse(_message.Message):
    __slots__ = ("success", "data", "pagination", "next_page_token")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    success: bool
    data: _containers.RepeatedCompositeFieldContainer[AnalysisConfigAuditEntry]
    pagination: AuditPagination
    next_page_token: str
    def __init__(self, success: _Optional[bool] = ..., data: _Optional[_Iterable[_Union[AnalysisConfigAuditEntry, _Mapping]]] = ..., pagination: _Optional[_Union[AuditPagination, _Mapping]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ValidateAnalysisConfigRequest(_message.Message):
    __slots__ = ("config", "api_key", "config_json")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    config: ConfigBody
    api_key: str
    config_json: _struct_pb2.Struct
    def __init__(self, config: _Optional[_Union[ConfigBody, _Mapping]] = ..., api_key: _Optional[str] = ..., config_json: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ValidateAnalysisConfigResponse(_message.Message):
    __slots__ = ("success", "valid", "errors", "warnings", "not_run")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    NOT_RUN_FIELD_NUMBER: _ClassVar[int]
    success: bool
    valid: bool
    errors: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    not_run: _containers.RepeatedCompositeFieldContainer[NotRunComponent]
    def __init__(self, success: _Optional[bool] = ..., valid: _Optional[bool] = ..., errors: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ..., not_run: _Optional[_Iterable[_Union[NotRunComponent, _Mapping]]] = ...) -> None: ...

class CacheScope(_message.Message):
    __slots__ = ("usage_intent", "model_id")
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    usage_intent: str
    model_id: str
    def __init__(self, usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ...) -> None: ...

class ClearAnalysisConfigCacheRequest(_message.Message):
    __slots__ = ("scope", "api_key")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    scope: CacheScope
    api_key: str
    def __init__(self, scope: _Optional[_Union[CacheScope, _Mapping]] = ..., api_key: _Optional[str] = ...) -> None: ...

class ClearAnalysisConfigCacheResponse(_message.Message):
    __slots__ = ("success", "message", "cleared_entries")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CLEARED_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    cleared_entries: int
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., cleared_entries: _Optional[int] = ...) -> None: ...

class ResolveAnalysisConfigRequest(_message.Message):
    __slots__ = ("usage_intent", "model_id", "api_key")
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    usage_intent: str
    model_id: str
    api_key: str
    def __init__(self, usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., api_key: _Optional[str] = ...) -> None: ...

class ResolveAnalysisConfigResponse(_message.Message):
    __slots__ = ("config", "source", "version", "revision")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    config: AnalysisConfig
    source: ConfigSource
    version: int
    revision: int
    def __init__(self, config: _Optional[_Union[AnalysisConfig, _Mapping]] = ..., source: _Optional[_Union[ConfigSource, str]] = ..., version: _Optional[int] = ..., revision: _Optional[int] = ...) -> None: ...

class WatchAnalysisConfigsRequest(_message.Message):
    __slots__ = ("usage_intent", "model_id", "snapshot", "since_revision", "api_key")
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    SINCE_REVISION_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    usage_intent: str
    model_id: str
    snapshot: bool
    since_revision: int
    api_key: str
    def __init__(self, usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., snapshot: _Optional[bool] = ..., since_revision: _Optional[int] = ..., api_key: _Optional[str] = ...) -> None: ...

class WatchAnalysisConfigsResponse(_message.Message):
    __slots__ = ("event_type", "revision", "config", "changed_by", "event_time", "usage_intent", "model_id", "version", "action", "resolved")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    event_type: ConfigEventType
    revision: int
    config: AnalysisConfig
    changed_by: str
    event_time: _timestamp_pb2.Timestamp
    usage_intent: str
    model_id: str
    version: int
    action: str
    resolved: ResolveAnalysisConfigResponse
    def __init__(self, event_type: _Optional[_Union[ConfigEventType, str]] = ..., revision: _Optional[int] = ..., config: _Optional[_Union[AnalysisConfig, _Mapping]] = ..., changed_by: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., version: _Optional[int] = ..., action: _Optional[str] = ..., resolved: _Optional[_Union[ResolveAnalysisConfigResponse, _Mapping]] = ...) -> None: ...
