"""The columnar batch path gives exactly what the per-event path gives: the same stored events, counts and
refusals (message, field, reason, index) for good, bad and mixed batches — checked rule by rule and on
random batches — and the servicer reads the same drafts from the wire column by column."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from clearframe.analytics.v1 import analytics_service_pb2 as pb
from clearframe_runtime.errors import InvalidArgument
from services.analytics.api import draft_columns, draft_of
from services.analytics.domain.analytics import Analytics, BatchOutcome
from services.analytics.domain.batch import DraftColumns, EventColumns, check_columns
from services.analytics.domain.events import EventDraft, Limits, check_event
from services.analytics.domain.hours import to_us
from services.analytics.domain.ingest import Ingestor
from services.analytics.domain.model import Event, EventType, Platform
from services.analytics.tests.fake_store import MemoryEventStore

NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
A1, A2 = "0123456789abcdef", "fedcba9876543210"


def columns_of(drafts: Sequence[EventDraft]) -> DraftColumns:
    return DraftColumns(
        event_id=[d.event_id for d in drafts],
        asset_id=[d.asset_id for d in drafts],
        event_type=[d.event_type for d in drafts],
        platform=[d.platform for d in drafts],
        short_code=[d.short_code for d in drafts],
        event_time_us=[None if d.event_time is None else to_us(d.event_time) for d in drafts],
        attributes=[tuple(d.attributes.items()) for d in drafts],
        user_agent=[d.user_agent for d in drafts],
    )


def comparable(outcome: BatchOutcome) -> tuple[Any, ...]:
    errors = [
        (e.index, e.event_id, e.error.message, e.error.field, e.error.reason, dict(e.error.metadata))
        for e in outcome.errors
    ]
    return (outcome.stored_ids, outcome.duplicates, outcome.bots, errors)


async def both_ways(drafts: Sequence[EventDraft], known: Sequence[Event] = ()) -> tuple[Any, Any]:
    """(per-event answer, stored events) and (columnar answer, stored events), each on a fresh store
    holding ``known``, with the same clock and the same generated ids."""
    answers = []
    for columnar in (False, True):
        store = MemoryEventStore()
        await store.record(list(known))
        ingestor = Ingestor(store, linger_s=0)
        generated = map("gen{}".format, itertools.count())
        analytics = Analytics(store, ingestor, clock=lambda: NOW, new_id=generated.__next__)
        if columnar:
            outcome = await analytics.record_columns(columns_of(drafts))
        else:
            outcome = await analytics.record_batch(list(drafts))
        await ingestor.close()
        answers.append((comparable(outcome), store.events))
    return answers[0], answers[1]


def good(n: int = 0, **fields: Any) -> EventDraft:
    values: dict[str, Any] = {
        "asset_id": A1 if n % 2 else A2,
        "event_type": ("view", "play", "click")[n % 3],
        "platform": ("", "web", "slack", "other")[n % 4],
        "event_id": f"e{n}" if n % 5 else "",
        "short_code": "" if n % 3 else f"code{n}",
        "event_time": None if n % 4 == 0 else NOW - timedelta(minutes=n, microseconds=n),
        "attributes": {"campaign": f"c{n % 2}"} if n % 2 else {},
        "user_agent": "Slackbot-LinkExpanding 1.0" if n % 7 == 0 else ("" if n % 3 else "Mozilla/5.0"),
        **fields,
    }
    return EventDraft(**values)


BAD_FIELDS: list[dict[str, Any]] = [
    {"event_type": "sneeze"},
    {"event_type": ""},
    {"event_type": "9"},
    {"platform": "myspace"},
    {"asset_id": ""},
    {"asset_id": "0123456789ABCDEF"},
    {"asset_id": "0123"},
    {"asset_id": "0123456789abcdef0"},
    {"short_code": "a b"},
    {"short_code": "ab"},
    {"short_code": "x" * 65},
    {"event_id": "has space"},
    {"event_id": "x" * 65},
    {"event_id": "é"},
    {"event_time": NOW + timedelta(minutes=5, microseconds=1)},
    {"event_time": NOW - timedelta(days=400, microseconds=1)},
    {"event_time": datetime(1970, 1, 1, tzinfo=UTC)},
    {"attributes": {f"k{i}": "v" for i in range(21)}},
    {"attributes": {"k": "v" * 257}},
    {"attributes": {"k" * 65: "v"}},
    {"attributes": {"": "v"}},
    {"attributes": {"a\nb": "v"}},
    {"attributes": {"user_agent": "u" * 1025}},
    {"user_agent": "u" * 1025},
]


async def test_a_good_batch_is_judged_by_columns_as_event_by_event() -> None:
    drafts = [good(n) for n in range(40)]
    per_event, columnar = await both_ways(drafts)
    assert columnar == per_event
    assert len(per_event[0][0]) == 40 and per_event[0][2] > 0  # all stored, bots among them


@pytest.mark.parametrize("fields", BAD_FIELDS, ids=lambda fields: repr(fields)[:40])
async def test_a_mixed_batch_gets_the_same_refusals_as_event_by_event(fields: dict[str, Any]) -> None:
    drafts = [good(1), good(2, **fields), good(3), good(4, **fields), good(5)]
    per_event, columnar = await both_ways(drafts)
    assert columnar == per_event
    _, _, _, errors = per_event[0]
    assert [index for index, *_ in errors] == [1, 3]


async def test_duplicates_within_a_batch_and_known_ids_are_counted_as_event_by_event() -> None:
    known = [check_event(good(9), now=NOW, new_id="-", limits=Limits())]
    drafts = [good(1), good(2), good(1, event_type="click"), good(9), good(0), good(5, event_id="")]
    per_event, columnar = await both_ways(drafts, known)
    assert columnar == per_event
    stored_ids, duplicates, _, errors = per_event[0]
    assert (stored_ids, duplicates, errors) == (["e1", "e2", "gen0", "gen1"], 2, [])


async def test_random_batches_are_judged_by_columns_as_event_by_event() -> None:
    rng = random.Random(20261203)
    whole = 0
    for _ in range(150):
        drafts = []
        for _n in range(rng.randint(1, 30)):
            fields = rng.choice(BAD_FIELDS) if rng.random() < 0.05 else {}
            if rng.random() < 0.05:
                fields = {**fields, "event_id": f"e{rng.randint(1, 5)}"}  # repeats
            drafts.append(good(rng.randint(0, 100), **fields))
        per_event, columnar = await both_ways(drafts)
        assert columnar == per_event
        whole += not per_event[0][3] and not per_event[0][1]
    assert 20 < whole < 130  # batches judged by columns, and batches judged event by event


def test_check_columns_answers_what_check_event_answers() -> None:
    drafts = [good(n) for n in range(12)]
    ids = [d.event_id or f"gen{n}" for n, d in enumerate(drafts)]
    checked = check_columns(columns_of(drafts), ids=ids, now=NOW, limits=Limits())
    assert checked is not None
    expected = [check_event(d, now=NOW, new_id=i, limits=Limits()) for d, i in zip(drafts, ids, strict=True)]
    assert checked.events() == expected
    assert checked == EventColumns.of(expected)


@pytest.mark.parametrize("fields", BAD_FIELDS, ids=lambda fields: repr(fields)[:40])
def test_check_columns_leaves_a_batch_with_a_refusal_to_the_per_event_checks(fields: dict[str, Any]) -> None:
    drafts = [good(1), good(2, **fields)]
    with pytest.raises(InvalidArgument):
        check_event(drafts[1], now=NOW, new_id="x", limits=Limits())
    ids = [d.event_id or "x" for d in drafts]
    assert check_columns(columns_of(drafts), ids=ids, now=NOW, limits=Limits()) is None


def test_check_columns_leaves_repeated_ids_to_the_per_event_checks() -> None:
    drafts = [good(1), good(2)]
    assert check_columns(columns_of(drafts), ids=["same", "same"], now=NOW, limits=Limits()) is None


def test_event_columns_round_trip_select_and_concat() -> None:
    events = [check_event(good(n), now=NOW, new_id=f"g{n}", limits=Limits()) for n in range(6)]
    columns = EventColumns.of(events)
    assert columns.events() == events
    assert columns.select([True, False, True, False, False, True]).events() == [events[0], events[2], events[5]]
    halves = EventColumns.concat([EventColumns.of(events[:2]), EventColumns.of(events[2:])])
    assert halves.events() == events
    with pytest.raises(ValueError, match="aware"):
        EventColumns.of([replace(events[0], event_time=datetime(2026, 12, 2))])


# ------------------------------------------------------------------------------------------------ the wire


def _stamp(seconds: int, nanos: int) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def wire_events() -> list[pb.Event]:
    events = [
        pb.Event(
            event_id=f"w{n}",
            asset_id=A1,
            event_type=pb.EVENT_TYPE_VIEW,
            platform=pb.PLATFORM_SLACK,
            short_code="abc",
            event_time=_stamp(1_796_000_000 + n, 123_456_789),
            attributes={"b": "2", "a": "1"},
            user_agent="Mozilla/5.0",
        )
        for n in range(3)
    ]
    events.append(pb.Event(asset_id=A2, event_type=pb.EVENT_TYPE_PLAY))  # no time, no id
    # Numbers this build does not know (a newer client), and the epoch, set.
    events.append(pb.Event(asset_id=A2, event_type=7, platform=42, event_time=_stamp(0, 0)))  # type: ignore[arg-type]
    events.append(pb.Event(asset_id=A2, event_type=pb.EVENT_TYPE_CLICK, event_time=_stamp(0, 999)))
    events.append(pb.Event(asset_id=A2, event_type=pb.EVENT_TYPE_CLICK, event_time=_stamp(-5, 1000)))
    return events


def test_the_servicer_reads_the_same_drafts_column_by_column() -> None:
    events = wire_events()
    columns = draft_columns(events)
    assert columns is not None
    assert columns.drafts() == [draft_of(event) for event in events]
    assert columns.event_time_us[3] is None and columns.event_time_us[4] == 0
    assert columns.event_type[4] == "7" and columns.platform[4] == "42"  # unknown numbers, refused by name


@pytest.mark.parametrize("stamp", [_stamp(253_402_300_800, 0), _stamp(-62_135_596_801, 0), _stamp(5, -1)])
def test_times_the_plain_reading_cannot_take_are_read_event_by_event(stamp: Timestamp) -> None:
    events = [*wire_events(), pb.Event(asset_id=A1, event_type=pb.EVENT_TYPE_VIEW, event_time=stamp)]
    assert draft_columns(events) is None


# ----------------------------------------------------------------------------------- several group writers


class GatedStore(MemoryEventStore):
    """Holds each write until released; records the ids of each write as it starts."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: list[asyncio.Event] = []
        self.started: list[list[str]] = []

    async def record(self, events: Sequence[Event]) -> set[str]:
        gate = asyncio.Event()
        self.gates.append(gate)
        self.started.append([e.event_id for e in events])
        await gate.wait()
        return await super().record(events)


