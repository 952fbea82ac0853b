"""The event store in memory: the reference the SQL store's contract tests compare with, and what the
domain's tests run on. Counts are computed from the raw events each time (no rollups), so they are the
plain definition of what the rollups must give; events dropped by :meth:`drop_raw_before` keep counting
(as the rollups keep them) but are no longer listed or known by id."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import chain

from services.analytics.domain.batch import EventColumns
from services.analytics.domain.hours import midnight_us
from services.analytics.domain.model import (
    Count,
    Dimension,
    Event,
    EventFilter,
    EventType,
    Metrics,
    Platform,
    RankBy,
    RankedAsset,
    rank,
)


class MemoryEventStore:
    def __init__(self) -> None:
        self.events: dict[str, Event] = {}
        #: Events whose raw rows were dropped (retention): counted, not listed, their ids forgotten.
        self.counted_only: list[Event] = []
        #: Calls of record() (each is one transaction in a real store).
        self.writes = 0
        #: Set to make the next record() calls fail.
        self.fail_with: Exception | None = None

    async def record(self, events: Sequence[Event]) -> set[str]:
        if self.fail_with is not None:
            raise self.fail_with
        ids = [e.event_id for e in events]
        if len(set(ids)) != len(ids):
            raise ValueError("event ids within one record() call must be distinct")
        for event in events:
            if event.event_time.tzinfo is None:
                raise ValueError("event times must be aware")
        self.writes += 1
        stored = {e.event_id for e in events if e.event_id not in self.events}
        for event in events:
            if event.event_id in stored:
                self.events[event.event_id] = replace(event, attributes=dict(event.attributes))
        return stored

    async def record_columns(self, events: EventColumns) -> set[str]:
        return await self.record(events.events())

    async def get_many(self, event_ids: Collection[str]) -> dict[str, Event]:
        return {i: self.events[i] for i in event_ids if i in self.events}

    async def counts(self, where: EventFilter, by: frozenset[Dimension]) -> list[Count]:
        groups: dict[tuple[str, str, Platform | None, datetime | None, EventType], list[int]] = defaultdict(
            lambda: [0, 0]
        )
        for event in chain(self.events.values(), self.counted_only):
            if not where.matches(event):
                continue
            key = (
                event.asset_id if Dimension.ASSET in by else "",
                event.short_code if Dimension.SHORT_CODE in by else "",
                event.platform if Dimension.PLATFORM in by else None,
                event.event_time.replace(minute=0, second=0, microsecond=0) if Dimension.HOUR in by else None,
                event.event_type,
            )
            groups[key][1 if event.bot else 0] += 1
        return [
            Count(event_type, humans, bots, asset_id=asset_id, short_code=code, platform=platform, hour=hour)
            for (asset_id, code, platform, hour, event_type), (humans, bots) in groups.items()
        ]

    async def top_assets(self, where: EventFilter, rank_by: RankBy, min_views: int, limit: int) -> list[RankedAsset]:
        per: dict[str, list[Count]] = defaultdict(list)
        for count in await self.counts(where, frozenset({Dimension.ASSET})):
            per[count.asset_id].append(count)
        return rank((RankedAsset(a, Metrics.of(counts)) for a, counts in per.items()), rank_by, min_views, limit)

    async def page(self, where: EventFilter, offset: int, limit: int) -> list[Event]:
        if offset < 0 or limit < 0:
            raise ValueError("offset and limit must not be negative")
        found = sorted((e for e in self.events.values() if where.matches(e)), key=lambda e: (e.event_time, e.event_id))
        return found[offset : offset + limit]

    async def purge(self, asset_id: str | None) -> int:
        doomed = [i for i, e in self.events.items() if asset_id is None or e.asset_id == asset_id]
        for event_id in doomed:
            del self.events[event_id]
        self.counted_only = [e for e in self.counted_only if asset_id is not None and e.asset_id != asset_id]
        return len(doomed)

    async def drop_raw_before(self, day: datetime) -> int:
        midnight_us(day)  # whole UTC days only
        doomed = [e for e in self.events.values() if e.event_time < day]
        for event in doomed:
            del self.events[event.event_id]
        self.counted_only.extend(doomed)
        return len(doomed)
