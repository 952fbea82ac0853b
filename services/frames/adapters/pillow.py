"""The frame encoder: packed RGB24 frames to PNG or JPEG with Pillow."""

from __future__ import annotations

import io

from PIL import Image

from services.frames.ports import DecodedFrame, ImageFormat

#: zlib level 1: frames are transient (scanned, then dropped); speed matters more than a few % of size.
PNG_COMPRESS_LEVEL = 1


class PillowEncoder:
    """:class:`services.frames.ports.FrameEncoder` backed by Pillow."""

    def encode(self, frame: DecodedFrame, image_format: ImageFormat, *, jpeg_quality: int) -> bytes:
        if image_format is ImageFormat.RGB24:
            return frame.rgb
        image = Image.frombytes("RGB", (frame.width, frame.height), frame.rgb)
        buffer = io.BytesIO()
        if image_format is ImageFormat.JPEG:
            image.save(buffer, "JPEG", quality=jpeg_quality)
        else:
            image.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
        return buffer.getvalue()
