import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestAttributes(_message.Message):
    __slots__ = ("remote_address", "principal", "api_key", "method", "path", "rpc", "event")
    REMOTE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RPC_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    remote_address: str
    principal: str
    api_key: str
    method: str
    path: str
    rpc: str
    event: str
    def __init__(self, remote_address: _Optional[str] = ..., principal: _Optional[str] = ..., api_key: _Optional[str] = ..., method: _Optional[str] = ..., path: _Optional[str] = ..., rpc: _Optional[str] = ..., event: _Optional[str] = ...) -> None: ...

class CheckRateLimitRequest(_message.Message):
    __slots__ = ("attributes", "hits")
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    attributes: RequestAttributes
    hits: int
    def __init__(self, attributes: _Optional[_Union[RequestAttributes, _Mapping]] = ..., hits: _Optional[int] = ...) -> None: ...

class RuleQuota(_message.Message):
    __slots__ = ("rule", "strategy", "limit", "window", "allowed", "remaining", "reset", "retry_after", "shadow", "store_failed")
    RULE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    STORE_FAILED_FIELD_NUMBER: _ClassVar[int]
    rule: str
    strategy: str
    limit: int
    window: _duration_pb2.Duration
    allowed: bool
    remaining: int
    reset: _duration_pb2.Duration
    retry_after: _duration_pb2.Duration
    shadow: bool
    store_failed: bool
    def __init__(self, rule: _Optional[str] = ..., strategy: _Optional[str] = ..., limit: _Optional[int] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., allowed: _Optional[bool] = ..., remaining: _Optional[int] = ..., reset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., shadow: _Optional[bool] = ..., store_failed: _Optional[bool] = ...) -> None: ...

class CheckRateLimitResponse(_message.Message):
    __slots__ = ("allowed", "rules")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    rules: _containers.RepeatedCompositeFieldContainer[RuleQuota]
    def __init__(self, allowed: _Optional[bool] = ..., rules: _Optional[_Iterable[_Union[RuleQuota, _Mapping]]] = ...) -> None: ...

class ResetRateLimitsRequest(_message.Message):
    __slots__ = ("remote_address", "principal")
    REMOTE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    remote_address: str
    principal: str
    def __init__(self, remote_address: _Optional[str] = ..., principal: _Optional[str] = ...) -> None: ...

class ResetRateLimitsResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class ClearRateLimitsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClearRateLimitsResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class GetRateLimitStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RateLimitRule(_message.Message):
    __slots__ = ("name", "strategy", "limit", "window", "cost", "shadow", "fail_mode", "key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    FAIL_MODE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    strategy: str
    limit: int
    window: _duration_pb2.Duration
    cost: int
    shadow: bool
    fail_mode: str
    key: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., strategy: _Optional[str] = ..., limit: _Optional[int] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cost: _Optional[int] = ..., shadow: _Optional[bool] = ..., fail_mode: _Optional[str] = ..., key: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRateLimitStatusResponse(_message.Message):
    __slots__ = ("rules_source", "rules", "store", "store_available", "counts", "last_reload_error")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    RULES_SOURCE_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    STORE_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    LAST_RELOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    rules_source: str
    rules: _containers.RepeatedCompositeFieldContainer[RateLimitRule]
    store: str
    store_available: bool
    counts: _containers.ScalarMap[str, int]
    last_reload_error: str
    def __init__(self, rules_source: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[RateLimitRule, _Mapping]]] = ..., store: _Optional[str] = ..., store_available: _Optional[bool] = ..., counts: _Optional[_Mapping[str, int]] = ..., last_reload_error: _Optional[str] = ...) -> None: ...
