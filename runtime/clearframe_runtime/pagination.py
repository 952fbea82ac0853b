"""AIP-158 pagination shared by every List method: page sizes and opaque page tokens.

A token carries the offset of the next page and a check of the request's filters, so a token used with
other filters is refused (INVALID_PAGE_TOKEN) instead of silently paging through another result.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from clearframe_runtime.errors import InvalidArgument


def page_size(requested: int, *, default: int = 50, maximum: int = 1000) -> int:
    """The page size to use: ``default`` for 0, at most ``maximum`` (larger values are coerced, as AIP-158
    allows); a negative size is INVALID_ARGUMENT."""
    if requested < 0:
        raise InvalidArgument("page_size must not be negative", field="page_size", reason="INVALID_PAGE_SIZE")
    return min(requested or default, maximum)


def _check(filters: Sequence[object]) -> str:
    return hashlib.sha256(repr(tuple(filters)).encode()).hexdigest()[:12]


def encode_page_token(offset: int, filters: Sequence[object] = ()) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{_check(filters)}".encode()).decode().rstrip("=")


def decode_page_token(token: str, filters: Sequence[object] = ()) -> int:
    """The offset a token points at (0 for no token)."""
    if not token:
        return 0
    try:
        offset_text, check = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        offset = int(offset_text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(
            "page_token is not one this service issued", field="page_token", reason="INVALID_PAGE_TOKEN"
        ) from exc
    if offset < 0 or check != _check(filters):
        raise InvalidArgument(
            "page_token belongs to a request with other parameters", field="page_token", reason="INVALID_PAGE_TOKEN"
        )
    return offset
