"""The rules every blob store applies to keys and byte ranges, so that all of them refuse the same input.

Keys are relative, ``/``-separated paths of ``[A-Za-z0-9._-]`` segments, none of them ``.`` or ``..``, each
at most 255 characters (a file name's limit) and 1024 characters in all (S3's limit). Ranges are
inclusive, as in HTTP: see :func:`resolve_range`.
"""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,255}")
MAX_KEY_LENGTH = 1024


def validate_key(key: str) -> str:
    """``key`` itself when it is a valid blob key; otherwise ValueError saying why."""
    if not isinstance(key, str) or not key:
        raise ValueError("blob key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"blob key is longer than {MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"blob key {key!r} has an empty, '.' or '..' segment")
        if not _SEGMENT.fullmatch(segment):
            raise ValueError(f"blob key {key!r} has a segment outside [A-Za-z0-9._-] (or over 255 characters)")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key's beginning (a trailing ``/`` or partial segment is fine)."""
    if prefix == "":
        return prefix
    trimmed = prefix[:-1] if prefix.endswith("/") else prefix
    validate_key(trimmed)
    return prefix


def check_range(start: int, end: int | None) -> None:
    """ValueError for a range that no blob could satisfy (negative start, end before start)."""
    if start < 0:
        raise ValueError(f"range start {start} is negative")
    if end is not None and end < start:
        raise ValueError(f"range end {end} is before its start {start}")


def resolve_range(start: int, end: int | None, size: int) -> tuple[int, int]:
    """The half-open ``[first, stop)`` slice that ``get(start, end)`` returns of a blob of ``size`` bytes.

    The whole blob (``start=0, end=None``) is always satisfiable, even when empty. Otherwise ``start``
    must be a byte of the blob (``start < size``; else ValueError, HTTP's 416), and an ``end`` past the
    last byte means the last byte.
    """
    check_range(start, end)
    if start == 0 and end is None:
        return 0, size
    if start >= size:
        raise ValueError(f"range start {start} is not before the blob's size {size}")
    stop = size if end is None else min(end + 1, size)
    return start, stop


__all__ = ["MAX_KEY_LENGTH", "check_range", "resolve_range", "validate_key", "validate_prefix"]
