import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ShareLink(_message.Message):
    __slots__ = ("code", "asset_id", "short_url", "canonical_url", "title", "tags", "description", "clicks", "creator", "create_time", "last_click_time", "expire_time", "max_clicks", "disabled", "redirect_status", "utm", "previews", "update_time")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    SHORT_URL_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CLICKS_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_CLICK_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_CLICKS_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_STATUS_FIELD_NUMBER: _ClassVar[int]
    UTM_FIELD_NUMBER: _ClassVar[int]
    PREVIEWS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    code: str
    asset_id: str
    short_url: str
    canonical_url: str
    title: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    description: str
    clicks: int
    creator: str
    create_time: _timestamp_pb2.Timestamp
    last_click_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    max_clicks: int
    disabled: bool
    redirect_status: int
    utm: UtmParameters
    previews: int
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, code: _Optional[str] = ..., asset_id: _Optional[str] = ..., short_url: _Optional[str] = ..., canonical_url: _Optional[str] = ..., title: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., clicks: _Optional[int] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_click_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., max_clicks: _Optional[int] = ..., disabled: _Optional[bool] = ..., redirect_status: _Optional[int] = ..., utm: _Optional[_Union[UtmParameters, _Mapping]] = ..., previews: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UtmParameters(_message.Message):
    __slots__ = ("source", "medium", "campaign", "term", "content")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MEDIUM_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    source: str
    medium: str
    campaign: str
    term: str
    content: str
    def __init__(self, source: _Optional[str] = ..., medium: _Optional[str] = ..., campaign: _Optional[str] = ..., term: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class VisitShareLinkRequest(_message.Message):
    __slots__ = ("code", "platform")
    CODE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    code: str
    platform: str
    def __init__(self, code: _Optional[str] = ..., platform: _Optional[str] = ...) -> None: ...

class UpdateShareLinkRequest(_message.Message):
    __slots__ = ("link", "update_mask")
    LINK_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    link: ShareLink
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, link: _Optional[_Union[ShareLink, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateShareLinkResponse(_message.Message):
    __slots__ = ("link",)
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: ShareLink
    def __init__(self, link: _Optional[_Union[ShareLink, _Mapping]] = ...) -> None: ...

class BatchCreateShareLinksRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[CreateShareLinkRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[CreateShareLinkRequest, _Mapping]]] = ...) -> None: ...

class BatchCreateShareLinkResult(_message.Message):
    __slots__ = ("link", "error")
    LINK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    link: ShareLink
    error: _status_pb2.Status
    def __init__(self, link: _Optional[_Union[ShareLink, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class BatchCreateShareLinksResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchCreateShareLinkResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchCreateShareLinkResult, _Mapping]]] = ...) -> None: ...

class GetShareLinkQrCodeRequest(_message.Message):
    __slots__ = ("code", "format", "scale")
    CODE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    code: str
    format: str
    scale: int
    def __init__(self, code: _Optional[str] = ..., format: _Optional[str] = ..., scale: _Optional[int] = ...) -> None: ...

class CreateShareLinkRequest(_message.Message):
    __slots__ = ("link",)
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: ShareLink
    def __init__(self, link: _Optional[_Union[ShareLink, _Mapping]] = ...) -> None: ...

class CreateShareLinkResponse(_message.Message):
    __slots__ = ("link",)
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: ShareLink
    def __init__(self, link: _Optional[_Union[ShareLink, _Mapping]] = ...) -> None: ...

class GetShareLinkRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class GetShareLinkResponse(_message.Message):
    __slots__ = ("link",)
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: ShareLink
    def __init__(self, link: _Optional[_Union[ShareLink, _Mapping]] = ...) -> None: ...

class ListShareLinksRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "asset_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    asset_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., asset_id: _Optional[str] = ...) -> None: ...

class ListShareLinksResponse(_message.Message):
    __slots__ = ("links", "next_page_token")
    LINKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedCompositeFieldContainer[ShareLink]
    next_page_token: str
    def __init__(self, links: _Optional[_Iterable[_Union[ShareLink, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteShareLinkRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class DeleteShareLinkResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResolveShareLinkRequest(_message.Message):
    __slots__ = ("code", "platform")
    CODE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    code: str
    platform: str
    def __init__(self, code: _Optional[str] = ..., platform: _Optional[str] = ...) -> None: ...

class ResolveShareLinkResponse(_message.Message):
    __slots__ = ("code", "asset_id", "target_url", "clicks")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_URL_FIELD_NUMBER: _ClassVar[int]
    CLICKS_FIELD_NUMBER: _ClassVar[int]
    code: str
    asset_id: str
    target_url: str
    clicks: int
    def __init__(self, code: _Optional[str] = ..., asset_id: _Optional[str] = ..., target_url: _Optional[str] = ..., clicks: _Optional[int] = ...) -> None: ...

class GetShareCardRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class OpenGraph(_message.Message):
    __slots__ = ("title", "description", "url", "type", "image", "image_type", "image_width", "image_height", "video", "site_name", "twitter_card")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    SITE_NAME_FIELD_NUMBER: _ClassVar[int]
    TWITTER_CARD_FIELD_NUMBER: _ClassVar[int]
    title: str
    description: str
    url: str
    type: str
    image: str
    image_type: str
    image_width: int
    image_height: int
    video: str
    site_name: str
    twitter_card: str
    def __init__(self, title: _Optional[str] = ..., description: _Optional[str] = ..., url: _Optional[str] = ..., type: _Optional[str] = ..., image: _Optional[str] = ..., image_type: _Optional[str] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ..., video: _Optional[str] = ..., site_name: _Optional[str] = ..., twitter_card: _Optional[str] = ...) -> None: ...

class GetShareMetadataRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class GetShareMetadataResponse(_message.Message):
    __slots__ = ("link", "open_graph")
    LINK_FIELD_NUMBER: _ClassVar[int]
    OPEN_GRAPH_FIELD_NUMBER: _ClassVar[int]
    link: ShareLink
    open_graph: OpenGraph
    def __init__(self, link: _Optional[_Union[ShareLink, _Mapping]] = ..., open_graph: _Optional[_Union[OpenGraph, _Mapping]] = ...) -> None: ...
