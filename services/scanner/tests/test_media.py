"""Image input hardening and the seed routes' multipart parsing, on real bytes."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from clearframe_runtime.errors import InvalidArgument
from services.scanner.media import MalformedMultipart, decode_image, is_animated_or_video, parse_multipart


def _jpeg_with_orientation(orientation: int) -> bytes:
    image = Image.new("RGB", (120, 60), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_exif_orientation_is_applied() -> None:
    assert decode_image(_jpeg_with_orientation(1), max_pixels=10**6).size == (120, 60)
    assert decode_image(_jpeg_with_orientation(6), max_pixels=10**6).size == (60, 120)


def test_pixel_limit_is_checked_before_decoding() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300)).save(buffer, "PNG")
    with pytest.raises(InvalidArgument) as refused:
        decode_image(buffer.getvalue(), max_pixels=300 * 299)
    assert refused.value.reason == "DIMENSIONS_TOO_LARGE"


@pytest.mark.parametrize(("data", "reason"), [(b"", "EMPTY_BODY"), (b"%PDF-1.4 not an image", "MEDIA_UNDECODABLE")])
def test_bad_images_name_the_problem(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        decode_image(data, max_pixels=10**6)
    assert refused.value.reason == reason


def test_formats_outside_the_list_are_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "ICO")
    with pytest.raises(InvalidArgument) as refused:
        decode_image(buffer.getvalue(), max_pixels=10**6)
    assert refused.value.reason == "UNSUPPORTED_MEDIA_TYPE"


def test_multipart_fields_and_malformed_bodies() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n'
        b"Content-Type: image/png\r\n\r\nPNGDATA\r\n--b--\r\n"
    )
    parts = parse_multipart(body, "multipart/form-data; boundary=b")
    assert parts["image"].data == b"PNGDATA" and parts["image"].filename == "x.png"
    with pytest.raises(MalformedMultipart):
        parse_multipart(body, "multipart/form-data")
    with pytest.raises(MalformedMultipart):
        parse_multipart(b"garbage without boundaries", "application/json; boundary=b")


def test_media_kind_sniffing() -> None:
    still = io.BytesIO()
    Image.new("RGB", (8, 8)).save(still, "GIF")
    frames = [Image.new("RGB", (8, 8), (i * 40, 0, 0)) for i in range(3)]
    animated = io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:])
    assert not is_animated_or_video(still.getvalue(), "image/gif")
    assert is_animated_or_video(animated.getvalue(), "image/gif")
    assert is_animated_or_video(b"\0\0\0\x18ftypmp42", "application/octet-stream")
