"""The event store's contract, run on the in-memory fake, SQLite and PostgreSQL (when configured; required
in CI, where a missing server fails these tests), so that the fake the domain's tests use behaves as the
databases do; and the migrations' checks."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from clearframe_mesh.process import free_port
from clearframe_runtime import db
from clearframe_runtime.errors import Unavailable
from clearframe_runtime.testing import assert_migrations_idempotent, database_for
from services.analytics.adapters import sql as sql_adapter
from services.analytics.adapters.clickhouse import ChdbExecutor, ClickHouseEventStore
from services.analytics.adapters.sql import _PG_FOLD_LOCK, SqlEventStore, _rows, metadata
from services.analytics.domain.batch import EventColumns
from services.analytics.domain.model import (
    Count,
    Dimension,
    Event,
    EventFilter,
    EventType,
    Metrics,
    Platform,
    RankBy,
    TimeRange,
)
from services.analytics.ports import EventStore
from services.analytics.tests.fake_store import MemoryEventStore

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
A1, A2, A3 = "a" * 16, "b" * 16, "c" * 16
MEMORY = "memory"
#: ClickHouse in-process (chdb): the same engine and SQL as a server.
CLICKHOUSE = "clickhouse"


def event(
    n: int,
    *,
    asset_id: str = A1,
    at: datetime = T0,
    kind: EventType = EventType.VIEW,
    platform: Platform = Platform.WEB,
    code: str = "",
    bot: bool = False,
) -> Event:
    return Event(
        event_id=f"e{n}",
        asset_id=asset_id,
        event_type=kind,
        platform=platform,
        short_code=code,
        event_time=at,
        receive_time=at + timedelta(seconds=1),
        attributes={"campaign": "launch", "ünï": "cödé"},
        user_agent="Discordbot/2.0" if bot else "Mozilla/5.0",
        bot=bot,
    )


#: PostgreSQL with every count left pending (no fold): the reads answer from the deltas alone. The plain
#: "postgres" store starts a fold after every write, so its reads meet counts folded, pending, or both.
UNFOLDED = "postgres-unfolded"


@pytest.fixture(params=[MEMORY, "sqlite", "postgres", UNFOLDED, CLICKHOUSE])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """``MEMORY``, ``CLICKHOUSE`` or a fresh SQL database's URL (clearframe_runtime.testing.database_for)."""
    if request.param in (MEMORY, CLICKHOUSE):
        yield request.param
        return
    with database_for(request.param.removesuffix("-unfolded"), tmp_path, "analytics") as url:
        yield url


