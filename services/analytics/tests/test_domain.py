"""The analytics domain on the in-memory store, with an injected clock: recording (one, batches with
per-event errors, idempotency, bots), every refusal of bad input, and the metrics with seed 002's formulas."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clearframe_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from clearframe_runtime.useragents import is_bot
from services.analytics.domain.analytics import Analytics, Granularity
from services.analytics.domain.events import EventDraft, Limits
from services.analytics.domain.hours import DAY_US, HOUR_US, split, split_days, to_us
from services.analytics.domain.ingest import Ingestor
from services.analytics.domain.model import EventFilter, Metrics, Platform, RankBy, TimeRange
from services.analytics.domain.pingback import PingbackLimiter
from services.analytics.tests.fake_store import MemoryEventStore

NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
A1, A2, A3 = "0123456789abcdef", "fedcba9876543210", "00000000000000aa"


@dataclass
class FakeClock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    analytics: Analytics
    store: MemoryEventStore
    clock: FakeClock


@pytest.fixture
async def world() -> AsyncIterator[World]:
    store = MemoryEventStore()
    ingestor = Ingestor(store, linger_s=0)
    clock = FakeClock()
    ids = (f"gen{n}" for n in itertools.count())
    yield World(Analytics(store, ingestor, clock=clock, ratio_min_views=10, new_id=lambda: next(ids)), store, clock)
    await ingestor.close()


def draft(kind: str = "view", asset_id: str = A1, **fields: Any) -> EventDraft:
    return EventDraft(asset_id=asset_id, event_type=kind, **fields)


async def views(world: World, asset_id: str = A1, n: int = 1, **fields: Any) -> None:
    outcome = await world.analytics.record_batch([draft("view", asset_id, **fields) for _ in range(n)])
    assert not outcome.errors


# ----------------------------------------------------------------------------------------------- recording


async def test_one_event_is_stored_with_defaults_filled_in(world: World) -> None:
    recorded = await world.analytics.record(draft("play", short_code="Ab12Cd34", attributes={"campaign": "x"}))
    assert not recorded.duplicate
    event = recorded.event
    assert event.event_id == "gen0"  # generated when the producer chose none
    assert event.platform is Platform.WEB  # unset platform: web
    assert event.event_time == NOW and event.receive_time == NOW  # unset time: when received
    assert world.store.events["gen0"] == event


async def test_a_known_event_id_is_acknowledged_as_duplicate_and_counted_once(world: World) -> None:
    first = await world.analytics.record(draft(event_id="evt-1", platform="slack"))
    world.clock.now = NOW + timedelta(seconds=5)
    again = await world.analytics.record(draft("click", event_id="evt-1"))
    assert again.duplicate and again.event == first.event  # the one stored first comes back
    assert (await world.analytics.asset_metrics(A1, TimeRange())) == Metrics(views=1)


async def test_a_batch_stores_the_good_events_and_reports_the_bad_ones_by_index(world: World) -> None:
    outcome = await world.analytics.record_batch(
        [
            draft(event_id="a"),
            draft("sneeze", event_id="b"),
            draft("click", event_id="c"),
            draft(asset_id="", event_id="d"),
            draft(event_id="a"),  # repeated within the batch
        ]
    )
    assert outcome.stored_ids == ["a", "c"]
    assert outcome.duplicates == 1
    assert [(e.index, e.event_id, e.error.reason) for e in outcome.errors] == [
        (1, "b", "INVALID_EVENT_TYPE"),
        (3, "d", "INVALID_ASSET_ID"),
    ]
    assert outcome.errors[0].error.metadata["index"] == "1"
    again = await world.analytics.record_batch([draft(event_id="a"), draft(event_id="e")])
    assert again.stored_ids == ["e"] and again.duplicates == 1
    assert await world.analytics.asset_metrics(A1, TimeRange()) == Metrics(views=2, clicks=1)


async def test_batch_size_limits(world: World) -> None:
    with pytest.raises(InvalidArgument) as empty:
        await world.analytics.record_batch([])
    assert empty.value.reason == "NO_EVENTS"
    with pytest.raises(InvalidArgument) as big:
        await world.analytics.record_batch([draft() for _ in range(1001)])
    assert big.value.reason == "TOO_MANY_EVENTS"
    assert world.store.events == {}  # nothing of a refused batch
    assert len((await world.analytics.record_batch([draft() for _ in range(1000)])).stored_ids) == 1000


async def test_bots_are_stored_and_counted_apart(world: World) -> None:
    outcome = await world.analytics.record_batch(
        [
            draft(attributes={"user_agent": "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)"}),
            draft(user_agent="Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"),
            draft("click", user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"),
        ]
    )
    assert outcome.bots == 2 and len(outcome.stored_ids) == 3
    assert [e.bot for e in world.store.events.values()] == [True, True, False]
    metrics = await world.analytics.asset_metrics(A1, TimeRange())
    assert metrics == Metrics(views=0, clicks=1, bot_events=2)
    assert metrics.ctr == 0.0  # no human views


@pytest.mark.parametrize(
    ("user_agent", "bot"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", True),
        ("Twitterbot/1.0", True),
        ("TelegramBot (like TwitterBot)", True),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", True),
        ("WhatsApp/2.23.20.0", True),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", False),
        ("Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 Mobile Safari/537.36", False),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148", False),
        ("", False),
    ],
)
def test_known_crawlers_are_recognised(user_agent: str, bot: bool) -> None:
    assert is_bot(user_agent) is bot


# --------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        ({"event_type": "sneeze"}, "INVALID_EVENT_TYPE", "event_type"),
        ({"event_type": ""}, "INVALID_EVENT_TYPE", "event_type"),
        ({"event_type": "9"}, "INVALID_EVENT_TYPE", "event_type"),  # a number from a newer client
        ({"platform": "myspace"}, "INVALID_PLATFORM", "platform"),
        ({"asset_id": ""}, "INVALID_ASSET_ID", "asset_id"),
        ({"asset_id": "0123456789ABCDEF"}, "INVALID_ASSET_ID", "asset_id"),
        ({"asset_id": "0123"}, "INVALID_ASSET_ID", "asset_id"),
        ({"short_code": "a b"}, "INVALID_SHORT_CODE", "short_code"),
        ({"short_code": "x" * 65}, "INVALID_SHORT_CODE", "short_code"),
        ({"event_id": "has space"}, "INVALID_EVENT_ID", "event_id"),
        ({"event_id": "x" * 65}, "INVALID_EVENT_ID", "event_id"),
        ({"event_time": NOW + timedelta(minutes=5, seconds=1)}, "INVALID_EVENT_TIME", "event_time"),
        ({"event_time": NOW - timedelta(days=401)}, "INVALID_EVENT_TIME", "event_time"),
        ({"event_time": datetime(1970, 1, 1, tzinfo=UTC)}, "INVALID_EVENT_TIME", "event_time"),
        ({"attributes": {f"k{i}": "v" for i in range(21)}}, "TOO_MANY_ATTRIBUTES", "attributes"),
        ({"attributes": {"k": "v" * 257}}, "INVALID_ATTRIBUTE", "attributes[k]"),
        ({"attributes": {"k" * 65: "v"}}, "INVALID_ATTRIBUTE", "attributes"),
        ({"attributes": {"": "v"}}, "INVALID_ATTRIBUTE", "attributes"),
        ({"attributes": {"user_agent": "u" * 1025}}, "INVALID_ATTRIBUTE", "attributes[user_agent]"),
        ({"user_agent": "u" * 1025}, "INVALID_USER_AGENT", "user_agent"),
    ],
)
async def test_bad_events_are_refused_and_store_nothing(
    world: World, fields: dict[str, object], reason: str, field: str
) -> None:
    values: dict[str, Any] = {"asset_id": A1, "event_type": "view", **fields}
    with pytest.raises(InvalidArgument) as refused:
        await world.analytics.record(EventDraft(**values))
    assert (refused.value.reason, refused.value.field) == (reason, field)
    assert world.store.events == {}


async def test_the_edges_of_what_is_accepted(world: World) -> None:
    accepted = [
        draft(event_time=NOW + timedelta(minutes=5)),
        draft(event_time=NOW - timedelta(days=400)),
        draft(attributes={f"k{i}": "v" * 256 for i in range(20)}),
        draft(attributes={"user_agent": "u" * 512}),  # what the share-link service sends at most
        draft(short_code="my-custom_slug"),
        draft(platform="other", event_id="x" * 64),
    ]
    outcome = await world.analytics.record_batch(accepted)
    assert outcome.errors == [] and len(outcome.stored_ids) == 6


async def test_the_limits_on_event_times_are_settings() -> None:
    store = MemoryEventStore()
    ingestor = Ingestor(store, linger_s=0)
    limits = Limits(max_future=timedelta(0), max_age=timedelta(days=1))
    analytics = Analytics(store, ingestor, clock=lambda: NOW, limits=limits)
    with pytest.raises(InvalidArgument):
        await analytics.record(draft(event_time=NOW + timedelta(microseconds=1)))
    with pytest.raises(InvalidArgument):
        await analytics.record(draft(event_time=NOW - timedelta(days=1, microseconds=1)))
    await analytics.record(draft(event_time=NOW - timedelta(days=1)))
    await ingestor.close()


async def test_bad_queries_are_refused(world: World) -> None:
    inverted = TimeRange(NOW, NOW - timedelta(microseconds=1))
    cases = [
        (world.analytics.asset_metrics(A1, inverted), "INVALID_TIME_RANGE"),
        (world.analytics.asset_metrics("nope", TimeRange()), "INVALID_ASSET_ID"),
        (world.analytics.platform_metrics("", TimeRange()), "INVALID_ASSET_ID"),
        (world.analytics.short_link_metrics("a/b", TimeRange()), "INVALID_SHORT_CODE"),
        (world.analytics.short_link_metrics("Ab12Cd34", inverted), "INVALID_TIME_RANGE"),
        (world.analytics.list_events(EventFilter(time_range=inverted), 0, ""), "INVALID_TIME_RANGE"),
        (world.analytics.list_events(EventFilter(), -1, ""), "INVALID_PAGE_SIZE"),
        (world.analytics.list_events(EventFilter(), 0, "garbage!"), "INVALID_PAGE_TOKEN"),
        (world.analytics.top_assets(RankBy.CTR, **top_args(time_range=inverted)), "INVALID_TIME_RANGE"),
        (world.analytics.top_assets(RankBy.CTR, **top_args(requested_page_size=-5)), "INVALID_PAGE_SIZE"),
        (world.analytics.top_assets(RankBy.CTR, **top_args(min_views=-1)), "INVALID_MIN_VIEWS"),
        (world.analytics.purge("", False), "MISSING_PURGE_SCOPE"),
        (world.analytics.purge("XYZ", False), "INVALID_ASSET_ID"),
    ]
    for call, reason in cases:
        with pytest.raises(InvalidArgument) as refused:
            await call
        assert refused.value.reason == reason


def top_args(**overrides: Any) -> Any:
    args: dict[str, Any] = {
        "platform": None,
        "time_range": TimeRange(),
        "min_views": 0,
        "requested_page_size": 0,
        "page_token": "",
    }
    return args | overrides


# ------------------------------------------------------------------------------------------------- metrics


async def test_asset_metrics_follow_seed_002s_formulas(world: World) -> None:
    assert await world.analytics.asset_metrics(A1, TimeRange()) == Metrics()  # no events: zeros
    await views(world, n=3)
    await world.analytics.record_batch([draft("play"), draft("play"), *(draft("click") for _ in range(4))])
    metrics = await world.analytics.asset_metrics(A1, TimeRange())
    assert (metrics.views, metrics.plays, metrics.clicks, metrics.total_events) == (3, 2, 4, 9)
    assert metrics.ctr == 133.33  # not capped at 100
    assert metrics.play_rate == 66.67
    assert Metrics(views=0, clicks=5).ctr == 0.0


async def test_time_ranges_include_both_ends(world: World) -> None:
    for minutes in (0, 10, 20):
        await views(world, event_time=NOW - timedelta(minutes=minutes))
    window = TimeRange(NOW - timedelta(minutes=20), NOW - timedelta(minutes=10))
    assert (await world.analytics.asset_metrics(A1, window)).views == 2
    assert (await world.analytics.asset_metrics(A1, TimeRange(start=NOW))).views == 1
    assert (await world.analytics.asset_metrics(A1, TimeRange(NOW, NOW))).views == 1


async def test_platform_metrics_in_platform_order(world: World) -> None:
    await views(world, platform="twitter")
    await views(world, platform="slack", n=2)
    await world.analytics.record(draft("click", platform="slack"))
    per = await world.analytics.platform_metrics(A1, TimeRange())
    assert [(p.value, m.views, m.clicks, m.ctr) for p, m in per] == [("slack", 2, 1, 50.0), ("twitter", 1, 0, 0.0)]


async def test_short_link_metrics_name_the_asset_and_unknown_codes_are_not_found(world: World) -> None:
    await views(world, A2, n=4, short_code="Ab12Cd34")
    await world.analytics.record(draft("click", A2, short_code="Ab12Cd34"))
    await views(world, A2, n=2)  # the asset's views without the link
    asset_id, metrics = await world.analytics.short_link_metrics("Ab12Cd34", TimeRange())
    assert asset_id == A2 and (metrics.views, metrics.clicks, metrics.ctr) == (4, 1, 25.0)
    # Known code, nothing in the range: zeros, not NOT_FOUND.
    asset_id, empty = await world.analytics.short_link_metrics("Ab12Cd34", TimeRange(start=NOW + timedelta(hours=1)))
    assert asset_id == A2 and empty == Metrics()
    with pytest.raises(NotFound) as unknown:
        await world.analytics.short_link_metrics("Zz99Yy88", TimeRange())
    assert unknown.value.reason == "SHORT_LINK_NOT_FOUND"


async def test_top_assets_rank_by_each_metric_with_ties_broken(world: World) -> None:
    await views(world, A1, n=20)
    await world.analytics.record_batch([draft("click", A1) for _ in range(2)])  # ctr 10
    await views(world, A2, n=10)
    await world.analytics.record_batch([draft("click", A2) for _ in range(5)] + [draft("play", A2)])  # ctr 50
    await views(world, A3, n=1)
    await world.analytics.record_batch([draft("click", A3) for _ in range(3)])  # ctr 300, but one view

    async def top(rank_by: RankBy, **overrides: Any) -> list[str]:
        ranked, _ = await world.analytics.top_assets(rank_by, **top_args(**overrides))
        return [r.asset_id for r in ranked]

    assert await top(RankBy.VIEWS) == [A1, A2, A3]
    assert await top(RankBy.CLICKS) == [A2, A3, A1]
    assert await top(RankBy.PLAYS) == [A2, A1, A3]  # A1 and A3 tie at 0 plays: more events first
    # Ratio metrics leave out assets under the floor (10 views) unless min_views says otherwise.
    assert await top(RankBy.CTR) == [A2, A1]
    assert await top(RankBy.CTR, min_views=1) == [A3, A2, A1]
    assert await top(RankBy.VIEWS, min_views=15) == [A1]
    assert await top(RankBy.PLAY_RATE) == [A2, A1]
    assert await top(RankBy.VIEWS, platform=Platform.SLACK) == []


async def test_top_assets_page_through_and_coerce_absurd_page_sizes(world: World) -> None:
    for n in range(12):
        await views(world, f"{n:016x}", n=n + 1)
    ranked, token = await world.analytics.top_assets(RankBy.VIEWS, **top_args())
    assert len(ranked) == 10 and token  # seed default: 10
    rest, last = await world.analytics.top_assets(RankBy.VIEWS, **top_args(page_token=token))
    assert [r.metrics.views for r in rest] == [2, 1] and last == ""
    huge, _ = await world.analytics.top_assets(RankBy.VIEWS, **top_args(requested_page_size=10**9))
    assert len(huge) == 12  # coerced to at most 100
    with pytest.raises(InvalidArgument):  # a token of another query
        await world.analytics.top_assets(RankBy.CLICKS, **top_args(page_token=token))


async def test_list_events_pages_oldest_first_with_filters(world: World) -> None:
    for minutes in (3, 1, 2):
        await world.analytics.record(draft(event_id=f"m{minutes}", event_time=NOW - timedelta(minutes=minutes)))
    await world.analytics.record(draft("click", A2, event_id="other"))
    page, token = await world.analytics.list_events(EventFilter(asset_id=A1), 2, "")
    assert [e.event_id for e in page] == ["m3", "m2"] and token
    page, token = await world.analytics.list_events(EventFilter(asset_id=A1), 2, token)
    assert [e.event_id for e in page] == ["m1"] and token == ""
    everything, _ = await world.analytics.list_events(EventFilter(), 10**6, "")
    assert len(everything) == 4


async def test_time_series_has_every_bucket_of_the_range(world: World) -> None:
    await views(world, event_time=NOW - timedelta(hours=2, minutes=10))
    await views(world, n=2, event_time=NOW - timedelta(minutes=20))
    await world.analytics.record(draft("click", event_time=NOW - timedelta(minutes=5)))
    hours = await world.analytics.time_series(A1, Granularity.HOUR, TimeRange(start=NOW - timedelta(hours=3)))
    assert [(at.hour, m.views, m.clicks) for at, m in hours] == [(12, 0, 0), (13, 1, 0), (14, 0, 0), (15, 2, 1)]
    default = await world.analytics.time_series(A1, Granularity.HOUR, TimeRange())  # the last 24 hours
    assert len(default) == 25 and sum(m.views for _, m in default) == 3
    days = await world.analytics.time_series(A1, Granularity.DAY, TimeRange())
    assert len(days) == 31 and days[-1] == (datetime(2026, 12, 2, tzinfo=UTC), Metrics(views=3, clicks=1))
    # The first bucket counts only what lies inside the range.
    partial = await world.analytics.time_series(A1, Granularity.HOUR, TimeRange(NOW - timedelta(minutes=10), NOW))
    assert [(at.hour, m.views, m.clicks) for at, m in partial] == [(15, 0, 1)]
    with pytest.raises(InvalidArgument) as too_many:
        await world.analytics.time_series(A1, Granularity.HOUR, TimeRange(start=NOW - timedelta(days=60)))
    assert too_many.value.reason == "TOO_MANY_BUCKETS"
    with pytest.raises(InvalidArgument):
        await world.analytics.time_series("x", Granularity.HOUR, TimeRange())


async def test_purge_one_asset_or_everything(world: World) -> None:
    await views(world, A1, n=2)
    await views(world, A2, n=1)
    assert await world.analytics.purge(A1, False) == 2
    assert await world.analytics.asset_metrics(A1, TimeRange()) == Metrics()
    assert await world.analytics.purge("", True) == 1
    assert world.store.events == {}


def test_range_split_into_whole_hours_and_raw_edges() -> None:
    hour = datetime(2026, 12, 2, 10, tzinfo=UTC)
    h = to_us(hour)
    assert split(TimeRange()).rollup_hours == (None, None) and split(TimeRange()).raw == ()
    # Aligned start, end one microsecond before an hour: whole hours only.
    aligned = split(TimeRange(hour, hour + timedelta(hours=2) - timedelta(microseconds=1)))
    assert aligned.rollup_hours == (h, h + 2 * HOUR_US) and aligned.raw == ()
    # Ends exactly on an hour: that instant is in the range, counted from the raw events.
    on_hour = split(TimeRange(hour, hour + timedelta(hours=2)))
    assert on_hour.rollup_hours == (h, h + 2 * HOUR_US) and on_hour.raw == ((h + 2 * HOUR_US, h + 2 * HOUR_US),)
    # Inside one hour: raw only.
    inside = split(TimeRange(hour + timedelta(minutes=5), hour + timedelta(minutes=50)))
    assert inside.rollup_hours is None and inside.raw == ((h + 300_000_000, h + 3_000_000_000),)
    # Open start, end mid-hour.
    open_start = split(TimeRange(end=hour + timedelta(minutes=30)))
    assert open_start.rollup_hours == (None, h) and open_start.raw == ((h, h + 1_800_000_000),)


def test_range_split_into_whole_days_whole_edge_hours_and_raw_edges() -> None:
    day = datetime(2026, 12, 2, tzinfo=UTC)
    d = to_us(day)
    assert split_days(TimeRange()).days == (None, None) and split_days(TimeRange()).hours == ()
    # Mid-hour edges two days apart: the whole day between, 23 and 10 whole hours around it, two raw edges.
    edges = split_days(TimeRange(day - timedelta(hours=23, minutes=30), day + timedelta(days=1, hours=10, minutes=5)))
    assert edges.days == (d, d + DAY_US)
    assert edges.hours == ((d - 23 * HOUR_US, d), (d + DAY_US, d + DAY_US + 10 * HOUR_US))
    assert (
        edges.raw
        == split(TimeRange(day - timedelta(hours=23, minutes=30), day + timedelta(days=1, hours=10, minutes=5))).raw
    )
    # A day exactly: its total alone; ending on midnight itself adds that instant, raw.
    exact = split_days(TimeRange(day, day + timedelta(days=1) - timedelta(microseconds=1)))
    assert (exact.days, exact.hours, exact.raw) == ((d, d + DAY_US), (), ())
    at_midnight = split_days(TimeRange(day, day + timedelta(days=1)))
    assert (at_midnight.days, at_midnight.raw) == ((d, d + DAY_US), ((d + DAY_US, d + DAY_US),))
    # Less than a whole day: the whole hours, as split() has them.
    short = split_days(TimeRange(day + timedelta(hours=1), day + timedelta(hours=30)))
    assert short.days is None and short.hours == ((d + HOUR_US, d + 30 * HOUR_US),)
    # Inside one hour: raw only. Open start: every day before the end's day.
    assert split_days(TimeRange(day, day + timedelta(minutes=5))).hours == ()
    open_start = split_days(TimeRange(end=day + timedelta(hours=2, minutes=1)))
    assert open_start.days == (None, d) and open_start.hours == ((d, d + 2 * HOUR_US),)
    open_end = split_days(TimeRange(start=day - timedelta(hours=1)))
    assert open_end.days == (d, None) and open_end.hours == ((d - HOUR_US, d),) and open_end.raw == ()


def test_the_pingback_limit_is_a_fixed_window_per_address() -> None:
    clock = FakeClock()
    limiter = PingbackLimiter(2, clock=clock)
    limiter.admit("a")
    limiter.admit("a")
    limiter.admit("b")  # another address has its own window
    with pytest.raises(ResourceExhausted) as refused:
        limiter.admit("a")
    assert refused.value.metadata["retry_after_ms"] == "60000"
    clock.now += timedelta(seconds=59)
    with pytest.raises(ResourceExhausted):
        limiter.admit("a")  # refused loads are not counted, and the window has not passed
    clock.now += timedelta(seconds=1)
    limiter.admit("a")


async def test_pingbacks_switched_off_are_refused(world: World) -> None:
    with pytest.raises(FailedPrecondition) as off:
        await world.analytics.pingback(draft(), "203.0.113.9")
    assert off.value.reason == "PINGBACK_DISABLED"
