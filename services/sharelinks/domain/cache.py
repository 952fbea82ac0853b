"""A short-lived cache in front of the asset store, for delivery: each request at `/a/{id}` would
otherwise read its row (and its renditions) from the database.

Every write through the cache drops the asset's entries; the decision follower drops an asset's entries
for every event about it before applying it, so a takedown decided on any replica stops delivery here at
once, not after the TTL. What the TTL bounds is how long a metadata change made by another replica (a new
cache policy, say) takes to show here. Misses are not cached: a new asset is visible at once.

A read that was under way while an entry was dropped does not keep its answer: it may have read the row
before the write (a delivery racing a delete), and keeping it would serve the old row for the whole TTL.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from clearframe_runtime.expiring import Expiring, Monotonic
from services.sharelinks.domain.model import Asset, Moderation, RenditionRecord
from services.sharelinks.ports import AssetFilter, AssetStore


class CachingAssetStore:
    """An :class:`AssetStore` that keeps ``get`` and ``renditions`` answers for ``ttl_s`` seconds."""

    def __init__(self, store: AssetStore, *, ttl_s: float, monotonic: Monotonic, max_entries: int = 10_000):
        self._store = store
        self._assets: Expiring[Asset] = Expiring(ttl_s, monotonic, max_entries)
        self._renditions: Expiring[tuple[RenditionRecord, ...]] = Expiring(ttl_s, monotonic, max_entries)
        #: Counts every drop; a read keeps its answer only if no drop happened while it read.
        self._drops = 0

    def invalidate(self, asset_id: str) -> None:
        self._drops += 1
        self._assets.drop(asset_id)
        self._renditions.drop(asset_id)

    # ---------------------------------------------------------------------------------- cached reads

    async def get(self, asset_id: str) -> Asset | None:
        cached = self._assets.get(asset_id)
        if cached is not None:
            return cached
        drops = self._drops
        asset = await self._store.get(asset_id)
        if asset is not None and drops == self._drops:
            self._assets.keep(asset_id, asset)
        return asset

    async def renditions(self, asset_id: str) -> list[RenditionRecord]:
        cached = self._renditions.get(asset_id)
        if cached is not None:
            return list(cached)
        drops = self._drops
        records = await self._store.renditions(asset_id)
        if drops == self._drops:
            self._renditions.keep(asset_id, tuple(records))
        return records

    # ---------------------------------------------------------------------------------- pass-through

    async def page(self, where: AssetFilter, offset: int, limit: int) -> list[Asset]:
        return await self._store.page(where, offset, limit)

    async def with_status(self, status: str) -> list[Asset]:
        return await self._store.with_status(status)

    async def existing(self, asset_ids: set[str]) -> set[str]:
        return await self._store.existing(asset_ids)

    async def cursor(self) -> int:
        return await self._store.cursor()

    async def save_cursor(self, revision: int) -> None:
        await self._store.save_cursor(revision)

    # ---------------------------------------------------------------------------------- writes

    async def insert(self, asset: Asset) -> None:
        self.invalidate(asset.asset_id)
        await self._store.insert(asset)

    async def update_metadata(self, asset_id: str, changes: dict[str, object], at: datetime) -> Asset | None:
        try:
            return await self._store.update_metadata(asset_id, changes, at)
        finally:
            self.invalidate(asset_id)

    async def set_moderation(self, asset_id: str, moderation: Moderation, at: datetime) -> Asset | None:
        try:
            return await self._store.set_moderation(asset_id, moderation, at)
        finally:
            self.invalidate(asset_id)

    async def delete(self, asset_id: str) -> bool:
        try:
            return await self._store.delete(asset_id)
        finally:
            self.invalidate(asset_id)

    async def save_rendition(self, record: RenditionRecord) -> None:
        try:
            await self._store.save_rendition(record)
        finally:
            self.invalidate(record.asset_id)

    async def delete_renditions(self, asset_id: str) -> None:
        try:
            await self._store.delete_renditions(asset_id)
        finally:
            self.invalidate(asset_id)


class BytesCache:
    """Recently delivered blobs in memory, least recently used out first: at most ``max_item_bytes`` each
    and ``max_total_bytes`` in all. Entries are keyed by blob key *and* content hash, so bytes that change
    under a key (a rendition made again) are never served from an old entry."""

    def __init__(self, *, max_total_bytes: int, max_item_bytes: int):
        self.max_item_bytes = max_item_bytes
        self._max_total = max_total_bytes
        self._total = 0
        self._entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def get(self, key: str, sha256: str) -> bytes | None:
        data = self._entries.get((key, sha256))
        if data is not None:
            self._entries.move_to_end((key, sha256))
        return data

    def keep(self, key: str, sha256: str, data: bytes) -> None:
        if len(data) > self.max_item_bytes or len(data) > self._max_total or (key, sha256) in self._entries:
            return
        self._entries[(key, sha256)] = data
        self._total += len(data)
        while self._total > self._max_total:
            _, dropped = self._entries.popitem(last=False)
            self._total -= len(dropped)
