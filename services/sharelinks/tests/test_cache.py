"""The delivery caches: rows reused for a TTL but dropped on every write and every decision event, and the
bounded blob cache."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from services.sharelinks.domain.background import DecisionFollower
from services.sharelinks.domain.cache import BytesCache, CachingAssetStore
from services.sharelinks.domain.model import ModerationStatus, RenditionRecord, RenditionState
from services.sharelinks.tests.fakes import FakeFeed
from services.sharelinks.tests.test_assets import GIF, World


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_rows_are_reused_until_the_ttl_or_a_write() -> None:
    world = World()
    ticks = Ticks()
    cache = CachingAssetStore(world.store, ttl_s=2.0, monotonic=ticks)
    asset = await world.upload(GIF)
    first = await cache.get(asset.asset_id)
    assert first is not None
    # Another replica changes the shared database: seen only after the TTL.
    await world.store.update_metadata(asset.asset_id, {"title": "elsewhere"}, world.clock())
    assert (await cache.get(asset.asset_id)) == first
    ticks.now += 2.5
    seen = await cache.get(asset.asset_id)
    assert seen is not None and seen.title == "elsewhere"
    # A write through the cache is seen at once.
    await cache.update_metadata(asset.asset_id, {"title": "here"}, world.clock())
    here = await cache.get(asset.asset_id)
    assert here is not None and here.title == "here"
    await cache.save_rendition(RenditionRecord(asset.asset_id, "mp4", RenditionState.READY, "video/mp4"))
    assert [r.name for r in await cache.renditions(asset.asset_id)] == ["mp4"]
    await cache.delete(asset.asset_id)
    assert await cache.get(asset.asset_id) is None


async def test_misses_are_not_cached_and_a_zero_ttl_caches_nothing() -> None:
    world = World()
    ticks = Ticks()
    cache = CachingAssetStore(world.store, ttl_s=0, monotonic=ticks)
    assert await cache.get("0123456789abcdef") is None
    asset = await world.upload(GIF)
    assert await cache.get(asset.asset_id) is not None
    await world.store.update_metadata(asset.asset_id, {"title": "direct"}, world.clock())
    fresh = await cache.get(asset.asset_id)
    assert fresh is not None and fresh.title == "direct"


async def test_a_decision_applied_by_another_replica_drops_the_row_here() -> None:
    world = World()
    ticks = Ticks()
    cache = CachingAssetStore(world.store, ttl_s=3600, monotonic=ticks)
    asset = await world.upload(GIF)
    approved = await world.assets.apply(world.decision(asset, 1, "APPROVED"))
    assert approved is not None
    assert (await cache.get(asset.asset_id)) is not None and (await cache.get(asset.asset_id)).delivered  # type: ignore[union-attr]
    # The other replica applied the takedown (revision 2) to the shared database first.
    await world.store.set_moderation(
        asset.asset_id, replace(approved.moderation, status=ModerationStatus.REJECTED, revision=2), world.clock()
    )
    feed = FakeFeed()
    await feed.publish(world.decision(asset, 2, "REJECTED"))
    follower = DecisionFollower(feed, world.assets, cache, sleep=asyncio.sleep, invalidate=cache.invalidate)
    task = asyncio.create_task(follower.run())
    for _ in range(500):
        if follower.revision == 2:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    seen = await cache.get(asset.asset_id)
    assert seen is not None and seen.moderation.status is ModerationStatus.REJECTED


def test_the_bytes_cache_is_bounded_and_keyed_by_content() -> None:
    cache = BytesCache(max_total_bytes=10, max_item_bytes=6)
    cache.keep("a", "h1", b"123456")
    cache.keep("big", "h", b"1234567")  # over the item limit: not kept
    assert cache.get("big", "h") is None
    assert cache.get("a", "h1") == b"123456" and cache.get("a", "other") is None
    cache.keep("b", "h2", b"abcd")
    cache.keep("c", "h3", b"xyz")  # 13 bytes: the least recently used ("a") goes
    assert cache.get("a", "h1") is None and cache.get("b", "h2") == b"abcd" and cache.get("c", "h3") == b"xyz"


async def test_delivery_serves_ranges_from_cached_bytes() -> None:
    from services.sharelinks.tests.test_publishing import get, published

    world, delivery, asset_id = await published(cache=BytesCache(max_total_bytes=1 << 20, max_item_bytes=1 << 20))
    full = await delivery.download(get(asset_id))
    world.blobs.down = True  # from here on, only the cache can answer
    part = await delivery.download(get(asset_id, range="bytes=2-5"))
    assert part.status == 206 and part.body == full.body[2:6]
    assert (await delivery.download(get(asset_id))).body == full.body


class _SlowReads:
    """The wrapped store's reads wait until ``release`` is set (a read racing a write)."""

    def __init__(self, store: object) -> None:
        self._store = store
        self.release = asyncio.Event()

    async def get(self, asset_id: str) -> object:
        answer = await self._store.get(asset_id)  # type: ignore[attr-defined]
        await self.release.wait()
        return answer

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


async def test_a_read_racing_a_delete_does_not_keep_the_old_row() -> None:
    world = World()
    slow = _SlowReads(world.store)
    cache = CachingAssetStore(slow, ttl_s=3600, monotonic=Ticks())  # type: ignore[arg-type]
    asset = await world.upload(GIF)
    reading = asyncio.create_task(cache.get(asset.asset_id))
    await asyncio.sleep(0)
    assert await cache.delete(asset.asset_id)
    slow.release.set()
    assert await reading is not None  # it read the row before the delete …
    assert await cache.get(asset.asset_id) is None  # … but did not keep it
