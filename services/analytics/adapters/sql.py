"""Events and their hourly rollups in SQL (SQLite or PostgreSQL) through SQLAlchemy's asyncio engine:
:class:`SqlEventStore` implements :class:`services.analytics.ports.EventStore`.

Tables (named ``analytics_…`` so that the services can share one database):

- ``analytics_events``: one row per event, the producer's ``event_id`` as primary key (a duplicate is an
  ``ON CONFLICT DO NOTHING``, so two writers racing with one id store it once);
- ``analytics_rollups``: per (asset, short code, platform, event type, hour) the events counted and the
  bots' events apart, raised in the same transaction as the insert, only by the rows that insert really
  added (``RETURNING``) — so the counts are exact and never count a duplicate.

Times are integers, microseconds since the epoch (``*_us``), the same in both databases and exact to
compare; an hour is the microsecond it starts at. Metrics read the rollups of the whole hours of a range
and the raw events of its partial edge hours (:mod:`services.analytics.domain.hours`).
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from clearframe_runtime.errors import Unavailable
from services.analytics.domain.hours import HOUR_US, from_us, hour_of, split, to_us
from services.analytics.domain.model import Count, Dimension, Event, EventFilter, EventType, Platform

metadata = sa.MetaData()

events_table = sa.Table(
    "analytics_events",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("asset_id", sa.String(16), nullable=False),
    sa.Column("event_type", sa.String(8), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("short_code", sa.String(64), nullable=False),
    sa.Column("event_time_us", sa.BigInteger(), nullable=False),
    sa.Column("receive_time_us", sa.BigInteger(), nullable=False),
    sa.Column("user_agent", sa.Text(), nullable=False),
    sa.Column("bot", sa.Boolean(), nullable=False),
    sa.Column("attributes", sa.Text(), nullable=False),
    sa.Index("ix_analytics_events_asset_time", "asset_id", "event_time_us"),
    sa.Index("ix_analytics_events_code_time", "short_code", "event_time_us"),
    sa.Index("ix_analytics_events_time", "event_time_us", "event_id"),
)

rollups_table = sa.Table(
    "analytics_rollups",
    metadata,
    sa.Column("asset_id", sa.String(16), primary_key=True),
    sa.Column("short_code", sa.String(64), primary_key=True),
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("event_type", sa.String(8), primary_key=True),
    sa.Column("hour_us", sa.BigInteger(), primary_key=True),
    sa.Column("events", sa.BigInteger(), nullable=False),
    sa.Column("bot_events", sa.BigInteger(), nullable=False),
    sa.Index("ix_analytics_rollups_code_hour", "short_code", "hour_us"),
    sa.Index("ix_analytics_rollups_hour", "hour_us"),
)

#: Ids per ``IN (…)`` list: well under SQLite's and asyncpg's limits on bound parameters.
IN_CHUNK = 500

_KEY = ("asset_id", "short_code", "platform", "event_type", "hour_us")


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _row(event: Event) -> dict[str, Any]:
    if event.event_time.tzinfo is None or event.receive_time.tzinfo is None:
        raise ValueError("event times must be aware")
    return {
        "event_id": event.event_id,
        "asset_id": event.asset_id,
        "event_type": event.event_type.value,
        "platform": event.platform.value,
        "short_code": event.short_code,
        "event_time_us": to_us(event.event_time),
        "receive_time_us": to_us(event.receive_time),
        "user_agent": event.user_agent,
        "bot": event.bot,
        "attributes": json.dumps(dict(event.attributes), ensure_ascii=False, sort_keys=True),
    }


def _event(row: sa.Row[Any]) -> Event:
    return Event(
        event_id=row.event_id,
        asset_id=row.asset_id,
        event_type=EventType(row.event_type),
        platform=Platform(row.platform),
        short_code=row.short_code,
        event_time=from_us(row.event_time_us),
        receive_time=from_us(row.receive_time_us),
        attributes=json.loads(row.attributes),
        user_agent=row.user_agent,
        bot=bool(row.bot),
    )


def _where(table: sa.Table, where: EventFilter) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    if where.asset_id:
        clauses.append(table.c.asset_id == where.asset_id)
    if where.short_code:
        clauses.append(table.c.short_code == where.short_code)
    if where.event_type is not None:
        clauses.append(table.c.event_type == where.event_type.value)
    if where.platform is not None:
        clauses.append(table.c.platform == where.platform.value)
    return clauses


def _between(column: sa.ColumnElement[int], low: int | None, high: int | None) -> list[sa.ColumnElement[bool]]:
    clauses = []
    if low is not None:
        clauses.append(column >= low)
    if high is not None:
        clauses.append(column <= high)
    return clauses


class SqlEventStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._dialect = engine.dialect.name
        # Built once: the compiled forms are cached, which matters at thousands of rows per write.
        self._insert_events = (
            self._insert(events_table)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(events_table.c.event_id)
        )
        upsert = self._insert(rollups_table)
        self._add_rollups = upsert.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={
                "events": rollups_table.c.events + upsert.excluded.events,
                "bot_events": rollups_table.c.bot_events + upsert.excluded.bot_events,
            },
        )

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    async def record(self, events: Sequence[Event]) -> set[str]:
        rows = [_row(e) for e in events]
        if len({r["event_id"] for r in rows}) != len(rows):
            raise ValueError("event ids within one record() call must be distinct")
        if not rows:
            return set()
        try:
            async with self._engine.begin() as connection:
                # The INSERT comes first: it takes SQLite's write lock before anything is read. One
                # statement, executed for all rows (SQLAlchemy batches them into multi-row INSERTs).
                result = await connection.execute(self._insert_events, rows)
                stored: set[str] = set(result.scalars())
                await self._add_to_rollups(connection, [r for r in rows if r["event_id"] in stored])
                return stored
        except (OperationalError, DBAPIError, OSError) as exc:
            raise Unavailable(
                f"the event store could not write: {exc.__class__.__name__}", reason="STORE_UNAVAILABLE"
            ) from exc

    async def _add_to_rollups(self, connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        deltas: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
        for row in rows:
            key = (
                row["asset_id"],
                row["short_code"],
                row["platform"],
                row["event_type"],
                hour_of(row["event_time_us"]),
            )
            deltas[key][1 if row["bot"] else 0] += 1
        values = [
            {**dict(zip(_KEY, key, strict=True)), "events": n, "bot_events": b}
            for key, (n, b) in sorted(deltas.items())
        ]
        if values:
            await connection.execute(self._add_rollups, values)

    async def get_many(self, event_ids: Collection[str]) -> dict[str, Event]:
        ids = sorted(set(event_ids))
        found: dict[str, Event] = {}
        async with self._read() as connection:
            for chunk in _chunks(ids, IN_CHUNK):
                result = await connection.execute(sa.select(events_table).where(events_table.c.event_id.in_(chunk)))
                found.update((row.event_id, _event(row)) for row in result)
        return found

    async def counts(self, where: EventFilter, by: frozenset[Dimension]) -> list[Count]:
        dims = [d.value for d in Dimension if d in by]
        parts = split(where.time_range)
        totals: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
        async with self._read() as connection:
            if parts.rollup_hours is not None:
                r = rollups_table
                first, stop = parts.rollup_hours
                clauses = _where(r, where)
                if first is not None:
                    clauses.append(r.c.hour_us >= first)
                if stop is not None:
                    clauses.append(r.c.hour_us < stop)
                columns = [r.c[d] for d in dims]  # the rollups' hour_us is the hour
                query = (
                    sa.select(*columns, r.c.event_type, sa.func.sum(r.c.events), sa.func.sum(r.c.bot_events))
                    .where(*clauses)
                    .group_by(*columns, r.c.event_type)
                )
                for row in await connection.execute(query):
                    total = totals[tuple(row[: len(dims) + 1])]
                    total[0] += int(row[-2])
                    total[1] += int(row[-1])
            e = events_table
            # The hour of a raw event, computed as the rollups store it.
            raw_hour = (e.c.event_time_us - e.c.event_time_us % HOUR_US).label("hour_us")
            for low, high in parts.raw:
                raw_columns: list[sa.ColumnElement[Any]] = [
                    raw_hour if d == Dimension.HOUR.value else e.c[d] for d in dims
                ]
                bot_sum = sa.func.sum(sa.case((e.c.bot, 1), else_=0))
                query = (
                    sa.select(*raw_columns, e.c.event_type, sa.func.count(), bot_sum)
                    .where(*_where(e, where), *_between(e.c.event_time_us, low, high))
                    .group_by(*raw_columns, e.c.event_type)
                )
                for row in await connection.execute(query):
                    total = totals[tuple(row[: len(dims) + 1])]
                    bot_count = int(row[-1] or 0)
                    total[0] += int(row[-2]) - bot_count
                    total[1] += bot_count
        counts: list[Count] = []
        for key, (humans, bots) in totals.items():
            if humans == 0 and bots == 0:
                continue
            named = dict(zip([*dims, "event_type"], key, strict=True))
            counts.append(
                Count(
                    EventType(named["event_type"]),
                    humans,
                    bots,
                    asset_id=named.get("asset_id", ""),
                    short_code=named.get("short_code", ""),
                    platform=Platform(named["platform"]) if "platform" in named else None,
                    hour=from_us(int(named["hour_us"])) if "hour_us" in named else None,
                )
            )
        return counts

    async def page(self, where: EventFilter, offset: int, limit: int) -> list[Event]:
        if offset < 0 or limit < 0:
            raise ValueError("offset and limit must not be negative")
        e = events_table
        start = None if where.time_range.start is None else to_us(where.time_range.start)
        end = None if where.time_range.end is None else to_us(where.time_range.end)
        query = (
            sa.select(e)
            .where(*_where(e, where), *_between(e.c.event_time_us, start, end))
            .order_by(e.c.event_time_us, e.c.event_id)
            .offset(offset)
            .limit(limit)
        )
        async with self._read() as connection:
            return [_event(row) for row in await connection.execute(query)]

    async def purge(self, asset_id: str | None) -> int:
        try:
            async with self._engine.begin() as connection:
                events = sa.delete(events_table)
                rollups = sa.delete(rollups_table)
                if asset_id is not None:
                    events = events.where(events_table.c.asset_id == asset_id)
                    rollups = rollups.where(rollups_table.c.asset_id == asset_id)
                deleted = (await connection.execute(events)).rowcount
                await connection.execute(rollups)
                return int(deleted)
        except (OperationalError, DBAPIError, OSError) as exc:
            raise Unavailable(
                f"the event store could not delete: {exc.__class__.__name__}", reason="STORE_UNAVAILABLE"
            ) from exc

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.connect() as connection:
                yield connection
        except (OperationalError, DBAPIError, OSError) as exc:
            raise Unavailable(
                f"the event store could not read: {exc.__class__.__name__}", reason="STORE_UNAVAILABLE"
            ) from exc
