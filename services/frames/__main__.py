"""Run the frames service: `python -m services.frames`."""

from __future__ import annotations

from clearframe.frames.v1 import frames_service_pb2, frames_service_pb2_grpc
from clearframe_runtime.ffmpeg import default_ffmpeg
from clearframe_runtime.principal import PrincipalCodec
from clearframe_runtime.server import Servicer, run_service, serve
from clearframe_runtime.settings import load_settings
from services.frames.adapters.ffmpeg import FfmpegDecoder
from services.frames.adapters.pillow import PillowEncoder
from services.frames.api import FramesServicer
from services.frames.domain import FramesService, Limits, Policy
from services.frames.settings import FramesSettings


async def main() -> None:
    settings = load_settings("frames", FramesSettings)
    decoder = FfmpegDecoder(
        settings.frames_ffmpeg_path or default_ffmpeg(),
        allowed_formats=settings.frames_allowed_formats.split(","),
    )
    policy = Policy(
        limits=Limits(
            max_input_bytes=settings.frames_max_input_bytes,
            max_dimension=settings.frames_max_dimension,
            max_pixels=settings.frames_max_pixels,
            max_source_frames=settings.frames_max_source_frames,
            max_duration_s=settings.frames_max_duration_s,
        ),
        decode_timeout_s=settings.frames_decode_timeout_s,
        max_concurrent=settings.frames_max_concurrent,
        queue_timeout_s=settings.frames_queue_timeout_s,
        max_message_bytes=settings.max_message_bytes,
    )
    service = FramesService(decoder, PillowEncoder(), policy)
    await serve(
        "frames",
        settings,
        [
            Servicer(
                FramesServicer(service, PrincipalCodec(settings.internal_secret.get_secret_value())),
                frames_service_pb2_grpc.add_FramesServiceServicer_to_server,
                frames_service_pb2.DESCRIPTOR.services_by_name["FramesService"],
            )
        ],
    )


if __name__ == "__main__":
    run_service("frames", main)
