"""gRPC face of the frames service: FramesService messages ↔ the domain's use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import structlog
from opentelemetry import metrics

from clearframe.frames.v1 import frames_service_pb2 as pb
from clearframe.frames.v1 import frames_service_pb2_grpc
from clearframe_runtime.errors import DomainError, Internal, InvalidArgument
from clearframe_runtime.principal import PrincipalCodec
from clearframe_runtime.protoconv import duration, to_seconds
from clearframe_runtime.status import status_message
from services.frames.domain import (
    ExtractRequest,
    Frame,
    FrameOutput,
    FramesService,
    Limits,
    MediaInfo,
    MediaKind,
    Sampling,
    Summary,
)
from services.frames.ports import ImageFormat

log = structlog.get_logger(__name__)


_KINDS = {
    MediaKind.IMAGE: pb.MEDIA_KIND_IMAGE,
    MediaKind.ANIMATED_GIF: pb.MEDIA_KIND_ANIMATED_GIF,
    MediaKind.ANIMATED_IMAGE: pb.MEDIA_KIND_ANIMATED_IMAGE,
    MediaKind.VIDEO: pb.MEDIA_KIND_VIDEO,
}
_FORMATS = {
    pb.IMAGE_FORMAT_UNSPECIFIED: ImageFormat.PNG,
    pb.IMAGE_FORMAT_PNG: ImageFormat.PNG,
    pb.IMAGE_FORMAT_JPEG: ImageFormat.JPEG,
    pb.IMAGE_FORMAT_RGB24: ImageFormat.RGB24,
}


meter = metrics.get_meter("clearframe.frames")
#: Frames decoded and sent, by the media's kind (image, gif, video …).
frames_decoded = meter.create_counter(
    "clearframe.frames.decoded", unit="{frame}", description="Frames decoded and sent"
)


def media_message(info: MediaInfo) -> pb.MediaInfo:
    return pb.MediaInfo(
        kind=_KINDS[info.kind],
        container=info.container,
        codec=info.codec,
        width=info.width,
        height=info.height,
        frame_count=info.frame_count,
        duration=duration(info.duration_s),
        fps=info.fps,
        has_audio=info.has_audio,
        size_bytes=info.size_bytes,
        detected_content_type=info.content_type,
    )


def frame_message(frame: Frame) -> pb.ExtractedFrame:
    return pb.ExtractedFrame(
        index=frame.index,
        timestamp=duration(frame.timestamp_s),
        image=frame.image,
        content_type=frame.content_type,
        width=frame.width,
        height=frame.height,
        sample_index=frame.sample_index,
    )


def summary_message(summary: Summary) -> pb.ExtractionSummary:
    return pb.ExtractionSummary(
        frames_sent=summary.frames_sent,
        frames_decoded=summary.frames_decoded,
        thinned=summary.thinned,
        step_used=summary.step_used,
        elapsed=duration(summary.elapsed_s),
    )


def limits_from(message: pb.ExtractionLimits, server: Limits) -> Limits:
    return server.narrowed(
        max_input_bytes=message.max_input_bytes,
        max_dimension=message.max_dimension,
        max_pixels=message.max_pixels,
        max_source_frames=message.max_source_frames,
        max_duration_s=to_seconds(message.max_duration),
    )


def sampling_from(message: pb.FrameSampling) -> Sampling:
    if message.WhichOneof("method") == "interval":
        return Sampling.interval(to_seconds(message.interval.interval), message.max_frames)
    return Sampling.step(message.step.gif_step, message.step.video_step, message.max_frames)


def output_from(message: pb.FrameOutput) -> FrameOutput:
    image_format = _FORMATS.get(message.format)
    if image_format is None:
        raise InvalidArgument(
            f"output.format {message.format} is not an ImageFormat",
            field="output.format",
            reason="INVALID_OUTPUT_FORMAT",
        )
    return FrameOutput.create(image_format, message.max_dimension, message.jpeg_quality)


def _time_remaining(context: grpc.aio.ServicerContext) -> float | None:
    remaining = context.time_remaining()
    return None if remaining is None else float(remaining)


class FramesServicer(frames_service_pb2_grpc.FramesServiceServicer):
    def __init__(self, service: FramesService, codec: PrincipalCodec):
        self._service = service
        self._codec = codec

    async def ProbeMedia(
        self, request: pb.ProbeMediaRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProbeMediaResponse:
        limits = limits_from(request.limits, self._service.policy.limits)
        info = await self._service.probe(request.body.data, limits, time_remaining=_time_remaining(context))
        return pb.ProbeMediaResponse(media=media_message(info))

    async def ExtractFrames(
        self, request: pb.ExtractFramesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ExtractFramesResponse]:
        extraction = self._service.extract(
            ExtractRequest(
                data=request.body.data,
                sampling=sampling_from(request.sampling),
                output=output_from(request.output),
                limits=limits_from(request.limits, self._service.policy.limits),
            ),
            time_remaining=_time_remaining(context),
        )
        # A cancelled call may leave this generator suspended at a yield: kill ffmpeg from the callback
        # instead of waiting for the generator to be collected.
        context.add_done_callback(lambda _context: extraction.abort())
        started = False
        kind = {"media_kind": "unknown"}
        try:
            async for event in extraction.events():
                if isinstance(event, MediaInfo):
                    kind = {"media_kind": event.kind.value}
                    yield pb.ExtractFramesResponse(media=media_message(event))
                elif isinstance(event, Frame):
                    frames_decoded.add(1, kind)
                    yield pb.ExtractFramesResponse(frame=frame_message(event))
                else:
                    yield pb.ExtractFramesResponse(summary=summary_message(event))
                started = True
        except Exception as exc:
            # Over REST the HTTP status went out with the first message and the transcoder drops a
            # later gRPC status: say it in the stream too, then end the call with it as usual.
            if started:
                error = exc if isinstance(exc, DomainError) else Internal("internal error")
                yield pb.ExtractFramesResponse(error=status_message(error))
            raise
