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

On PostgreSQL a write is one transaction of two round trips on asyncpg's connection (no SQLAlchemy on that
path): a binary COPY of the rows into a temporary staging table of the session (no WAL; emptied by the
commit), then one statement whose data-modifying CTEs insert the staging rows into the events (``ON
CONFLICT DO NOTHING RETURNING``) and raise the rollups and totals grouped from the returned rows. Against
the earlier single statement over ``unnest`` arrays (asyncpg checks each array element in Python) this
saves ~6 µs of the service's CPU per event; ``bench/analytics.py`` measures the service.

Times are integers, microseconds since the epoch (``*_us``), the same in both databases and exact to
compare; an hour is the microsecond it starts at. Metrics read the rollups of the whole hours of a range
and the raw events of its partial edge hours (:mod:`services.analytics.domain.hours`).
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
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

#: The columns of analytics_events, in the order a write's rows carry them.
_COLUMNS = (
    "event_id",
    "asset_id",
    "event_type",
    "platform",
    "short_code",
    "event_time_us",
    "receive_time_us",
    "user_agent",
    "bot",
    "attributes",
)
_NAMES = ", ".join(_COLUMNS)
_PG_KEY = ", ".join(_KEY)
_PG_TOTALS_KEY = ", ".join(_TOTALS_KEY)
#: Where a PostgreSQL write's rows land first: a temporary table of the session (no WAL, never seen by other
#: sessions), emptied at each commit. Created once per connection (IF NOT EXISTS: cheap when it is there).
_PG_STAGING = "analytics_incoming"
_PG_CREATE_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_PG_STAGING} "
    "(LIKE analytics_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)

#: One statement after the COPY into the staging table, in the same transaction: store the new events, raise
#: the rollups and totals by exactly the rows the insert returned (grouped per key), answer the stored ids.
#: Events and rollups are written in key order, so that concurrent writers take their row locks in one
#: order. The rollups' `events` count humans, `bot_events` crawlers.
_PG_RECORD = f"""
WITH stored AS (
    INSERT INTO analytics_events ({_NAMES})
    SELECT {_NAMES} FROM {_PG_STAGING}
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

#: Attributes as stored: JSON, keys sorted, not ASCII-escaped. One encoder, built once (``json.dumps`` with
#: options builds one per call).
_ATTRIBUTES = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
_EVENT_TYPE_VALUE = {t: t.value for t in EventType}
_PLATFORM_VALUE = {p: p.value for p in Platform}


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _attributes(attributes: Mapping[str, str]) -> str:
    return _ATTRIBUTES.encode(dict(attributes)) if attributes else "{}"


def _rows(events: Sequence[Event]) -> list[tuple[Any, ...]]:
    """The rows of ``events`` as tuples in :data:`_COLUMNS` order, built for the whole batch at once."""
    epoch_us: dict[datetime, int] = {}
    rows = []
    for e in events:
        if e.event_time.tzinfo is None or e.receive_time.tzinfo is None:
            raise ValueError("event times must be aware")
        # A batch shares one receive time: converted once.
        received = epoch_us.get(e.receive_time)
        if received is None:
            received = epoch_us[e.receive_time] = to_us(e.receive_time)
        rows.append(
            (
                e.event_id,
                e.asset_id,
                _EVENT_TYPE_VALUE[e.event_type],
                _PLATFORM_VALUE[e.platform],
                e.short_code,
                to_us(e.event_time),
                received,
                e.user_agent,
                e.bot,
                _attributes(e.attributes),
            )
        )
    return rows


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
        rows = _rows(events)
        if len({r[0] for r in rows}) != len(rows):
            raise ValueError("event ids within one record() call must be distinct")
        if not rows:
            return set()
        try:
            if self._dialect == "postgresql":
                return await self._record_postgres(rows)
            async with self._engine.begin() as connection:
                # The INSERT comes first: it takes SQLite's write lock before anything is read. One
                # statement, executed for all rows (SQLAlchemy batches them into multi-row INSERTs).
                result = await connection.execute(
                    self._insert_events, [dict(zip(_COLUMNS, r, strict=True)) for r in rows]
                )
                stored: set[str] = set(result.scalars())
                await self._add_to_rollups(connection, [r for r in rows if r[0] in stored])
                return stored
        except (OperationalError, DBAPIError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise Unavailable(
                f"the event store could not write: {exc.__class__.__name__}", reason="STORE_UNAVAILABLE"
            ) from exc

    async def _record_postgres(self, rows: list[tuple[Any, ...]]) -> set[str]:
        """One transaction on the driver's connection (SQLAlchemy stays off the hot path): the rows are
        COPYed (binary) into the session's staging table, then :data:`_PG_RECORD` moves the new ones into
        analytics_events and adds them to the rollups and totals. The commit empties the staging table."""
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            async with driver.transaction():
                await driver.execute(_PG_CREATE_STAGING)
                await driver.copy_records_to_table(_PG_STAGING, records=rows, columns=_COLUMNS)
                return {record[0] for record in await driver.fetch(_PG_RECORD)}

    async def _add_to_rollups(self, connection: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
        deltas: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
        for _, asset_id, event_type, platform, short_code, event_time_us, _, _, bot, _ in rows:
            deltas[(asset_id, short_code, platform, event_type, hour_of(event_time_us))][1 if bot else 0] += 1
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
