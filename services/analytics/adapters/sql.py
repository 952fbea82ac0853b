"""Events and their hourly rollups in SQL (SQLite or PostgreSQL) through SQLAlchemy's asyncio engine:
:class:`SqlEventStore` implements :class:`services.analytics.ports.EventStore`.

Tables (named ``analytics_…`` so that the services can share one database):

- ``analytics_events``: one row per event, the producer's ``event_id`` as primary key (a duplicate is an
  ``ON CONFLICT DO NOTHING``, so two writers racing with one id store it once);
- ``analytics_rollups``: per (asset, short code, platform, event type, hour) the events counted and the
  bots' events apart, raised in the same transaction as the insert, only by the rows that insert really
  added (``RETURNING``) — so the counts are exact and never count a duplicate;
- ``analytics_totals``: per (asset, platform, event type) the same counts over all time, raised in the same
  transaction: a query without a time range that is not about short codes or hours reads these (at most
  21 rows per asset) instead of every hourly rollup.

On PostgreSQL a write is one statement: the rows travel as one array per column (``unnest``, bound in
asyncpg's binary format), and the insert of the events and the rollups' upsert are data-modifying CTEs of
that statement, the rollups grouped from the insert's ``RETURNING`` rows. Against the multi-row INSERT
plus a second upsert that SQLite uses: ~27 000 instead of ~21 000 events/s for the store alone (one
writer, writes of 1000 events, 2-core development machine); ``bench/analytics.py`` measures the service.

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
from services.analytics.domain.hours import HOUR_US, counts_of, from_us, hour_of, split, to_us
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

#: All-time counts per (asset, platform, event type): what an unbounded query not about short codes or hours
#: reads (ListTopAssets over all time reads ~21 rows per asset instead of every hourly rollup). Kept in the
#: same transaction as the events and the hourly rollups, and by purge.
totals_table = sa.Table(
    "analytics_totals",
    metadata,
    sa.Column("asset_id", sa.String(16), primary_key=True),
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("event_type", sa.String(8), primary_key=True),
    sa.Column("events", sa.BigInteger(), nullable=False),
    sa.Column("bot_events", sa.BigInteger(), nullable=False),
)

#: Ids per ``IN (…)`` list: well under SQLite's and asyncpg's limits on bound parameters.
IN_CHUNK = 500

_KEY = ("asset_id", "short_code", "platform", "event_type", "hour_us")
_TOTALS_KEY = ("asset_id", "platform", "event_type")

#: The columns of analytics_events with the array type their values travel in on PostgreSQL.
_PG_COLUMNS = (
    ("event_id", "TEXT[]"),
    ("asset_id", "TEXT[]"),
    ("event_type", "TEXT[]"),
    ("platform", "TEXT[]"),
    ("short_code", "TEXT[]"),
    ("event_time_us", "BIGINT[]"),
    ("receive_time_us", "BIGINT[]"),
    ("user_agent", "TEXT[]"),
    ("bot", "BOOLEAN[]"),
    ("attributes", "TEXT[]"),
)
_PG_NAMES = ", ".join(name for name, _ in _PG_COLUMNS)
_PG_KEY = ", ".join(_KEY)
_PG_TOTALS_KEY = ", ".join(_TOTALS_KEY)

#: One statement per write on PostgreSQL: store the new events, raise the rollups by exactly the rows the
#: insert returned (grouped per key), answer the stored ids. Events and rollups are written in key order,
#: so that concurrent writers take their row locks in one order. The rollups' `events` count humans,
#: `bot_events` crawlers.
_PG_RECORD = sa.text(
    f"""