def event(event_id: str) -> Event:
    return Event(event_id, A1, EventType.VIEW, Platform.WEB, "", NOW, NOW)


async def test_two_writers_write_two_groups_at_once() -> None:
    store = GatedStore()
    ingestor = Ingestor(store, linger_s=0, writers=2)
    first = asyncio.create_task(ingestor.submit([event("a")]))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(ingestor.submit([event("b")]))
    await asyncio.sleep(0.01)
    assert store.started == [["a"], ["b"]]  # the second group is written while the first still is
    for gate in store.gates:
        gate.set()
    assert await first == {"a"} and await second == {"b"}
    await ingestor.close()


async def test_an_id_of_a_group_being_written_belongs_to_the_first_call() -> None:
    store = GatedStore()
    ingestor = Ingestor(store, linger_s=0, writers=2)
    first = asyncio.create_task(ingestor.submit([event("a"), event("x")]))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(ingestor.submit([event("x"), event("b")]))
    await asyncio.sleep(0.01)
    assert store.started == [["a", "x"]]  # the second group waits for the first, which names x too
    store.gates[0].set()
    assert await first == {"a", "x"}
    await asyncio.sleep(0.01)
    store.gates[1].set()
    assert await second == {"b"}
    assert ingestor.stats.stored == 3
    await ingestor.close()


def test_writers_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="writer"):
        Ingestor(MemoryEventStore(), writers=0)