@pytest.fixture
async def store(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[EventStore]:
    if backend == MEMORY:
        yield MemoryEventStore()
        return
    if backend == CLICKHOUSE:
        clickhouse = ClickHouseEventStore(ChdbExecutor(), f"analytics_{uuid.uuid4().hex[:12]}")
        await clickhouse.create_schema()
        await clickhouse.create_schema()  # idempotent: every start runs it
        try:
            yield clickhouse
        finally:
            await clickhouse.close()
        return
    await db.migrate(backend, MIGRATIONS)
    engine = db.create_engine(backend)
    sql = SqlEventStore(engine, fold_every_s=None if request.node.callspec.params["backend"] == UNFOLDED else 0)
    try:
        yield sql
    finally:
        await sql.close()
        await engine.dispose()


def totals(counts: list[Count]) -> Metrics:
    return Metrics.of(counts)


async def test_recorded_events_read_back_whole_and_in_order(store: EventStore) -> None:
    later = event(2, at=T0 + timedelta(microseconds=7), code="Ab12Cd34", platform=Platform.SLACK)
    first = event(1)
    same_time = event(0)
    assert await store.record([later, first, same_time]) == {"e0", "e1", "e2"}
    assert await store.get_many(["e1", "e2", "nope"]) == {"e1": first, "e2": later}
    assert await store.page(EventFilter(), 0, 10) == [same_time, first, later]  # by time, then id
    assert await store.page(EventFilter(), 1, 1) == [first]
    assert await store.page(EventFilter(short_code="Ab12Cd34"), 0, 10) == [later]
    found = (await store.get_many(["e2"]))["e2"]
    assert found.event_time.utcoffset() == timedelta(0) and found.event_time == T0 + timedelta(microseconds=7)
    with pytest.raises(ValueError):
        await store.page(EventFilter(), -1, 10)


async def test_known_ids_are_skipped_and_the_first_event_stays(store: EventStore) -> None:
    original = event(1)
    assert await store.record([original]) == {"e1"}
    impostor = replace(original, asset_id=A2, event_type=EventType.CLICK)
    assert await store.record([impostor, event(2)]) == {"e2"}
    assert (await store.get_many(["e1"]))["e1"] == original
    assert totals(await store.counts(EventFilter(asset_id=A1), frozenset())) == Metrics(views=2)
    assert await store.counts(EventFilter(asset_id=A2), frozenset()) == []
    # A retry stamped with another time (another day: another partition on PostgreSQL) is the same event.
    assert await store.record([replace(original, event_time=T0 + timedelta(days=3))]) == set()
    assert totals(await store.counts(EventFilter(), frozenset())) == Metrics(views=2)


async def test_of_concurrent_writers_of_one_id_exactly_one_stores_it(store: EventStore) -> None:
    results = await asyncio.gather(*(store.record([event(7), event(100 + i)]) for i in range(6)))
    assert sum("e7" in stored for stored in results) == 1
    assert totals(await store.counts(EventFilter(), frozenset())) == Metrics(views=7)


async def test_events_as_columns_are_stored_as_events_are(store: EventStore) -> None:
    events = [event(1), event(2, bot=True, code="Ab12Cd34"), event(3, kind=EventType.PLAY, asset_id=A2)]
    assert await store.record_columns(EventColumns.of(events[:2])) == {"e1", "e2"}
    # A known id among new ones (on PostgreSQL: the register's COPY fails, the ids are registered one by one).
    assert await store.record_columns(EventColumns.of([replace(events[1], asset_id=A3), events[2]])) == {"e3"}
    assert await store.get_many(["e1", "e2", "e3"]) == {e.event_id: e for e in events}
    assert totals(await store.counts(EventFilter(), frozenset())) == Metrics(views=1, plays=1, bot_events=1)
    assert totals(await store.counts(EventFilter(asset_id=A3), frozenset())) == Metrics()
    assert await store.record_columns(EventColumns.of([])) == set()


async def test_bots_are_counted_apart(store: EventStore) -> None:
    await store.record([event(1), event(2, bot=True), event(3, kind=EventType.CLICK, bot=True)])
    assert totals(await store.counts(EventFilter(), frozenset())) == Metrics(views=1, bot_events=2)
    assert [e.bot for e in await store.page(EventFilter(), 0, 10)] == [False, True, True]


async def test_counts_group_by_asset_platform_and_code(store: EventStore) -> None:
    await store.record(
        [
            event(1, asset_id=A1, platform=Platform.SLACK, code="code1"),
            event(2, asset_id=A1, platform=Platform.SLACK, code="code1", kind=EventType.CLICK),
            event(3, asset_id=A1, platform=Platform.DISCORD),
            event(4, asset_id=A2, platform=Platform.SLACK, kind=EventType.PLAY),
        ]
    )
    by_platform = await store.counts(EventFilter(asset_id=A1), frozenset({Dimension.PLATFORM}))
    assert sorted((c.platform.value if c.platform else "", c.event_type.value, c.humans) for c in by_platform) == [
        ("discord", "view", 1),
        ("slack", "click", 1),
        ("slack", "view", 1),
    ]
    by_asset = await store.counts(EventFilter(platform=Platform.SLACK), frozenset({Dimension.ASSET}))
    assert sorted((c.asset_id, c.event_type.value, c.humans) for c in by_asset) == [
        (A1, "click", 1),
        (A1, "view", 1),
        (A2, "play", 1),
    ]
    by_code = await store.counts(EventFilter(short_code="code1"), frozenset({Dimension.ASSET, Dimension.SHORT_CODE}))
    assert {(c.asset_id, c.short_code) for c in by_code} == {(A1, "code1")}
    assert all(c.platform is None for c in by_code)
    assert totals(await store.counts(EventFilter(event_type=EventType.CLICK), frozenset())) == Metrics(clicks=1)


async def test_time_ranges_include_both_ends_to_the_microsecond(store: EventStore) -> None:
    edge = T0 + timedelta(minutes=30)
    await store.record(
        [
            event(1, at=edge - timedelta(microseconds=1)),
            event(2, at=edge),
            event(3, at=edge + timedelta(hours=2)),
            event(4, at=edge + timedelta(hours=2, microseconds=1)),
        ]
    )
    inclusive = TimeRange(edge, edge + timedelta(hours=2))
    assert totals(await store.counts(EventFilter(time_range=inclusive), frozenset())).views == 2
    assert [e.event_id for e in await store.page(EventFilter(time_range=inclusive), 0, 10)] == ["e2", "e3"]
    assert totals(await store.counts(EventFilter(time_range=TimeRange(edge, edge)), frozenset())).views == 1
    assert totals(await store.counts(EventFilter(time_range=TimeRange(start=edge)), frozenset())).views == 3
    assert totals(await store.counts(EventFilter(time_range=TimeRange(end=edge)), frozenset())).views == 2


async def test_counts_for_random_ranges_equal_counting_the_events(store: EventStore, backend: str) -> None:
    """Rollups of whole hours plus the raw edges give exactly what counting every event gives."""
    rng = random.Random(2)
    events = [
        event(
            n,
            asset_id=rng.choice([A1, A2, A3]),
            at=T0 + timedelta(microseconds=rng.randrange(0, 10 * 3_600_000_000)),
            kind=rng.choice(list(EventType)),
            platform=rng.choice(list(Platform)),
            code=rng.choice(["", "code1", "code2"]),
            bot=rng.random() < 0.2,
        )
        for n in range(400)
    ]
    for offset in range(0, len(events), 150):
        await store.record(events[offset : offset + 150])
    reference = MemoryEventStore()
    await reference.record(events)
    # Whole hours, and moments anywhere (an edge inside an hour, or both edges in one hour).
    moments = [
        T0,
        T0 + timedelta(hours=3),
        *(T0 + timedelta(microseconds=rng.randrange(0, 11 * 3_600_000_000)) for _ in range(12)),
    ]
    for _ in range(25):
        start, end = sorted(rng.sample(moments, 2))
        time_range = rng.choice([TimeRange(start, end), TimeRange(start=start), TimeRange(end=end), TimeRange()])
        for by in (
            frozenset(),
            frozenset({Dimension.ASSET}),
            frozenset({Dimension.PLATFORM, Dimension.SHORT_CODE}),
            frozenset({Dimension.HOUR, Dimension.ASSET}),
        ):
            where = EventFilter(time_range=time_range, platform=rng.choice([None, Platform.SLACK]))
            got = sorted(await store.counts(where, by), key=repr)
            assert got == sorted(await reference.counts(where, by), key=repr), (time_range, by)


async def test_counts_and_rankings_over_days_equal_counting_the_events(store: EventStore) -> None:
    """Ranges over several UTC days (day totals, whole edge hours, raw edges in SQL) give exactly what
    counting every event gives; so do the top assets, for every metric, floor and length, with and
    without a platform."""
    rng = random.Random(3)
    start = T0 - timedelta(days=2, hours=5)
    events = [
        event(
            n,
            asset_id=rng.choice([A1, A2, A3, "d" * 16, "e" * 16]),
            at=start + timedelta(microseconds=rng.randrange(0, 4 * 24 * 3_600_000_000)),
            kind=rng.choice([EventType.VIEW, EventType.VIEW, EventType.PLAY, EventType.CLICK]),
            platform=rng.choice([Platform.WEB, Platform.SLACK, Platform.TEAMS]),
            code=rng.choice(["", "code1"]),
            bot=rng.random() < 0.1,
        )
        for n in range(600)
    ]
    for offset in range(0, len(events), 200):
        await store.record(events[offset : offset + 200])
    reference = MemoryEventStore()
    await reference.record(events)
    midnight = datetime(2026, 12, 1, tzinfo=UTC)
    ranges = [
        TimeRange(),
        TimeRange(midnight - timedelta(days=1), midnight + timedelta(days=1) - timedelta(microseconds=1)),
        TimeRange(midnight - timedelta(days=1), midnight + timedelta(days=1)),
        TimeRange(start=midnight - timedelta(hours=20, minutes=7)),
        TimeRange(end=midnight + timedelta(hours=3, seconds=1)),
        *(
            TimeRange(a, b)
            for a, b in (
                sorted(start + timedelta(microseconds=rng.randrange(0, 4 * 24 * 3_600_000_000)) for _ in range(2))
                for _ in range(6)
            )
        ),
    ]
    for time_range in ranges:
        for where in (
            EventFilter(time_range=time_range),
            EventFilter(time_range=time_range, platform=Platform.SLACK),
            EventFilter(time_range=time_range, asset_id=A2),
        ):
            for by in (frozenset(), frozenset({Dimension.ASSET}), frozenset({Dimension.PLATFORM})):
                got = sorted(await store.counts(where, by), key=repr)
                assert got == sorted(await reference.counts(where, by), key=repr), (where, by)
        for platform in (None, Platform.TEAMS):
            where = EventFilter(time_range=time_range, platform=platform)
            for rank_by in RankBy:
                for min_views, limit in ((0, 5), (10, 2), (25, 1), (3, 0)):
                    got_top = await store.top_assets(where, rank_by, min_views, limit)
                    assert got_top == await reference.top_assets(where, rank_by, min_views, limit), (where, rank_by)


async def test_top_assets_rank_rates_as_shown_rounded_then_by_events(store: EventStore) -> None:
    """A rate is ranked as the answer shows it (rounded to 2 decimals, half to even: 1/160 = 0.625 % shows
    0.62): an asset with a lower exact rate but the same shown one and more events ranks first."""
    n = iter(range(10_000))
    events = [event(next(n), asset_id=A1) for _ in range(160)] + [event(next(n), asset_id=A1, kind=EventType.CLICK)]
    events += [event(next(n), asset_id=A2) for _ in range(161)] + [event(next(n), asset_id=A2, kind=EventType.CLICK)]
    events += [event(next(n), asset_id=A3) for _ in range(9)] + [event(next(n), asset_id=A3, kind=EventType.CLICK)]
    events += [event(next(n), asset_id="d" * 16, bot=True, kind=EventType.CLICK)]  # bots only: not ranked
    await store.record(events)
    where = EventFilter(time_range=TimeRange(T0 - timedelta(days=1), T0 + timedelta(days=1)))
    top = await store.top_assets(where, RankBy.CTR, 10, 1)
    assert [(r.asset_id, r.metrics.ctr) for r in top] == [(A2, 0.62)]
    ranked = await store.top_assets(where, RankBy.CTR, 9, 10)
    assert [(r.asset_id, r.metrics.ctr) for r in ranked] == [(A3, 11.11), (A2, 0.62), (A1, 0.62)]
    assert ranked[1].metrics == Metrics(views=161, clicks=1)
    assert await store.top_assets(where, RankBy.CTR, 200, 10) == []
    by_views = await store.top_assets(EventFilter(), RankBy.VIEWS, 0, 2)
    assert [(r.asset_id, r.metrics.views) for r in by_views] == [(A2, 161), (A1, 160)]
    bots_only = await store.top_assets(EventFilter(), RankBy.VIEWS, 0, 10)
    assert "d" * 16 not in {r.asset_id for r in bots_only}


async def test_counts_per_hour_put_each_event_in_its_utc_hour(store: EventStore) -> None:
    await store.record(
        [
            event(1, at=T0 + timedelta(minutes=59, seconds=59, microseconds=999_999)),
            event(2, at=T0 + timedelta(hours=1)),
            event(3, at=T0 + timedelta(hours=1, minutes=30), bot=True),
        ]
    )
    for time_range in (TimeRange(), TimeRange(T0 + timedelta(minutes=1), T0 + timedelta(hours=1, minutes=45))):
        hours = await store.counts(EventFilter(time_range=time_range), frozenset({Dimension.HOUR}))
        assert sorted((c.hour, c.humans, c.bots) for c in hours if c.hour is not None) == [
            (T0, 1, 0),
            (T0 + timedelta(hours=1), 1, 1),
        ]


async def test_purge_one_asset_or_all(store: EventStore) -> None:
    await store.record([event(1, asset_id=A1), event(2, asset_id=A1), event(3, asset_id=A2)])
    assert await store.purge(A1) == 2
    assert await store.counts(EventFilter(asset_id=A1), frozenset()) == []
    assert totals(await store.counts(EventFilter(), frozenset())).views == 1
    assert await store.record([event(1, asset_id=A1)]) == {"e1"}  # a purged id may be recorded again
    assert await store.purge(None) == 2
    assert await store.page(EventFilter(), 0, 10) == []
    assert await store.counts(EventFilter(), frozenset()) == []


async def test_old_days_raw_events_are_dropped_and_their_counts_stay(store: EventStore) -> None:
    """drop_raw_before removes the raw events of the days before a UTC midnight and forgets their ids; every
    count stays: all time, whole hours before the day and exact edges after it, per asset, platform, code and
    hour, and the rankings."""
    rng = random.Random(11)
    midnight = datetime(2026, 12, 1, tzinfo=UTC)
    events = [
        event(
            n,
            asset_id=rng.choice([A1, A2, A3]),
            at=midnight + timedelta(microseconds=rng.randrange(-3 * 86_400_000_000, 2 * 86_400_000_000)),
            kind=rng.choice([EventType.VIEW, EventType.VIEW, EventType.PLAY, EventType.CLICK]),
            platform=rng.choice([Platform.WEB, Platform.SLACK]),
            code=rng.choice(["", "code1"]),
            bot=rng.random() < 0.1,
        )
        for n in range(300)
    ]
    # One event at the midnight itself (kept) and one in its last microsecond before (dropped).
    events += [event(300, at=midnight), event(301, at=midnight - timedelta(microseconds=1))]
    await store.record(events)
    reference = MemoryEventStore()
    await reference.record(events)
    old = sorted(e.event_id for e in events if e.event_time < midnight)
    with pytest.raises(ValueError):
        await store.drop_raw_before(midnight + timedelta(hours=1))
    assert await store.drop_raw_before(midnight) == len(old) == await reference.drop_raw_before(midnight)
    kept = sorted((e for e in events if e.event_time >= midnight), key=lambda e: (e.event_time, e.event_id))
    assert await store.page(EventFilter(), 0, 1000) == kept
    assert await store.get_many(old) == {}
    hour = timedelta(hours=1)
    ranges = [
        TimeRange(),
        TimeRange(start=midnight - 2 * timedelta(days=1) + 5 * hour),
        TimeRange(midnight - 30 * hour, midnight + 7 * hour + timedelta(minutes=13, microseconds=5)),
        TimeRange(end=midnight - 3 * hour - timedelta(microseconds=1)),
        TimeRange(midnight + timedelta(seconds=1), midnight + 20 * hour + timedelta(seconds=1)),
    ]
    dimensions: tuple[set[Dimension], ...] = (
        {Dimension.ASSET},
        {Dimension.PLATFORM},
        {Dimension.SHORT_CODE},
        {Dimension.HOUR},
        set(),
    )
    for time_range in ranges:
        for where in (EventFilter(time_range=time_range), EventFilter(time_range=time_range, asset_id=A2)):
            for by in map(frozenset, dimensions):
                got = sorted(await store.counts(where, by), key=repr)
                assert got == sorted(await reference.counts(where, by), key=repr), (where, by)
        where = EventFilter(time_range=time_range)
        for rank_by in (RankBy.VIEWS, RankBy.CTR):
            assert await store.top_assets(where, rank_by, 1, 3) == await reference.top_assets(where, rank_by, 1, 3)
    everything = totals(await store.counts(EventFilter(), frozenset()))
    assert everything.total_events + everything.bot_events == len(events)
    # A forgotten id is new again: stored and counted once more (ingest refuses events that old).
    assert await store.record([events[-1]]) == {"e301"}
    assert totals(await store.counts(EventFilter(), frozenset())) == everything + Metrics(views=1)
    assert await store.drop_raw_before(midnight) == 1
    # Purging an asset after a drop removes its counts too.
    await store.purge(A1)
    assert await store.counts(EventFilter(asset_id=A1), frozenset()) == []


async def test_each_write_stores_only_its_own_events(store: EventStore) -> None:
    # PostgreSQL stages each write's rows in a table of the session: what one write (or a refused one)
    # left there must never reach a later write on the same connection.
    assert await store.record([event(1), event(2)]) == {"e1", "e2"}
    assert await store.purge(A1) == 2
    with pytest.raises(ValueError):
        await store.record([event(3), event(3)])
    for n in range(4, 8):
        assert await store.record([event(n, asset_id=A2)]) == {f"e{n}"}
    assert [e.event_id for e in await store.page(EventFilter(), 0, 10)] == ["e4", "e5", "e6", "e7"]
    assert totals(await store.counts(EventFilter(), frozenset())).views == 4


async def test_naive_times_are_refused_and_store_nothing(store: EventStore) -> None:
    with pytest.raises(ValueError):
        await store.record([event(1, at=datetime(2026, 12, 1, 12))])
    assert await store.page(EventFilter(), 0, 10) == []


async def test_a_large_write_is_one_atomic_call(store: EventStore) -> None:
    many = [event(n, at=T0 + timedelta(seconds=n)) for n in range(1300)]
    assert len(await store.record(many)) == 1300
    assert totals(await store.counts(EventFilter(), frozenset())).views == 1300


# ---------------------------------------------------------------------------------------------- migrations


def _sql_backend(backend: str) -> None:
    if backend in (MEMORY, CLICKHOUSE):
        pytest.skip("migrations concern the SQL stores (ClickHouse's schema is created idempotently at start)")


async def test_migrations_match_the_tables_and_run_twice(backend: str) -> None:
    _sql_backend(backend)
    await db.migrate(backend, MIGRATIONS)
    engine = db.create_engine(backend)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), metadata))
        # Alembic's own version table is not in our metadata; every other difference is a missing migration.
        assert [d for d in diff if "alembic_version_analytics" not in repr(d)] == []
        await SqlEventStore(engine).record([event(1), event(2, bot=True)])
    finally:
        await engine.dispose()
    await assert_migrations_idempotent(backend, MIGRATIONS)


