"""Media facts from the frames service's ProbeMedia, as the domain's MediaProbe
(:class:`services.sharelinks.ports.MediaProbe`): one prober and one set of media limits for the whole
mesh, no second decoder here."""

from __future__ import annotations

import grpc
from google.api import httpbody_pb2

from clearframe.frames.v1 import frames_service_pb2 as frames_pb2
from clearframe.frames.v1 import frames_service_pb2_grpc as frames_grpc
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
        self._channel = grpc.aio.insecure_channel(
            target,
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
            ],
        )
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
        return MediaInfo(
            kind=_KINDS.get(media.kind, "unknown"),
            content_type=media.detected_content_type,
            width=media.width,
            height=media.height,
            frame_count=media.frame_count,
            duration_s=media.duration.ToTimedelta().total_seconds(),
        )

    async def close(self) -> None:
        await self._channel.close()
