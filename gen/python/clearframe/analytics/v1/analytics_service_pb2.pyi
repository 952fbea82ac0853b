import datetime

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

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_VIEW: _ClassVar[EventType]
    EVENT_TYPE_PLAY: _ClassVar[EventType]
    EVENT_TYPE_CLICK: _ClassVar[EventType]

class Platform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLATFORM_UNSPECIFIED: _ClassVar[Platform]
    PLATFORM_WEB: _ClassVar[Platform]
    PLATFORM_SLACK: _ClassVar[Platform]
    PLATFORM_DISCORD: _ClassVar[Platform]
    PLATFORM_TEAMS: _ClassVar[Platform]
    PLATFORM_TWITTER: _ClassVar[Platform]
    PLATFORM_FACEBOOK: _ClassVar[Platform]
    PLATFORM_OTHER: _ClassVar[Platform]

class Metric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METRIC_UNSPECIFIED: _ClassVar[Metric]
    METRIC_VIEWS: _ClassVar[Metric]
    METRIC_PLAYS: _ClassVar[Metric]
    METRIC_CLICKS: _ClassVar[Metric]
    METRIC_CTR: _ClassVar[Metric]
    METRIC_PLAY_RATE: _ClassVar[Metric]

class Granularity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANULARITY_UNSPECIFIED: _ClassVar[Granularity]
    GRANULARITY_HOUR: _ClassVar[Granularity]
    GRANULARITY_DAY: _ClassVar[Granularity]
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_VIEW: EventType
EVENT_TYPE_PLAY: EventType
EVENT_TYPE_CLICK: EventType
PLATFORM_UNSPECIFIED: Platform
PLATFORM_WEB: Platform
PLATFORM_SLACK: Platform
PLATFORM_DISCORD: Platform
PLATFORM_TEAMS: Platform
PLATFORM_TWITTER: Platform
PLATFORM_FACEBOOK: Platform
PLATFORM_OTHER: Platform
METRIC_UNSPECIFIED: Metric
METRIC_VIEWS: Metric
METRIC_PLAYS: Metric
METRIC_CLICKS: Metric
METRIC_CTR: Metric
METRIC_PLAY_RATE: Metric
GRANULARITY_UNSPECIFIED: Granularity
GRANULARITY_HOUR: Granularity
GRANULARITY_DAY: Granularity

class Event(_message.Message):
    __slots__ = ("event_id", "asset_id", "event_type", "platform", "short_code", "event_time", "attributes", "receive_time", "user_agent", "bot")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    SHORT_CODE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    BOT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    asset_id: str
    event_type: EventType
    platform: Platform
    short_code: str
    event_time: _timestamp_pb2.Timestamp
    attributes: _containers.ScalarMap[str, str]
    receive_time: _timestamp_pb2.Timestamp
    user_agent: str
    bot: bool
    def __init__(self, event_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., event_type: _Optional[_Union[EventType, str]] = ..., platform: _Optional[_Union[Platform, str]] = ..., short_code: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ..., receive_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_agent: _Optional[str] = ..., bot: _Optional[bool] = ...) -> None: ...

class Metrics(_message.Message):
    __slots__ = ("views", "plays", "clicks", "ctr", "play_rate", "total_events", "bot_events")
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    PLAYS_FIELD_NUMBER: _ClassVar[int]
    CLICKS_FIELD_NUMBER: _ClassVar[int]
    CTR_FIELD_NUMBER: _ClassVar[int]
    PLAY_RATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    BOT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    views: int
    plays: int
    clicks: int
    ctr: float
    play_rate: float
    total_events: int
    bot_events: int
    def __init__(self, views: _Optional[int] = ..., plays: _Optional[int] = ..., clicks: _Optional[int] = ..., ctr: _Optional[float] = ..., play_rate: _Optional[float] = ..., total_events: _Optional[int] = ..., bot_events: _Optional[int] = ...) -> None: ...

class AssetMetrics(_message.Message):
    __slots__ = ("asset_id", "views", "plays", "clicks", "ctr", "play_rate", "total_events", "bot_events")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    PLAYS_FIELD_NUMBER: _ClassVar[int]
    CLICKS_FIELD_NUMBER: _ClassVar[int]
    CTR_FIELD_NUMBER: _ClassVar[int]
    PLAY_RATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    BOT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    views: int
    plays: int
    clicks: int
    ctr: float
    play_rate: float
    total_events: int
    bot_events: int
    def __init__(self, asset_id: _Optional[str] = ..., views: _Optional[int] = ..., plays: _Optional[int] = ..., clicks: _Optional[int] = ..., ctr: _Optional[float] = ..., play_rate: _Optional[float] = ..., total_events: _Optional[int] = ..., bot_events: _Optional[int] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordEventRequest(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: Event
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ...) -> None: ...

class RecordEventResponse(_message.Message):
    __slots__ = ("event", "duplicate")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    event: Event
    duplicate: bool
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class BatchRecordEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class BatchRecordEventsResponse(_message.Message):
    __slots__ = ("recorded_count", "duplicate_count", "event_ids", "errors", "bot_count")
    RECORDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    BOT_COUNT_FIELD_NUMBER: _ClassVar[int]
    recorded_count: int
    duplicate_count: int
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    errors: _containers.RepeatedCompositeFieldContainer[EventError]
    bot_count: int
    def __init__(self, recorded_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., event_ids: _Optional[_Iterable[str]] = ..., errors: _Optional[_Iterable[_Union[EventError, _Mapping]]] = ..., bot_count: _Optional[int] = ...) -> None: ...

class PingbackRequest(_message.Message):
    __slots__ = ("asset_id", "event_type", "platform", "short_code", "event_id")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    SHORT_CODE_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    event_type: EventType
    platform: Platform
    short_code: str
    event_id: str
    def __init__(self, asset_id: _Optional[str] = ..., event_type: _Optional[_Union[EventType, str]] = ..., platform: _Optional[_Union[Platform, str]] = ..., short_code: _Optional[str] = ..., event_id: _Optional[str] = ...) -> None: ...

class StreamRecordEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class StreamRecordEventsResponse(_message.Message):
    __slots__ = ("recorded_count", "duplicate_count", "bot_count", "error_count", "errors")
    RECORDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    BOT_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    recorded_count: int
    duplicate_count: int
    bot_count: int
    error_count: int
    errors: _containers.RepeatedCompositeFieldContainer[EventError]
    def __init__(self, recorded_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., bot_count: _Optional[int] = ..., error_count: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[EventError, _Mapping]]] = ...) -> None: ...