WITH stored AS (
    INSERT INTO analytics_events ({_PG_NAMES})
    SELECT {_PG_NAMES}
    FROM unnest({", ".join(f"CAST(:{name} AS {kind})" for name, kind in _PG_COLUMNS)}) AS incoming ({_PG_NAMES})
    ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, asset_id, short_code, platform, event_type, event_time_us, bot
), counted AS (
    INSERT INTO analytics_rollups ({_PG_KEY}, events, bot_events)
    SELECT asset_id, short_code, platform, event_type, event_time_us - event_time_us % {HOUR_US},
           count(*) FILTER (WHERE NOT bot), count(*) FILTER (WHERE bot)
    FROM stored
    GROUP BY 1, 2, 3, 4, 5
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT ({_PG_KEY}) DO UPDATE
    SET events = analytics_rollups.events + excluded.events,
        bot_events = analytics_rollups.bot_events + excluded.bot_events
), totalled AS (
    INSERT INTO analytics_totals ({_PG_TOTALS_KEY}, events, bot_events)
    SELECT asset_id, platform, event_type, count(*) FILTER (WHERE NOT bot), count(*) FILTER (WHERE bot)
    FROM stored
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT ({_PG_TOTALS_KEY}) DO UPDATE
    SET events = analytics_totals.events + excluded.events,
        bot_events = analytics_totals.bot_events + excluded.bot_events
)
SELECT event_id FROM stored
"""
)


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


def _totals_answer(where: EventFilter, by: frozenset[Dimension]) -> bool:
    """Whether the all-time totals answer the query: no time bound, nothing about short codes or hours."""
    return (
        where.time_range.start is None
        and where.time_range.end is None
        and not where.short_code
        and Dimension.SHORT_CODE not in by
        and Dimension.HOUR not in by
    )


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
        totals = self._insert(totals_table)
        self._add_totals = totals.on_conflict_do_update(
            index_elements=list(_TOTALS_KEY),
            set_={
                "events": totals_table.c.events + totals.excluded.events,
                "bot_events": totals_table.c.bot_events + totals.excluded.bot_events,
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
                if self._dialect == "postgresql":
                    columns = {name: [r[name] for r in rows] for name, _ in _PG_COLUMNS}
                    return set((await connection.execute(_PG_RECORD, columns)).scalars())
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
        totals: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
        for (asset_id, _, platform, event_type, _), (n, b) in deltas.items():
            total = totals[(asset_id, platform, event_type)]
            total[0] += n
            total[1] += b
        if totals:
            await connection.execute(
                self._add_totals,
                [
                    {**dict(zip(_TOTALS_KEY, key, strict=True)), "events": n, "bot_events": b}
                    for key, (n, b) in sorted(totals.items())
                ],
            )

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
            if _totals_answer(where, by):
                t = totals_table
                columns = [t.c[d] for d in dims]
                query = (
                    sa.select(*columns, t.c.event_type, sa.func.sum(t.c.events), sa.func.sum(t.c.bot_events))
                    .where(*_where(t, where))
                    .group_by(*columns, t.c.event_type)
                )
                for row in (await connection.execute(query)).all():
                    total = totals[tuple(row[: len(dims) + 1])]
                    total[0] += int(row[-2])
                    total[1] += int(row[-1])
            elif parts.rollup_hours is not None:
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
                for row in (await connection.execute(query)).all():
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
                for row in (await connection.execute(query)).all():
                    total = totals[tuple(row[: len(dims) + 1])]
                    bot_count = int(row[-1] or 0)
                    total[0] += int(row[-2]) - bot_count
                    total[1] += bot_count
        return counts_of(dims, totals)

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
            return [_event(row) for row in (await connection.execute(query)).all()]

    async def purge(self, asset_id: str | None) -> int:
        try:
            async with self._engine.begin() as connection:
                events = sa.delete(events_table)
                rollups = sa.delete(rollups_table)
                all_time = sa.delete(totals_table)
                if asset_id is not None:
                    events = events.where(events_table.c.asset_id == asset_id)
                    rollups = rollups.where(rollups_table.c.asset_id == asset_id)
                    all_time = all_time.where(totals_table.c.asset_id == asset_id)
                deleted = (await connection.execute(events)).rowcount
                await connection.execute(rollups)
                await connection.execute(all_time)
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
