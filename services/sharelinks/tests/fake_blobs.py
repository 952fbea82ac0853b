"""An in-memory BlobStore with the real adapters' semantics (keys, ranges, errors), for fast domain tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from clearframe_runtime.clock import Clock, utcnow
from clearframe_runtime.errors import Unavailable
from services.sharelinks.adapters.blob_keys import check_range, resolve_range, validate_key, validate_prefix
from services.sharelinks.ports import BlobInfo, BlobNotFound


class MemoryBlobStore:
    """Blobs in a dict. Set ``down = True`` to make every call raise Unavailable, as an outage would."""

    def __init__(self, *, clock: Clock = utcnow) -> None:
        self.blobs: dict[str, tuple[bytes, datetime]] = {}
        self.down = False
        self._clock = clock

    def _reachable(self) -> None:
        if self.down:
            raise Unavailable("in-memory blob store is down (test switch)", reason="BLOB_STORE_UNAVAILABLE")

    async def put(self, key: str, data: bytes) -> None:
        validate_key(key)
        self._reachable()
        self.blobs[key] = (bytes(data), self._clock())

    async def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        validate_key(key)
        check_range(start, end)
        self._reachable()
        if key not in self.blobs:
            raise BlobNotFound(key)
        data = self.blobs[key][0]
        first, stop = resolve_range(start, end, len(data))
        return data[first:stop]

    async def size(self, key: str) -> int | None:
        validate_key(key)
        self._reachable()
        entry = self.blobs.get(key)
        return None if entry is None else len(entry[0])

    async def delete(self, key: str) -> None:
        validate_key(key)
        self._reachable()
        self.blobs.pop(key, None)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        validate_prefix(prefix)
        self._reachable()
        for key, (data, modified) in list(self.blobs.items()):
            if key.startswith(prefix):
                yield BlobInfo(key=key, size=len(data), modified=modified)

    async def check(self) -> None:
        self._reachable()


__all__ = ["MemoryBlobStore"]
