"""Frames from the frames service (gRPC server stream), as the pipeline's FrameSource
(:class:`services.scanner.ports.FrameSource`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from google.api import httpbody_pb2
from PIL import Image

from clearframe.frames.v1 import frames_service_pb2 as frames_pb2
from clearframe.frames.v1 import frames_service_pb2_grpc as frames_grpc
from clearframe_runtime.errors import DeadlineExceeded, InvalidArgument, Unavailable
from clearframe_runtime.server import client_channel
from clearframe_runtime.status import error_info
from services.scanner.analyzers.base import Frame
from services.scanner.ports import MediaFacts

_KINDS = {
    frames_pb2.MEDIA_KIND_IMAGE: "image",
    frames_pb2.MEDIA_KIND_ANIMATED_GIF: "animated_gif",
    # APNG and animated WebP: the scanner's contract has one kind for animated images.
    frames_pb2.MEDIA_KIND_ANIMATED_IMAGE: "animated_gif",
    frames_pb2.MEDIA_KIND_VIDEO: "video",
}


class GrpcFrameSource:
    """Streams sampled frames as raw RGB (no encode/decode round trip between the services)."""

    def __init__(self, target: str, max_message_bytes: int):
        self._channel = client_channel(target, max_message_bytes)
        self._stub = frames_grpc.FramesServiceStub(self._channel)

    async def frames(
        self,
        data: bytes,
        content_type: str,
        *,
        gif_step: int,
        video_step: int,
        max_frames: int,
        timeout_s: float,
        metadata: tuple[tuple[str, str], ...],
    ) -> AsyncIterator[MediaFacts | Frame]:
        request = frames_pb2.ExtractFramesRequest(
            body=httpbody_pb2.HttpBody(content_type=content_type, data=data),
            sampling=frames_pb2.FrameSampling(
                step=frames_pb2.StepSampling(gif_step=gif_step, video_step=video_step), max_frames=max_frames
            ),
            output=frames_pb2.FrameOutput(format=frames_pb2.IMAGE_FORMAT_RGB24),
        )
        call = self._stub.ExtractFrames(request, timeout=timeout_s, metadata=metadata)
        try:
            async for message in call:
                which = message.WhichOneof("payload")
                if which == "media":
                    media = message.media
                    yield MediaFacts(
                        kind=_KINDS.get(media.kind, "unknown"),
                        container=media.container,
                        codec=media.codec,
                        width=media.width,
                        height=media.height,
                        frame_count=media.frame_count,
                        duration_s=media.duration.ToTimedelta().total_seconds(),
                        fps=media.fps,
                    )
                elif which == "frame":
                    frame = message.frame
                    image = Image.frombytes("RGB", (frame.width, frame.height), frame.image)
                    yield Frame(
                        image=image, index=frame.index, timestamp_s=frame.timestamp.ToTimedelta().total_seconds()
                    )
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from exc
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._channel.close()


def _translate(exc: grpc.aio.AioRpcError) -> Exception:
    info = error_info(exc)
    reason = info.reason if info else None
    metadata = dict(info.metadata) if info else None
    if exc.code() in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
    ):
        return InvalidArgument(
            exc.details() or "invalid media", reason=reason or "MEDIA_UNDECODABLE", metadata=metadata
        )
    if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded("frame extraction took too long", reason="ANALYSIS_TIMEOUT")
    return Unavailable(f"frames service: {exc.code().name}: {exc.details()}", reason="FRAMES_UNAVAILABLE")
