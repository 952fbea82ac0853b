import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MediaKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_KIND_UNSPECIFIED: _ClassVar[MediaKind]
    MEDIA_KIND_IMAGE: _ClassVar[MediaKind]
    MEDIA_KIND_ANIMATED_GIF: _ClassVar[MediaKind]
    MEDIA_KIND_VIDEO: _ClassVar[MediaKind]
    MEDIA_KIND_ANIMATED_IMAGE: _ClassVar[MediaKind]

class ImageFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_FORMAT_UNSPECIFIED: _ClassVar[ImageFormat]
    IMAGE_FORMAT_PNG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_JPEG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_RGB24: _ClassVar[ImageFormat]
MEDIA_KIND_UNSPECIFIED: MediaKind
MEDIA_KIND_IMAGE: MediaKind
MEDIA_KIND_ANIMATED_GIF: MediaKind
MEDIA_KIND_VIDEO: MediaKind
MEDIA_KIND_ANIMATED_IMAGE: MediaKind
IMAGE_FORMAT_UNSPECIFIED: ImageFormat
IMAGE_FORMAT_PNG: ImageFormat
IMAGE_FORMAT_JPEG: ImageFormat
IMAGE_FORMAT_RGB24: ImageFormat

class MediaInfo(_message.Message):
    __slots__ = ("kind", "container", "codec", "width", "height", "frame_count", "duration", "fps", "has_audio", "size_bytes", "detected_content_type")
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    HAS_AUDIO_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DETECTED_CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    kind: MediaKind
    container: str
    codec: str
    width: int
    height: int
    frame_count: int
    duration: _duration_pb2.Duration
    fps: float
    has_audio: bool
    size_bytes: int
    detected_content_type: str
    def __init__(self, kind: _Optional[_Union[MediaKind, str]] = ..., container: _Optional[str] = ..., codec: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., frame_count: _Optional[int] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., fps: _Optional[float] = ..., has_audio: _Optional[bool] = ..., size_bytes: _Optional[int] = ..., detected_content_type: _Optional[str] = ...) -> None: ...

class ProbeMediaRequest(_message.Message):
    __slots__ = ("body", "limits")
    BODY_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    limits: ExtractionLimits
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., limits: _Optional[_Union[ExtractionLimits, _Mapping]] = ...) -> None: ...

class ProbeMediaResponse(_message.Message):
    __slots__ = ("media",)
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    media: MediaInfo
    def __init__(self, media: _Optional[_Union[MediaInfo, _Mapping]] = ...) -> None: ...

class StepSampling(_message.Message):
    __slots__ = ("gif_step", "video_step")
    GIF_STEP_FIELD_NUMBER: _ClassVar[int]
    VIDEO_STEP_FIELD_NUMBER: _ClassVar[int]
    gif_step: int
    video_step: int
    def __init__(self, gif_step: _Optional[int] = ..., video_step: _Optional[int] = ...) -> None: ...

class IntervalSampling(_message.Message):
    __slots__ = ("interval",)
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    interval: _duration_pb2.Duration
    def __init__(self, interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class FrameSampling(_message.Message):
    __slots__ = ("step", "interval", "max_frames")
    STEP_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAMES_FIELD_NUMBER: _ClassVar[int]
    step: StepSampling
    interval: IntervalSampling
    max_frames: int
    def __init__(self, step: _Optional[_Union[StepSampling, _Mapping]] = ..., interval: _Optional[_Union[IntervalSampling, _Mapping]] = ..., max_frames: _Optional[int] = ...) -> None: ...

class FrameOutput(_message.Message):
    __slots__ = ("format", "max_dimension", "jpeg_quality")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MAX_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    JPEG_QUALITY_FIELD_NUMBER: _ClassVar[int]
    format: ImageFormat
    max_dimension: int
    jpeg_quality: int
    def __init__(self, format: _Optional[_Union[ImageFormat, str]] = ..., max_dimension: _Optional[int] = ..., jpeg_quality: _Optional[int] = ...) -> None: ...

class ExtractionLimits(_message.Message):
    __slots__ = ("max_input_bytes", "max_dimension", "max_pixels", "max_source_frames", "max_duration")
    MAX_INPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MAX_PIXELS_FIELD_NUMBER: _ClassVar[int]
    MAX_SOURCE_FRAMES_FIELD_NUMBER: _ClassVar[int]
    MAX_DURATION_FIELD_NUMBER: _ClassVar[int]
    max_input_bytes: int
    max_dimension: int
    max_pixels: int
    max_source_frames: int
    max_duration: _duration_pb2.Duration
    def __init__(self, max_input_bytes: _Optional[int] = ..., max_dimension: _Optional[int] = ..., max_pixels: _Optional[int] = ..., max_source_frames: _Optional[int] = ..., max_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ExtractFramesRequest(_message.Message):
    __slots__ = ("body", "sampling", "output", "limits")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    sampling: FrameSampling
    output: FrameOutput
    limits: ExtractionLimits
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., sampling: _Optional[_Union[FrameSampling, _Mapping]] = ..., output: _Optional[_Union[FrameOutput, _Mapping]] = ..., limits: _Optional[_Union[ExtractionLimits, _Mapping]] = ...) -> None: ...

class ExtractedFrame(_message.Message):
    __slots__ = ("index", "timestamp", "image", "content_type", "width", "height", "sample_index")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_INDEX_FIELD_NUMBER: _ClassVar[int]
    index: int
    timestamp: _duration_pb2.Duration
    image: bytes
    content_type: str
    width: int
    height: int
    sample_index: int
    def __init__(self, index: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., image: _Optional[bytes] = ..., content_type: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., sample_index: _Optional[int] = ...) -> None: ...

class ExtractionSummary(_message.Message):
    __slots__ = ("frames_sent", "frames_decoded", "thinned", "step_used", "elapsed")
    FRAMES_SENT_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DECODED_FIELD_NUMBER: _ClassVar[int]
    THINNED_FIELD_NUMBER: _ClassVar[int]
    STEP_USED_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_FIELD_NUMBER: _ClassVar[int]
    frames_sent: int
    frames_decoded: int
    thinned: bool
    step_used: int
    elapsed: _duration_pb2.Duration
    def __init__(self, frames_sent: _Optional[int] = ..., frames_decoded: _Optional[int] = ..., thinned: _Optional[bool] = ..., step_used: _Optional[int] = ..., elapsed: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ExtractFramesResponse(_message.Message):
    __slots__ = ("media", "frame", "summary", "error")
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    media: MediaInfo
    frame: ExtractedFrame
    summary: ExtractionSummary
    error: _status_pb2.Status
    def __init__(self, media: _Optional[_Union[MediaInfo, _Mapping]] = ..., frame: _Optional[_Union[ExtractedFrame, _Mapping]] = ..., summary: _Optional[_Union[ExtractionSummary, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...