async def test_all_time_counts_per_asset_follow_writes_duplicates_and_purges(store: EventStore) -> None:
    """Unbounded queries (read from the all-time totals in SQL) agree with counting the events, per asset
    and platform, with and without a platform or type filter, after duplicates, bots and purges."""
    reference = MemoryEventStore()
    batches = [
        [
            event(1, asset_id=A1, platform=Platform.SLACK),
            event(2, asset_id=A1, kind=EventType.CLICK),
            event(3, asset_id=A2, platform=Platform.SLACK, bot=True),
            event(4, asset_id=A3, kind=EventType.PLAY, at=T0 - timedelta(days=40)),
        ],
        [event(1, asset_id=A2), event(5, asset_id=A2, at=T0 + timedelta(days=3)), event(6, asset_id=A1)],
    ]
    for batch in batches:
        assert await store.record(batch) == await reference.record(batch)

    days = TimeRange(T0 - timedelta(days=41), T0 + timedelta(days=4))  # whole days from the day totals

    async def agree() -> None:
        for where in (
            EventFilter(),
            EventFilter(platform=Platform.SLACK),
            EventFilter(event_type=EventType.VIEW),
            EventFilter(asset_id=A2),
            EventFilter(time_range=days),
            EventFilter(time_range=days, platform=Platform.SLACK),
        ):
            for rank_by in (RankBy.VIEWS, RankBy.CTR):
                got_top = await store.top_assets(where, rank_by, 0, 10)
                assert got_top == await reference.top_assets(where, rank_by, 0, 10), (where, rank_by)
            for by in (frozenset(), frozenset({Dimension.ASSET}), frozenset({Dimension.ASSET, Dimension.PLATFORM})):
                got = sorted(await store.counts(where, by), key=repr)
                assert got == sorted(await reference.counts(where, by), key=repr), (where, by)

    await agree()
    assert totals(await store.counts(EventFilter(asset_id=A1), frozenset())) == Metrics(views=2, clicks=1)
    assert await store.purge(A1) == await reference.purge(A1)
    await agree()
    assert await store.counts(EventFilter(asset_id=A1), frozenset()) == []
    assert await store.counts(EventFilter(asset_id=A1, time_range=days), frozenset()) == []
    assert A1 not in {r.asset_id for r in await store.top_assets(EventFilter(time_range=days), RankBy.VIEWS, 0, 10)}
    assert await store.purge(None) == await reference.purge(None)
    assert await store.counts(EventFilter(), frozenset({Dimension.ASSET})) == []
    assert await store.counts(EventFilter(time_range=days), frozenset({Dimension.ASSET})) == []
    assert await store.top_assets(EventFilter(time_range=days), RankBy.VIEWS, 0, 10) == []


