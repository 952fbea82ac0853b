"""Media facts from the frames service's ProbeMedia, as the domain's MediaProbe
(:class:`services.sharelinks.ports.MediaProbe`): one prober and one set of media limits for the whole
mesh, no second decoder here."""

from __future__ import annotations

import grpc
from google.api import httpbody_pb2

from clearframe.frames.v1 import frames_service_pb2 as frames_pb2
from clearframe.frames.v1 import frames_service_pb2_grpc as frames_grpc
from clearframe_runtime.server import client_channel
from clearframe_runtime.status import from_rpc_error
from services.sharelinks.adapters.identity import ServiceIdentity
from services.sharelinks.ports import MediaInfo

_KINDS = {
    frames_pb2.MEDIA_KIND_IMAGE: "image",
    frames_pb2.MEDIA_KIND_ANIMATED_GIF: "animated_image",
    frames_pb2.MEDIA_KIND_ANIMATED_IMAGE: "animated_image",
    frames_pb2.MEDIA_KIND_VIDEO: "video",
}


class GrpcMediaProbe:
    def __init__(self, target: str, identity: ServiceIdentity, *, max_message_bytes: int, timeout_s: float = 20.0):
        self._channel = client_channel(target, max_message_bytes)
        self._stub = frames_grpc.FramesServiceStub(self._channel)
        self._identity = identity
        self._timeout_s = timeout_s

    async def probe(self, data: bytes, declared_type: str) -> MediaInfo:
        try:
            answer = await self._stub.ProbeMedia(
                frames_pb2.ProbeMediaRequest(body=httpbody_pb2.HttpBody(content_type=declared_type, data=data)),
                timeout=self._timeout_s,
                metadata=self._identity.metadata(),
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, "frames") from exc
        media = answer.media
        await self._decode(data, declared_type)
        return MediaInfo(
            kind=_KINDS.get(media.kind, "unknown"),
            content_type=media.detected_content_type,
            width=media.width,
            height=media.height,
            frame_count=media.frame_count,
            duration_s=media.duration.ToTimedelta().total_seconds(),
        )

    async def _decode(self, data: bytes, declared_type: str) -> None:
        """Decode the whole stream once (sending back only the first and last frame, small): a probe
        reads containers only, and truncated or corrupt frame data must be refused at upload, not found
        later by the scan."""
        request = frames_pb2.ExtractFramesRequest(
            body=httpbody_pb2.HttpBody(content_type=declared_type, data=data),
            sampling=frames_pb2.FrameSampling(
                step=frames_pb2.StepSampling(gif_step=1_000_000, video_step=1_000_000), max_frames=2
            ),
            output=frames_pb2.FrameOutput(format=frames_pb2.IMAGE_FORMAT_JPEG, max_dimension=32, jpeg_quality=50),
        )
        call = self._stub.ExtractFrames(request, timeout=self._timeout_s, metadata=self._identity.metadata())
        try:
            async for _ in call:  # a failure mid-stream ends the call with its status
                pass
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc, "frames") from exc
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._channel.close()
