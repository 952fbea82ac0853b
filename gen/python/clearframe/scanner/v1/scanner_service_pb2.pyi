import datetime

from clearframe.scanner.v1 import types_pb2 as _types_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScanState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCAN_STATE_UNSPECIFIED: _ClassVar[ScanState]
    SCAN_STATE_QUEUED: _ClassVar[ScanState]
    SCAN_STATE_RUNNING: _ClassVar[ScanState]
    SCAN_STATE_SUCCEEDED: _ClassVar[ScanState]
    SCAN_STATE_FAILED: _ClassVar[ScanState]
SCAN_STATE_UNSPECIFIED: ScanState
SCAN_STATE_QUEUED: ScanState
SCAN_STATE_RUNNING: ScanState
SCAN_STATE_SUCCEEDED: ScanState
SCAN_STATE_FAILED: ScanState

class Scan(_message.Message):
    __slots__ = ("scan_id", "asset_id", "state", "media_type", "content_type", "size_bytes", "sha256", "usage_intent", "model_id", "title", "tags", "description", "creator", "create_time", "complete_time", "result", "error")
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    asset_id: str
    state: ScanState
    media_type: _types_pb2.MediaType
    content_type: str
    size_bytes: int
    sha256: str
    usage_intent: str
    model_id: str
    title: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    description: str
    creator: str
    create_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    result: _types_pb2.ScanResult
    error: _status_pb2.Status
    def __init__(self, scan_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., state: _Optional[_Union[ScanState, str]] = ..., media_type: _Optional[_Union[_types_pb2.MediaType, str]] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., title: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[_Union[_types_pb2.ScanResult, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class CreateScanRequest(_message.Message):
    __slots__ = ("body", "usage_intent", "model_id", "title", "tags", "description", "asset_id", "scan_id", "request_id", "return_immediately")
    BODY_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RETURN_IMMEDIATELY_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    usage_intent: str
    model_id: str
    title: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    description: str
    asset_id: str
    scan_id: str
    request_id: str
    return_immediately: bool
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., title: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., asset_id: _Optional[str] = ..., scan_id: _Optional[str] = ..., request_id: _Optional[str] = ..., return_immediately: _Optional[bool] = ...) -> None: ...

class CreateScanResponse(_message.Message):
    __slots__ = ("scan",)
    SCAN_FIELD_NUMBER: _ClassVar[int]
    scan: Scan
    def __init__(self, scan: _Optional[_Union[Scan, _Mapping]] = ...) -> None: ...

class GetScanRequest(_message.Message):
    __slots__ = ("scan_id",)
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    scan_id: str
    def __init__(self, scan_id: _Optional[str] = ...) -> None: ...

class GetScanResponse(_message.Message):
    __slots__ = ("scan",)
    SCAN_FIELD_NUMBER: _ClassVar[int]
    scan: Scan
    def __init__(self, scan: _Optional[_Union[Scan, _Mapping]] = ...) -> None: ...

class ListScansRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "asset_id", "verdict", "usage_intent", "model_id", "start_time", "end_time")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    asset_id: str
    verdict: _types_pb2.Verdict
    usage_intent: str
    model_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., asset_id: _Optional[str] = ..., verdict: _Optional[_Union[_types_pb2.Verdict, str]] = ..., usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListScansResponse(_message.Message):
    __slots__ = ("scans", "next_page_token")
    SCANS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    scans: _containers.RepeatedCompositeFieldContainer[Scan]
    next_page_token: str
    def __init__(self, scans: _Optional[_Iterable[_Union[Scan, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListTagStatsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class TagStat(_message.Message):
    __slots__ = ("label", "count")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    label: str
    count: int
    def __init__(self, label: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ListTagStatsResponse(_message.Message):
    __slots__ = ("tags", "recorded_count", "next_page_token")
    TAGS_FIELD_NUMBER: _ClassVar[int]
    RECORDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.RepeatedCompositeFieldContainer[TagStat]
    recorded_count: int
    next_page_token: str
    def __init__(self, tags: _Optional[_Iterable[_Union[TagStat, _Mapping]]] = ..., recorded_count: _Optional[int] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LegacyCheckRequest(_message.Message):
    __slots__ = ("body",)
    BODY_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ...) -> None: ...

class LegacyBatchRequest(_message.Message):
    __slots__ = ("body",)
    BODY_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ...) -> None: ...

class LegacyStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