async def test_the_totals_migration_counts_events_stored_before_it(backend: str) -> None:
    """Events stored under the first schema (its hourly rollups) are in the all-time counts and the day totals
    once the later migrations ran."""
    _sql_backend(backend)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.async_url(backend).replace("%", "%%"))
    await asyncio.to_thread(command.upgrade, config, "0001")
    engine = db.create_engine(backend)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "INSERT INTO analytics_rollups (asset_id, short_code, platform, event_type, hour_us, events, "
                    "bot_events) VALUES (:a, :c, :p, :t, :h, :n, :b)"
                ),
                [
                    {"a": A1, "c": "", "p": "web", "t": "view", "h": 0, "n": 2, "b": 1},
                    {"a": A1, "c": "code1", "p": "web", "t": "view", "h": 3_600_000_000, "n": 3, "b": 0},
                    {"a": A2, "c": "", "p": "slack", "t": "click", "h": 0, "n": 1, "b": 0},
                ],
            )
        await db.migrate(backend, MIGRATIONS)
        store = SqlEventStore(engine)
        # All time (the totals of 0002) and two whole days (the day totals of 0003) alike.
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        two_days = TimeRange(epoch, epoch + timedelta(days=2) - timedelta(microseconds=1))
        for time_range in (TimeRange(), two_days):
            counts = await store.counts(EventFilter(time_range=time_range), frozenset({Dimension.ASSET}))
            assert sorted((c.asset_id, c.event_type.value, c.humans, c.bots) for c in counts) == [
                (A1, "view", 5, 1),
                (A2, "click", 1, 0),
            ]
        ranked = await store.top_assets(EventFilter(time_range=two_days), RankBy.VIEWS, 0, 10)
        assert [(r.asset_id, r.metrics) for r in ranked] == [
            (A1, Metrics(views=5, bot_events=1)),
            (A2, Metrics(clicks=1)),
        ]
    finally:
        await engine.dispose()


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.async_url(url).replace("%", "%%"))
    return config


