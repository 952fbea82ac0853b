"""Raw retention on the in-memory store, with an injected clock: old days' raw events are dropped and their
counts stay, events older than the retention are refused, and a range edge before the horizon is widened
to its whole hour (its partial hour's raw events are gone) while one after it stays exact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from clearframe_runtime.errors import InvalidArgument
from services.analytics.domain.analytics import Analytics, Granularity
from services.analytics.domain.events import EventDraft, Limits
from services.analytics.domain.ingest import Ingestor
from services.analytics.domain.model import EventFilter, Metrics, RankBy, TimeRange
from services.analytics.domain.retention import RawRetention
from services.analytics.settings import IngestSettings
from services.analytics.tests.fake_store import MemoryEventStore
from services.analytics.tests.test_domain import FakeClock, World

NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
#: Three whole days before today: raw events from 2026-11-29 00:00 on are kept.
HORIZON = datetime(2026, 11, 29, tzinfo=UTC)
ASSET = "0123456789abcdef"
MICROSECOND = timedelta(microseconds=1)


async def _world(retention: RawRetention | None) -> AsyncIterator[World]:
    store = MemoryEventStore()
    ingestor = Ingestor(store, linger_s=0)
    clock = FakeClock(NOW)
    yield World(Analytics(store, ingestor, clock=clock, retention=retention), store, clock)
    await ingestor.close()


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async for made in _world(RawRetention(3)):
        yield made


@pytest.fixture
async def keeping_all() -> AsyncIterator[World]:
    async for made in _world(None):
        yield made


async def _views_at(world: World, *moments: datetime) -> None:
    """Views that happened at ``moments``, each sent when it happened."""
    for n, moment in enumerate(moments):
        world.clock.now = moment
        await world.analytics.record(EventDraft(ASSET, "view", event_id=f"{moment:%d%H%M}-{n}", event_time=moment))
    world.clock.now = NOW


OLD_HOUR = datetime(2026, 11, 27, 15, tzinfo=UTC)
#: Two views in one hour of a day that is dropped, one in a kept day before noon, one today.
MOMENTS = (
    OLD_HOUR + timedelta(minutes=10),
    OLD_HOUR + timedelta(minutes=50),
    HORIZON + timedelta(hours=10, minutes=20),
    NOW - timedelta(minutes=1),
)


def test_the_horizon_is_a_midnight_whole_days_before_today() -> None:
    assert RawRetention(3).horizon(NOW) == HORIZON
    assert RawRetention(3).horizon(datetime(2026, 12, 2, tzinfo=UTC)) == HORIZON
    assert RawRetention(3).max_age == timedelta(days=3)
    with pytest.raises(ValueError, match="at least one day"):
        RawRetention(0)


def test_only_edges_before_the_horizon_are_widened_to_their_hours() -> None:
    retention = RawRetention(3)
    before, after = OLD_HOUR + timedelta(minutes=30), HORIZON + timedelta(hours=10, minutes=30)
    assert retention.widen(TimeRange(before, after), NOW) == TimeRange(OLD_HOUR, after)
    assert retention.widen(TimeRange(end=before), NOW) == TimeRange(end=OLD_HOUR + timedelta(hours=1) - MICROSECOND)
    assert retention.widen(TimeRange(HORIZON, after), NOW) == TimeRange(HORIZON, after)
    assert retention.widen(TimeRange(), NOW) == TimeRange()


async def test_expired_days_are_dropped_and_keep_counting(world: World) -> None:
    await _views_at(world, *MOMENTS)
    assert await world.analytics.drop_expired_raw() == 2
    assert sorted(e.event_time for e in world.store.events.values()) == list(MOMENTS[2:])
    assert await world.analytics.drop_expired_raw() == 0  # nothing more before the horizon
    assert await world.analytics.asset_metrics(ASSET, TimeRange()) == Metrics(views=4)
    listed, _ = await world.analytics.list_events(EventFilter(asset_id=ASSET), 100, "")
    assert [e.event_time for e in listed] == list(MOMENTS[2:])
    # A day later the horizon has moved on by a day: the 29th's view goes too.
    world.clock.now = NOW + timedelta(days=1)
    assert await world.analytics.drop_expired_raw() == 1
    assert await world.analytics.asset_metrics(ASSET, TimeRange()) == Metrics(views=4)


async def test_an_edge_before_the_horizon_counts_its_whole_hour_and_one_after_it_is_exact(world: World) -> None:
    await _views_at(world, *MOMENTS)
    await world.analytics.drop_expired_raw()
    mid_old_hour = OLD_HOUR + timedelta(minutes=30)
    # Exact would be 1 from 15:30 (and 3 in all); the hour's raw events are gone, so its whole hour counts.
    assert await world.analytics.asset_metrics(ASSET, TimeRange(start=mid_old_hour)) == Metrics(views=4)
    assert await world.analytics.asset_metrics(ASSET, TimeRange(end=mid_old_hour)) == Metrics(views=2)
    # After the horizon, to the microsecond: 10:30 on the 29th leaves out the view at 10:20.
    kept_edge = HORIZON + timedelta(hours=10, minutes=30)
    assert await world.analytics.asset_metrics(ASSET, TimeRange(start=kept_edge)) == Metrics(views=1)
    assert await world.analytics.asset_metrics(ASSET, TimeRange(mid_old_hour, kept_edge)) == Metrics(views=3)
    top, _ = await world.analytics.top_assets(
        RankBy.VIEWS,
        platform=None,
        time_range=TimeRange(start=mid_old_hour),
        min_views=0,
        requested_page_size=10,
        page_token="",
    )
    assert [(t.asset_id, t.metrics.views) for t in top] == [(ASSET, 4)]
    days = await world.analytics.time_series(ASSET, Granularity.DAY, TimeRange(mid_old_hour, NOW))
    assert [(moment.day, metrics.views) for moment, metrics in days if metrics.views] == [(27, 2), (29, 1), (2, 1)]


async def test_events_older_than_the_retention_are_refused(world: World) -> None:
    too_old = NOW - timedelta(days=3, seconds=1)
    with pytest.raises(InvalidArgument) as refused:
        await world.analytics.record(EventDraft(ASSET, "view", event_time=too_old))
    assert refused.value.reason == "INVALID_EVENT_TIME"
    outcome = await world.analytics.record_batch(
        [EventDraft(ASSET, "view", event_time=too_old), EventDraft(ASSET, "view", event_time=NOW - timedelta(days=3))]
    )
    assert [e.error.reason for e in outcome.errors] == ["INVALID_EVENT_TIME"] and len(outcome.stored_ids) == 1
    # A longer max_age does not reach past the retention; a shorter one still applies.
    store = MemoryEventStore()
    ingestor = Ingestor(store, linger_s=0)
    shorter = Analytics(
        store, ingestor, clock=FakeClock(NOW), limits=Limits(max_age=timedelta(days=1)), retention=RawRetention(3)
    )
    with pytest.raises(InvalidArgument):
        await shorter.record(EventDraft(ASSET, "view", event_time=NOW - timedelta(days=2)))
    await ingestor.close()


async def test_without_a_retention_nothing_is_dropped(keeping_all: World) -> None:
    await _views_at(keeping_all, *MOMENTS)
    assert await keeping_all.analytics.drop_expired_raw() == 0
    assert len(keeping_all.store.events) == 4
    # And ranges stay exact at every edge.
    mid_old_hour = OLD_HOUR + timedelta(minutes=30)
    assert await keeping_all.analytics.asset_metrics(ASSET, TimeRange(start=mid_old_hour)) == Metrics(views=3)


@pytest.mark.parametrize("setting", [{"raw_retention_days": -1}, {"retention_every_s": 0}])
def test_a_negative_retention_or_no_interval_is_refused_at_start(setting: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        IngestSettings(**setting)  # type: ignore[arg-type]
