"""The descriptive fields of an asset that :meth:`AssetStore.update_metadata` may change, checked the same way
by every store (SQL and the in-memory fake), and the UTC rule for the datetimes a store keeps."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.sharelinks.domain.model import Visibility

#: The fields a metadata update may set; everything else of an asset is fixed or moderation's.
DESCRIPTIVE_FIELDS: frozenset[str] = frozenset(
    {"title", "tags", "description", "filename", "visibility", "cache_policy"}
)


def utc(value: datetime) -> datetime:
    """``value`` as aware UTC; a naive datetime is ``ValueError`` (its zone would be a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: stores keep aware datetimes only")
    return value.astimezone(UTC)


def descriptive_changes(changes: Mapping[str, object]) -> dict[str, Any]:
    """The changes checked and normalised: ``tags`` a tuple of strings, ``visibility`` a :class:`Visibility`,
    the other fields strings. An unknown field or a value of the wrong type is ``ValueError``."""
    unknown = sorted(set(changes) - DESCRIPTIVE_FIELDS)
    if unknown:
        raise ValueError(f"not descriptive fields of an asset: {', '.join(unknown)}")
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "tags":
            if isinstance(value, str) or not isinstance(value, tuple | list):
                raise ValueError("tags must be a sequence of strings")
            if not all(isinstance(tag, str) for tag in value):
                raise ValueError("tags must be a sequence of strings")
            checked[name] = tuple(value)
        elif name == "visibility":
            if not isinstance(value, str):
                raise ValueError("visibility must be a Visibility")
            checked[name] = Visibility(value)
        else:
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string")
            checked[name] = value
    return checked