async def test_events_stored_before_the_id_register_stay_known(backend: str) -> None:
    """Events stored under revision 0003 (unpartitioned on PostgreSQL) are found, and counted once when sent
    again, after the migration that registers their ids (and moves them into day partitions)."""
    _sql_backend(backend)
    await asyncio.to_thread(command.upgrade, _alembic(backend), "0003")
    old = [event(1), event(2, at=T0 + timedelta(days=2))]
    engine = db.create_engine(backend)
    try:
        columns = ", ".join(c.name for c in metadata.tables["analytics_events"].columns)
        async with engine.begin() as connection:
            await connection.execute(
                sa.text(
                    f"INSERT INTO analytics_events ({columns}) VALUES (:event_id, :asset_id, :event_type, :platform, "
                    ":short_code, :event_time_us, :receive_time_us, :user_agent, :bot, :attributes)"
                ),
                [
                    dict(zip([c.name for c in metadata.tables["analytics_events"].columns], row, strict=True))
                    for row in _rows(EventColumns.of(old))
                ],
            )
        await db.migrate(backend, MIGRATIONS)
        store = SqlEventStore(engine)
        assert await store.get_many(["e1", "e2"]) == {"e1": old[0], "e2": old[1]}
        assert await store.record([event(1), event(2, at=T0), event(3)]) == {"e3"}
        assert [e.event_id for e in await store.page(EventFilter(), 0, 10)] == ["e1", "e3", "e2"]
        if engine.dialect.name == "postgresql":
            assert await _partitions(engine) == {"analytics_events_20261201": 2, "analytics_events_20261203": 1}
    finally:
        await engine.dispose()
    await asyncio.to_thread(command.downgrade, _alembic(backend), "0003")
    await db.migrate(backend, MIGRATIONS)  # and up again, with the events


