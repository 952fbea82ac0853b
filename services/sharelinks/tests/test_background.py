"""The decision follower, the rendition worker and the purge queue on in-memory fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from services.sharelinks.domain.background import DecisionFollower, PurgeQueue, RenditionWorker
from services.sharelinks.domain.model import Moderation, ModerationStatus, RenditionState, rendition_key
from services.sharelinks.ports import ModerationEvent, RenditionSpec
from services.sharelinks.tests.fakes import FakeFeed, FakePurger, FakeRenditionMaker
from services.sharelinks.tests.test_assets import GIF, PNG, World

SPECS = (RenditionSpec("mp4", "mp4", None), RenditionSpec("poster-200", "poster", 200))


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


async def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll ``predicate`` (state of another task) until it holds."""

    async def poll() -> None:
        for _ in range(int(timeout_s / 0.01)):
            if predicate():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("condition not reached")

    await poll()


async def test_follower_applies_the_feed_and_resumes_from_its_cursor() -> None:
    world = World()
    feed = FakeFeed()
    asset = await world.upload(GIF)
    follower = DecisionFollower(feed, world.assets, world.store, sleep=no_sleep)
    task = asyncio.create_task(follower.run())
    await feed.publish(world.decision(asset, 3, "APPROVED"))
    await wait_for(lambda: follower.revision == 3)
    assert (await world.assets.get(asset.asset_id)).delivered
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    # Restarted: it asks for what came after the stored cursor, and a takedown meanwhile is applied.
    await feed.publish(world.decision(asset, 4, "REJECTED"))
    again = DecisionFollower(feed, world.assets, world.store, sleep=no_sleep)
    task = asyncio.create_task(again.run())
    await wait_for(lambda: again.revision == 4)
    assert feed.watches == [0, 3]
    assert (await world.assets.get(asset.asset_id)).moderation.status is ModerationStatus.REJECTED
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_follower_reconnects_after_a_broken_stream() -> None:
    world = World()
    feed = FakeFeed()
    feed.fail_next = 2
    asset = await world.upload(GIF)
    await feed.publish(world.decision(asset, 1, "APPROVED"))
    follower = DecisionFollower(feed, world.assets, world.store, sleep=no_sleep)
    task = asyncio.create_task(follower.run())
    await wait_for(lambda: follower.revision == 1)
    assert feed.watches == [0, 0, 0]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_replaced_feed_is_followed_from_the_start() -> None:
    world = World()
    feed = FakeFeed()
    asset = await world.upload(GIF)
    await world.store.save_cursor(500)  # the scanner's database was replaced: its feed restarts at 1
    await feed.publish(world.decision(asset, 1, "APPROVED"))
    follower = DecisionFollower(feed, world.assets, world.store, sleep=no_sleep)
    task = asyncio.create_task(follower.run())
    await wait_for(lambda: follower.revision == 1)
    assert feed.watches[:2] == [500, 0]
    assert (await world.assets.get(asset.asset_id)).delivered
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_heartbeats_move_the_cursor_only() -> None:
    world = World()
    feed = FakeFeed()
    follower = DecisionFollower(feed, world.assets, world.store, sleep=no_sleep)
    task = asyncio.create_task(follower.run())
    await feed.publish(ModerationEvent(revision=40, kind="heartbeat"))
    await wait_for(lambda: follower.revision == 40)
    assert await world.store.cursor() == 40
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_purges_are_retried_until_they_succeed() -> None:
    purger = FakePurger(failures=2)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    queue = PurgeQueue(purger, sleep=sleep, attempts=4, backoff_s=1.0)
    world = World()
    asset = await world.upload(GIF)
    await queue.request(asset)
    await queue.idle()
    assert purger.purged == [(asset.asset_id,)] and purger.attempts == 3
    assert sleeps == [1.0, 2.0]


async def test_purges_give_up_after_the_attempts() -> None:
    purger = FakePurger(failures=10)
    queue = PurgeQueue(purger, sleep=no_sleep, attempts=3)
    world = World()
    await queue.request(await world.upload(GIF))
    await queue.idle()
    assert purger.purged == [] and purger.attempts == 3


async def approved_world() -> tuple[World, FakeRenditionMaker, RenditionWorker, str]:
    world = World()
    maker = FakeRenditionMaker()
    worker = RenditionWorker(world.store, world.blobs, maker, SPECS, clock=world.clock, max_attempts=2)
    asset = await world.upload(GIF)
    await world.assets.apply(world.decision(asset, 1, "APPROVED"))
    return world, maker, worker, asset.asset_id


async def test_renditions_of_approved_assets_are_made_and_stored() -> None:
    world, _, worker, asset_id = await approved_world()
    await worker.schedule(await world.assets.get(asset_id))
    await worker.idle()
    records = {r.name: r for r in await world.store.renditions(asset_id)}
    assert {n: r.state for n, r in records.items()} == {"mp4": RenditionState.READY, "poster-200": RenditionState.READY}
    assert records["poster-200"].height == 200 and records["mp4"].content_type == "video/mp4"
    assert await world.blobs.get(rendition_key(asset_id, "mp4")) == b"mp4:" + GIF[:8]
    assert records["mp4"].size_bytes == len(b"mp4:" + GIF[:8])


async def test_failed_renditions_are_recorded_retried_and_given_up() -> None:
    world, maker, worker, asset_id = await approved_world()
    maker.failing.add("mp4")
    await worker.schedule(await world.assets.get(asset_id))
    await worker.idle()
    records = {r.name: r for r in await world.store.renditions(asset_id)}
    assert records["mp4"].state is RenditionState.FAILED and "ffmpeg exited 1" in records["mp4"].error
    assert records["poster-200"].state is RenditionState.READY  # one failure does not stop the others
    assert await worker.resume() == 0  # not due yet
    world.clock.advance(61)
    assert await worker.resume() == 1
    await worker.idle()
    record = next(r for r in await world.store.renditions(asset_id) if r.name == "mp4")
    assert record.state is RenditionState.FAILED and record.attempts == 2 and record.retry_at is None
    world.clock.advance(3600)
    assert await worker.resume() == 0  # max attempts reached
    maker.failing.clear()


async def test_no_renditions_for_assets_not_approved() -> None:
    world = World()
    maker = FakeRenditionMaker()
    worker = RenditionWorker(world.store, world.blobs, maker, SPECS, clock=world.clock)
    asset = await world.upload(PNG)
    await worker.schedule(asset)
    await worker.idle()
    assert maker.made == [] and await world.store.renditions(asset.asset_id) == []
    # Approved, then taken down before the worker ran: nothing is made.
    await world.store.set_moderation(asset.asset_id, Moderation(status=ModerationStatus.APPROVED), world.clock())
    approved = await world.assets.get(asset.asset_id)
    await world.store.set_moderation(
        asset.asset_id, replace(approved.moderation, status=ModerationStatus.REJECTED), world.clock()
    )
    await worker.schedule(approved)
    await worker.idle()
    assert maker.made == []


@pytest.mark.parametrize("count", [3])
async def test_resume_schedules_approved_assets_missing_renditions(count: int) -> None:
    world = World()
    maker = FakeRenditionMaker()
    worker = RenditionWorker(world.store, world.blobs, maker, SPECS, clock=world.clock)
    for index in range(count):
        asset = await world.upload(GIF + bytes([index]))
        await world.assets.apply(world.decision(asset, index + 1, "APPROVED"))
    assert await worker.resume() == count
    await worker.idle()
    assert await worker.resume() == 0
    assert len(maker.made) == count * len(SPECS)
