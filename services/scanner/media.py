"""Media input: multipart bodies of the seed routes, image decoding with its hardening, media kinds.

Pure functions over bytes; no grpc, no generated code.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from clearframe_runtime.errors import InvalidArgument

#: Still-image formats accepted (what Pillow decodes safely and clients send).
IMAGE_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO"})
ANIMATED_TYPES = ("image/gif", "image/apng", "image/webp")


@dataclass(frozen=True)
class Part:
    """One file field of a multipart/form-data body."""

    name: str
    filename: str
    content_type: str
    data: bytes


class MalformedMultipart(ValueError):
    """The body is not well-formed multipart/form-data."""


def parse_multipart(body: bytes, content_type: str) -> dict[str, Part]:
    """The fields of a multipart/form-data body by name (the first of each name wins)."""
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MalformedMultipart("not multipart/form-data with a boundary")

    parts: dict[str, Part] = {}
    headers: dict[bytes, bytes] = {}
    field: list[bytes] = []
    value: list[bytes] = []
    data: list[bytes] = []

    def on_header_field(buffer: bytes, start: int, end: int) -> None:
        field.append(buffer[start:end])

    def on_header_value(buffer: bytes, start: int, end: int) -> None:
        value.append(buffer[start:end])

    def on_header_end() -> None:
        headers[b"".join(field).lower()] = b"".join(value)
        field.clear()
        value.clear()

    def on_part_data(buffer: bytes, start: int, end: int) -> None:
        data.append(buffer[start:end])

    def on_part_end() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if name and name not in parts:
            parts[name] = Part(
                name=name,
                filename=disposition.get(b"filename", b"").decode("utf-8", "replace"),
                content_type=headers.get(b"content-type", b"").decode("latin-1").strip(),
                data=b"".join(data),
            )
        headers.clear()
        data.clear()

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise MalformedMultipart(str(exc)) from exc
    return parts


def decode_image(data: bytes, *, max_pixels: int) -> Image.Image:
    """A hardened decode: allowed formats only, pixel count checked before decoding, EXIF orientation
    applied, RGB out. Raises InvalidArgument naming what was wrong."""
    if not data:
        raise InvalidArgument("the image is empty", field="body", reason="EMPTY_BODY")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.format not in IMAGE_FORMATS:
                raise InvalidArgument(
                    f"image format {image.format} is not accepted (accepted: {', '.join(sorted(IMAGE_FORMATS))})",
                    field="body",
                    reason="UNSUPPORTED_MEDIA_TYPE",
                )
            width, height = image.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise InvalidArgument(
                    f"image is {width}x{height} pixels; at most {max_pixels} pixels are accepted",
                    field="body",
                    reason="DIMENSIONS_TOO_LARGE",
                )
            image.load()
            oriented = ImageOps.exif_transpose(image) or image
            return oriented.convert("RGB")
        except InvalidArgument:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InvalidArgument(str(exc), field="body", reason="DIMENSIONS_TOO_LARGE") from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise InvalidArgument(f"not a decodable image: {exc}", field="body", reason="MEDIA_UNDECODABLE") from exc


def is_animated_or_video(data: bytes, content_type: str) -> bool:
    """Whether the media needs the frames service (several frames) rather than one still decode."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind.startswith("video/") or data[4:8] == b"ftyp" or data[:4] == b"\x1aE\xdf\xa3":
        return True
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _frame_count(data) > 1
    if kind in ANIMATED_TYPES or data[:4] == b"RIFF" or data[:8] == b"\x89PNG\r\n\x1a\n":
        return _frame_count(data) > 1
    return False


def _frame_count(data: bytes) -> int:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return int(getattr(Image.open(io.BytesIO(data)), "n_frames", 1))
    except Exception:
        return 2