async def _partitions(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            sa.text("SELECT tableoid::regclass::text, count(*) FROM analytics_events GROUP BY 1")
        )
        return {name: int(n) for name, n in rows.all()}


async def test_postgres_keeps_events_in_day_partitions(backend: str) -> None:
    """On PostgreSQL each UTC day of events is a partition of its own, created by the write that needs it,
    and created again when it was dropped (a retention job dropping old days)."""
    if backend in (MEMORY, CLICKHOUSE, "sqlite") or not backend.startswith("postgresql"):
        pytest.skip("partitions are PostgreSQL's")
    await db.migrate(backend, MIGRATIONS)
    engine = db.create_engine(backend)
    try:
        store = SqlEventStore(engine)
        last_second = T0.replace(hour=23, minute=59, second=59, microsecond=999_999)
        assert (
            len(
                await store.record(
                    [event(1), event(2, at=last_second), event(3, at=last_second + timedelta(microseconds=1))]
                )
            )
            == 3
        )
        assert await _partitions(engine) == {"analytics_events_20261201": 2, "analytics_events_20261202": 1}
        async with engine.begin() as connection:
            await connection.execute(sa.text("DROP TABLE analytics_events_20261202"))
        assert await store.record([event(4, at=last_second + timedelta(hours=1))]) == {"e4"}
        assert await _partitions(engine) == {"analytics_events_20261201": 2, "analytics_events_20261202": 1}
        # One write over several days: the days between without events get no partition.
        spread = [event(6, at=T0 + timedelta(days=3)), event(7, at=T0 + timedelta(days=5)), event(8)]
        assert await store.record(spread) == {"e6", "e7", "e8"}
        assert await _partitions(engine) == {
            "analytics_events_20261201": 3,
            "analytics_events_20261202": 1,
            "analytics_events_20261204": 1,
            "analytics_events_20261206": 1,
        }
        async with engine.connect() as connection:
            made = await connection.execute(
                sa.text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'analytics_events'::regclass"
                )
            )
            assert sorted(made.scalars()) == [f"analytics_events_2026120{d}" for d in (1, 2, 4, 6)]
        # A second store (another replica) meets the partitions the first one made.
        assert await SqlEventStore(engine).record([event(5)]) == {"e5"}
        assert (await _partitions(engine))["analytics_events_20261201"] == 4
    finally:
        await engine.dispose()