class EventError(_message.Message):
    __slots__ = ("index", "event_id", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    event_id: str
    error: _status_pb2.Status
    def __init__(self, index: _Optional[int] = ..., event_id: _Optional[str] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "asset_id", "short_code", "event_type", "platform", "time_range")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    SHORT_CODE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    asset_id: str
    short_code: str
    event_type: EventType
    platform: Platform
    time_range: TimeRange
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., asset_id: _Optional[str] = ..., short_code: _Optional[str] = ..., event_type: _Optional[_Union[EventType, str]] = ..., platform: _Optional[_Union[Platform, str]] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAssetMetricsRequest(_message.Message):
    __slots__ = ("asset_id", "time_range")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    time_range: TimeRange
    def __init__(self, asset_id: _Optional[str] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ...) -> None: ...

class GetAssetMetricsResponse(_message.Message):
    __slots__ = ("metrics",)
    METRICS_FIELD_NUMBER: _ClassVar[int]
    metrics: AssetMetrics
    def __init__(self, metrics: _Optional[_Union[AssetMetrics, _Mapping]] = ...) -> None: ...

class PlatformMetrics(_message.Message):
    __slots__ = ("platform", "metrics")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    platform: Platform
    metrics: Metrics
    def __init__(self, platform: _Optional[_Union[Platform, str]] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ...) -> None: ...

class GetPlatformMetricsRequest(_message.Message):
    __slots__ = ("asset_id", "time_range")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    time_range: TimeRange
    def __init__(self, asset_id: _Optional[str] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ...) -> None: ...

class GetPlatformMetricsResponse(_message.Message):
    __slots__ = ("asset_id", "platforms")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORMS_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    platforms: _containers.RepeatedCompositeFieldContainer[PlatformMetrics]
    def __init__(self, asset_id: _Optional[str] = ..., platforms: _Optional[_Iterable[_Union[PlatformMetrics, _Mapping]]] = ...) -> None: ...

class GetShortLinkMetricsRequest(_message.Message):
    __slots__ = ("short_code", "time_range")
    SHORT_CODE_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    short_code: str
    time_range: TimeRange
    def __init__(self, short_code: _Optional[str] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ...) -> None: ...

class GetShortLinkMetricsResponse(_message.Message):
    __slots__ = ("short_code", "asset_id", "metrics")
    SHORT_CODE_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    short_code: str
    asset_id: str
    metrics: Metrics
    def __init__(self, short_code: _Optional[str] = ..., asset_id: _Optional[str] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ...) -> None: ...

class ListTopAssetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "metric", "platform", "time_range", "min_views")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    MIN_VIEWS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    metric: Metric
    platform: Platform
    time_range: TimeRange
    min_views: int
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., metric: _Optional[_Union[Metric, str]] = ..., platform: _Optional[_Union[Platform, str]] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., min_views: _Optional[int] = ...) -> None: ...

class ListTopAssetsResponse(_message.Message):
    __slots__ = ("assets", "next_page_token")
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    assets: _containers.RepeatedCompositeFieldContainer[AssetMetrics]
    next_page_token: str
    def __init__(self, assets: _Optional[_Iterable[_Union[AssetMetrics, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetAssetTimeSeriesRequest(_message.Message):
    __slots__ = ("asset_id", "granularity", "time_range", "platform", "short_code")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    SHORT_CODE_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    granularity: Granularity
    time_range: TimeRange
    platform: Platform
    short_code: str
    def __init__(self, asset_id: _Optional[str] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., platform: _Optional[_Union[Platform, str]] = ..., short_code: _Optional[str] = ...) -> None: ...

class TimeSeriesBucket(_message.Message):
    __slots__ = ("start_time", "metrics")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    metrics: Metrics
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ...) -> None: ...

class GetAssetTimeSeriesResponse(_message.Message):
    __slots__ = ("asset_id", "granularity", "buckets")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    granularity: Granularity
    buckets: _containers.RepeatedCompositeFieldContainer[TimeSeriesBucket]
    def __init__(self, asset_id: _Optional[str] = ..., granularity: _Optional[_Union[Granularity, str]] = ..., buckets: _Optional[_Iterable[_Union[TimeSeriesBucket, _Mapping]]] = ...) -> None: ...

class PurgeEventsRequest(_message.Message):
    __slots__ = ("asset_id", "all")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    all: bool
    def __init__(self, asset_id: _Optional[str] = ..., all: _Optional[bool] = ...) -> None: ...

class PurgeEventsResponse(_message.Message):
    __slots__ = ("deleted_count",)
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    deleted_count: int
    def __init__(self, deleted_count: _Optional[int] = ...) -> None: ...
