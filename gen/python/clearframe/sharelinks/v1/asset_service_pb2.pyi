import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssetVisibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_VISIBILITY_UNSPECIFIED: _ClassVar[AssetVisibility]
    ASSET_VISIBILITY_PUBLIC: _ClassVar[AssetVisibility]
    ASSET_VISIBILITY_SIGNED: _ClassVar[AssetVisibility]

class CachePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CACHE_POLICY_UNSPECIFIED: _ClassVar[CachePolicy]
    CACHE_POLICY_IMMUTABLE: _ClassVar[CachePolicy]
    CACHE_POLICY_LONG: _ClassVar[CachePolicy]
    CACHE_POLICY_SHORT: _ClassVar[CachePolicy]
    CACHE_POLICY_NO_CACHE: _ClassVar[CachePolicy]

class ModerationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODERATION_STATUS_UNSPECIFIED: _ClassVar[ModerationStatus]
    MODERATION_STATUS_PENDING: _ClassVar[ModerationStatus]
    MODERATION_STATUS_APPROVED: _ClassVar[ModerationStatus]
    MODERATION_STATUS_FLAGGED: _ClassVar[ModerationStatus]
    MODERATION_STATUS_REJECTED: _ClassVar[ModerationStatus]
    MODERATION_STATUS_ERROR: _ClassVar[ModerationStatus]

class RenditionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RENDITION_STATE_UNSPECIFIED: _ClassVar[RenditionState]
    RENDITION_STATE_PENDING: _ClassVar[RenditionState]
    RENDITION_STATE_READY: _ClassVar[RenditionState]
    RENDITION_STATE_FAILED: _ClassVar[RenditionState]

class SignedUrlProblem(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNED_URL_PROBLEM_UNSPECIFIED: _ClassVar[SignedUrlProblem]
    SIGNED_URL_PROBLEM_MALFORMED: _ClassVar[SignedUrlProblem]
    SIGNED_URL_PROBLEM_MISSING_PARAMS: _ClassVar[SignedUrlProblem]
    SIGNED_URL_PROBLEM_BAD_SIGNATURE: _ClassVar[SignedUrlProblem]
    SIGNED_URL_PROBLEM_EXPIRED: _ClassVar[SignedUrlProblem]
    SIGNED_URL_PROBLEM_UNKNOWN_KEY: _ClassVar[SignedUrlProblem]
    SIGNED_URL_PROBLEM_LIFETIME_TOO_LONG: _ClassVar[SignedUrlProblem]
ASSET_VISIBILITY_UNSPECIFIED: AssetVisibility
ASSET_VISIBILITY_PUBLIC: AssetVisibility
ASSET_VISIBILITY_SIGNED: AssetVisibility
CACHE_POLICY_UNSPECIFIED: CachePolicy
CACHE_POLICY_IMMUTABLE: CachePolicy
CACHE_POLICY_LONG: CachePolicy
CACHE_POLICY_SHORT: CachePolicy
CACHE_POLICY_NO_CACHE: CachePolicy
MODERATION_STATUS_UNSPECIFIED: ModerationStatus
MODERATION_STATUS_PENDING: ModerationStatus
MODERATION_STATUS_APPROVED: ModerationStatus
MODERATION_STATUS_FLAGGED: ModerationStatus
MODERATION_STATUS_REJECTED: ModerationStatus
MODERATION_STATUS_ERROR: ModerationStatus
RENDITION_STATE_UNSPECIFIED: RenditionState
RENDITION_STATE_PENDING: RenditionState
RENDITION_STATE_READY: RenditionState
RENDITION_STATE_FAILED: RenditionState
SIGNED_URL_PROBLEM_UNSPECIFIED: SignedUrlProblem
SIGNED_URL_PROBLEM_MALFORMED: SignedUrlProblem
SIGNED_URL_PROBLEM_MISSING_PARAMS: SignedUrlProblem
SIGNED_URL_PROBLEM_BAD_SIGNATURE: SignedUrlProblem
SIGNED_URL_PROBLEM_EXPIRED: SignedUrlProblem
SIGNED_URL_PROBLEM_UNKNOWN_KEY: SignedUrlProblem
SIGNED_URL_PROBLEM_LIFETIME_TOO_LONG: SignedUrlProblem

class Asset(_message.Message):
    __slots__ = ("asset_id", "canonical_url", "content_type", "size_bytes", "sha256", "width", "height", "frame_count", "duration", "title", "tags", "description", "filename", "usage_intent", "model_id", "visibility", "cache_policy", "moderation_status", "scan_id", "owner", "create_time", "update_time", "decision_id", "moderation_error", "renditions")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_URL_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    CACHE_POLICY_FIELD_NUMBER: _ClassVar[int]
    MODERATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    SCAN_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    MODERATION_ERROR_FIELD_NUMBER: _ClassVar[int]
    RENDITIONS_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    canonical_url: str
    content_type: str
    size_bytes: int
    sha256: str
    width: int
    height: int
    frame_count: int
    duration: _duration_pb2.Duration
    title: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    description: str
    filename: str
    usage_intent: str
    model_id: str
    visibility: AssetVisibility
    cache_policy: CachePolicy
    moderation_status: ModerationStatus
    scan_id: str
    owner: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    decision_id: str
    moderation_error: str
    renditions: _containers.RepeatedCompositeFieldContainer[Rendition]
    def __init__(self, asset_id: _Optional[str] = ..., canonical_url: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., frame_count: _Optional[int] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., title: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., filename: _Optional[str] = ..., usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., visibility: _Optional[_Union[AssetVisibility, str]] = ..., cache_policy: _Optional[_Union[CachePolicy, str]] = ..., moderation_status: _Optional[_Union[ModerationStatus, str]] = ..., scan_id: _Optional[str] = ..., owner: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_id: _Optional[str] = ..., moderation_error: _Optional[str] = ..., renditions: _Optional[_Iterable[_Union[Rendition, _Mapping]]] = ...) -> None: ...

class Rendition(_message.Message):
    __slots__ = ("name", "url", "content_type", "width", "height", "size_bytes", "state", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    url: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    state: RenditionState
    error: str
    def __init__(self, name: _Optional[str] = ..., url: _Optional[str] = ..., content_type: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., size_bytes: _Optional[int] = ..., state: _Optional[_Union[RenditionState, str]] = ..., error: _Optional[str] = ...) -> None: ...

class CreateAssetRequest(_message.Message):
    __slots__ = ("body", "title", "tags", "description", "filename", "usage_intent", "model_id", "visibility", "cache_policy")
    BODY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    USAGE_INTENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    CACHE_POLICY_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    title: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    description: str
    filename: str
    usage_intent: str
    model_id: str
    visibility: AssetVisibility
    cache_policy: CachePolicy
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., title: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., filename: _Optional[str] = ..., usage_intent: _Optional[str] = ..., model_id: _Optional[str] = ..., visibility: _Optional[_Union[AssetVisibility, str]] = ..., cache_policy: _Optional[_Union[CachePolicy, str]] = ...) -> None: ...

class CreateAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class GetAssetRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class GetAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class ListAssetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "moderation_status", "owner", "tag")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MODERATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    moderation_status: ModerationStatus
    owner: str
    tag: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., moderation_status: _Optional[_Union[ModerationStatus, str]] = ..., owner: _Optional[str] = ..., tag: _Optional[str] = ...) -> None: ...