async def test_postgres_retention_drops_whole_day_partitions(backend: str) -> None:
    """On PostgreSQL a dropped day is its partition, gone with its ids' register rows; a replica that still
    believes the day exists and writes into it gets it created again."""
    if not backend.startswith("postgresql"):
        pytest.skip("partitions are PostgreSQL's")
    await db.migrate(backend, MIGRATIONS)
    engine = db.create_engine(backend)
    try:
        store, other = SqlEventStore(engine, fold_every_s=None), SqlEventStore(engine, fold_every_s=None)
        day = timedelta(days=1)
        assert await other.record([event(1, at=T0 - 2 * day), event(2, at=T0 - day), event(3)]) == {"e1", "e2", "e3"}
        assert await store.drop_raw_before(datetime(2026, 11, 30, tzinfo=UTC)) == 1
        assert await _partitions(engine) == {"analytics_events_20261130": 1, "analytics_events_20261201": 1}
        async with engine.connect() as connection:
            tables = await connection.execute(
                sa.text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'analytics_events'::regclass"
                )
            )
            assert sorted(tables.scalars()) == ["analytics_events_20261130", "analytics_events_20261201"]
        assert await _rows_in(engine, "analytics_event_ids") == 2
        assert await other.record([event(4, at=T0 - 2 * day)]) == {"e4"}
        assert (await _partitions(engine))["analytics_events_20261129"] == 1
        assert await store.drop_raw_before(datetime(2026, 11, 30, tzinfo=UTC)) == 1
        assert await store.drop_raw_before(datetime(2026, 11, 30, tzinfo=UTC)) == 0
    finally:
        await engine.dispose()


async def test_postgres_a_drop_meeting_a_long_reader_gives_up_and_keeps_the_day(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropping a partition locks the whole events table: a drop that cannot have that lock soon (a reader in
    a long transaction holds the table) gives up with STORE_UNAVAILABLE and changes nothing; the next one,
    once the reader is done, drops the day."""
    if not backend.startswith("postgresql"):
        pytest.skip("partitions are PostgreSQL's")
    monkeypatch.setattr(sql_adapter, "_PG_DROP_LOCK_TIMEOUT", "100ms")
    await db.migrate(backend, MIGRATIONS)
    engine = db.create_engine(backend)
    reader = await asyncpg.connect(backend)
    try:
        store = SqlEventStore(engine, fold_every_s=None)
        await store.record([event(1, at=T0 - timedelta(days=2)), event(2)])
        reading = reader.transaction()
        await reading.start()
        await reader.fetch("SELECT event_id FROM analytics_events")
        with pytest.raises(Unavailable) as busy:
            await store.drop_raw_before(datetime(2026, 11, 30, tzinfo=UTC))
        assert busy.value.reason == "STORE_UNAVAILABLE"
        await reading.rollback()
        assert await _partitions(engine) == {"analytics_events_20261129": 1, "analytics_events_20261201": 1}
        assert await _rows_in(engine, "analytics_event_ids") == 2
        assert await store.drop_raw_before(datetime(2026, 11, 30, tzinfo=UTC)) == 1
        assert await _partitions(engine) == {"analytics_events_20261201": 1}
    finally:
        await reader.close()
        await engine.dispose()


def _postgres(backend: str) -> None:
    if not backend.startswith("postgresql"):
        pytest.skip("the pending counts and their fold are PostgreSQL's")


async def _rows_in(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def _answers(store: EventStore) -> list[object]:
    """What the metrics queries answer about the events of :func:`_spread_events`: all time, days, hours,
    short codes, rankings."""
    midnight = datetime(2026, 12, 1, tzinfo=UTC)
    answers: list[object] = []
    for time_range in (TimeRange(), TimeRange(midnight - timedelta(hours=30, minutes=5), T0 + timedelta(minutes=7))):
        for where in (EventFilter(time_range=time_range), EventFilter(time_range=time_range, short_code="code1")):
            for by in (frozenset({Dimension.ASSET, Dimension.PLATFORM}), frozenset({Dimension.HOUR})):
                answers.append(sorted(await store.counts(where, by), key=repr))
        for rank_by in (RankBy.VIEWS, RankBy.CTR):
            answers.append(await store.top_assets(EventFilter(time_range=time_range), rank_by, 0, 3))
    return answers


def _spread_events(first: int, n: int) -> list[Event]:
    rng = random.Random(first)
    return [
        event(
            first + k,
            asset_id=rng.choice([A1, A2, A3]),
            at=T0 - timedelta(microseconds=rng.randrange(0, 3 * 24 * 3_600_000_000)),
            kind=rng.choice(list(EventType)),
            platform=rng.choice([Platform.WEB, Platform.SLACK]),
            code=rng.choice(["", "code1"]),
            bot=rng.random() < 0.1,
        )
        for k in range(n)
    ]


async def test_postgres_counts_wait_as_deltas_until_a_fold_moves_them(backend: str) -> None:
    """A write appends its counts as deltas (analytics_deltas) and a fold moves them into the count
    tables: the answers are the same before, after, and with some folded and some pending."""
    _postgres(backend)
    await db.migrate(backend, MIGRATIONS)
    engine = db.create_engine(backend)
    store = SqlEventStore(engine, fold_every_s=None)
    reference = MemoryEventStore()
    try:
        first, second = _spread_events(0, 300), _spread_events(300, 200)
        await store.record(first)
        await reference.record(first)
        assert await _rows_in(engine, "analytics_rollups") == 0
        pending = await _rows_in(engine, "analytics_deltas")
        assert pending > 0
        expected = await _answers(reference)
        assert await _answers(store) == expected
        assert await store.fold() == pending
        assert await _rows_in(engine, "analytics_deltas") == 0
        assert await _rows_in(engine, "analytics_rollups") > 0
        assert await _answers(store) == expected
        # Half of these are known (not counted again), the rest pending beside the folded counts.
        again = first[::2] + second
        assert await store.record(again) == {e.event_id for e in second}
        await reference.record(again)
        assert await _answers(store) == await _answers(reference)
        assert await store.fold() > 0
        assert await store.fold() == 0  # nothing left
        assert await _answers(store) == await _answers(reference)
    finally:
        await engine.dispose()


async def test_postgres_folds_in_the_background_once_due(backend: str) -> None:
    _postgres(backend)
    await db.migrate(backend, MIGRATIONS)
    engine = db.create_engine(backend)
    now = [100.0]
    store = SqlEventStore(engine, monotonic=lambda: now[0], fold_every_s=5)
    try:
        await store.record(_spread_events(0, 50))
        await store.close()  # no fold was started: not due yet
        assert await _rows_in(engine, "analytics_deltas") > 0
        now[0] += 5
        await store.record(_spread_events(50, 50))
        await store.close()  # the fold that write started
        assert await _rows_in(engine, "analytics_deltas") == 0
        counted = Metrics.of(await store.counts(EventFilter(), frozenset()))
        assert counted.total_events + counted.bot_events == 100
    finally:
        await engine.dispose()


async def test_postgres_a_fold_meeting_the_lock_held_skips_and_keeps_the_deltas(backend: str) -> None:
    """While another fold (or a purge) holds the fold lock, a fold moves nothing and says so; the deltas
    wait, still counted, for the next one."""
    _postgres(backend)
    await db.migrate(backend, MIGRATIONS)
    engine = db.create_engine(backend)
    store = SqlEventStore(engine, fold_every_s=None)
    try:
        await store.record(_spread_events(0, 60))
        pending = await _rows_in(engine, "analytics_deltas")
        async with engine.begin() as other:
            await other.execute(sa.text(f"SELECT pg_advisory_xact_lock({_PG_FOLD_LOCK})"))
            assert await store.fold() == 0
            assert await _rows_in(engine, "analytics_deltas") == pending
        counted = Metrics.of(await store.counts(EventFilter(), frozenset()))
        assert counted.total_events + counted.bot_events == 60
        assert await store.fold() == pending
    finally:
        await engine.dispose()


async def test_postgres_a_fold_without_the_database_is_unavailable(backend: str) -> None:
    _postgres(backend)
    engine = db.create_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    try:
        with pytest.raises(Unavailable) as raised:
            await SqlEventStore(engine, fold_every_s=None).fold()
        assert raised.value.reason == "STORE_UNAVAILABLE"
    finally:
        await engine.dispose()


async def test_postgres_concurrent_writers_and_folds_count_each_event_once(backend: str) -> None:
    """Two replicas' stores write at once and fold after every write (one fold at a time; the other is
    skipped), while purges of one asset come between: every count is exact."""
    _postgres(backend)
    await db.migrate(backend, MIGRATIONS)
    engine = db.create_engine(backend)
    replicas = [SqlEventStore(engine, fold_every_s=0), SqlEventStore(engine, fold_every_s=0)]
    reference = MemoryEventStore()
    try:
        batches = [_spread_events(100 * n, 100) for n in range(12)]
        for round_ in range(0, len(batches), 4):
            writes = [replicas[n % 2].record(batch) for n, batch in enumerate(batches[round_ : round_ + 4])]
            await asyncio.gather(*writes, replicas[0].record(batches[round_][:40]))  # a duplicate write
            for batch in batches[round_ : round_ + 4]:
                await reference.record(batch)
            await asyncio.gather(replicas[1].purge(A3), reference.purge(A3))
            assert await _answers(replicas[0]) == await _answers(reference)
        for replica in replicas:
            await replica.close()
        await replicas[0].fold()
        assert await _rows_in(engine, "analytics_deltas") == 0
        assert await _answers(replicas[1]) == await _answers(reference)
    finally:
        await engine.dispose()


async def test_a_drop_without_the_database_is_unavailable(tmp_path: Path) -> None:
    """Retention against a database that cannot be reached (PostgreSQL nobody listens for, SQLite in a
    folder that does not exist) fails with STORE_UNAVAILABLE, which the periodic round logs and retries."""
    midnight = datetime(2026, 11, 30, tzinfo=UTC)
    for url in (f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere", f"sqlite:///{tmp_path}/missing/x.db"):
        engine = db.create_engine(url)
        try:
            with pytest.raises(Unavailable) as raised:
                await SqlEventStore(engine, fold_every_s=None).drop_raw_before(midnight)
            assert raised.value.reason == "STORE_UNAVAILABLE"
        finally:
            await engine.dispose()