class ListAssetsResponse(_message.Message):
    __slots__ = ("assets", "next_page_token")
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    next_page_token: str
    def __init__(self, assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateAssetRequest(_message.Message):
    __slots__ = ("asset", "update_mask")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class DeleteAssetRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class DeleteAssetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DownloadAssetRequest(_message.Message):
    __slots__ = ("asset_id", "expires", "signature", "disposition", "filename", "platform", "subject", "kid", "rendition", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    RENDITION_FIELD_NUMBER: _ClassVar[int]
    UTM_SOURCE_FIELD_NUMBER: _ClassVar[int]
    UTM_MEDIUM_FIELD_NUMBER: _ClassVar[int]
    UTM_CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    UTM_TERM_FIELD_NUMBER: _ClassVar[int]
    UTM_CONTENT_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    expires: int
    signature: str
    disposition: str
    filename: str
    platform: str
    subject: str
    kid: str
    rendition: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    def __init__(self, asset_id: _Optional[str] = ..., expires: _Optional[int] = ..., signature: _Optional[str] = ..., disposition: _Optional[str] = ..., filename: _Optional[str] = ..., platform: _Optional[str] = ..., subject: _Optional[str] = ..., kid: _Optional[str] = ..., rendition: _Optional[str] = ..., utm_source: _Optional[str] = ..., utm_medium: _Optional[str] = ..., utm_campaign: _Optional[str] = ..., utm_term: _Optional[str] = ..., utm_content: _Optional[str] = ...) -> None: ...

class RescanAssetRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class RescanAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class GetAssetPreviewRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class GetAssetReviewFrameRequest(_message.Message):
    __slots__ = ("asset_id", "frame_index")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_INDEX_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    frame_index: int
    def __init__(self, asset_id: _Optional[str] = ..., frame_index: _Optional[int] = ...) -> None: ...

class SignAssetUrlRequest(_message.Message):
    __slots__ = ("asset_id", "ttl", "disposition", "filename", "platform", "subject", "rendition")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    DISPOSITION_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    RENDITION_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    ttl: _duration_pb2.Duration
    disposition: str
    filename: str
    platform: str
    subject: str
    rendition: str
    def __init__(self, asset_id: _Optional[str] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., disposition: _Optional[str] = ..., filename: _Optional[str] = ..., platform: _Optional[str] = ..., subject: _Optional[str] = ..., rendition: _Optional[str] = ...) -> None: ...

class SignAssetUrlResponse(_message.Message):
    __slots__ = ("url", "expire_time", "signature")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    url: str
    expire_time: _timestamp_pb2.Timestamp
    signature: str
    def __init__(self, url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signature: _Optional[str] = ...) -> None: ...

class VerifySignedUrlRequest(_message.Message):
    __slots__ = ("url",)
    URL_FIELD_NUMBER: _ClassVar[int]
    url: str
    def __init__(self, url: _Optional[str] = ...) -> None: ...

class VerifySignedUrlResponse(_message.Message):
    __slots__ = ("valid", "problem", "message", "expire_time", "asset_id")
    VALID_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    problem: SignedUrlProblem
    message: str
    expire_time: _timestamp_pb2.Timestamp
    asset_id: str
    def __init__(self, valid: _Optional[bool] = ..., problem: _Optional[_Union[SignedUrlProblem, str]] = ..., message: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., asset_id: _Optional[str] = ...) -> None: ...
