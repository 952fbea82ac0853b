"""Events and their hourly rollups in SQL (SQLite or PostgreSQL) through SQLAlchemy's asyncio engine:
:class:`SqlEventStore` implements :class:`services.analytics.ports.EventStore`.

Tables (named ``analytics_…`` so that the services can share one database):

- ``analytics_event_ids``: every stored event id and its time; a write registers its ids first (a known one
  is an ``ON CONFLICT DO NOTHING``, so two writers racing with one id store it once) and stores the events
  of the ids it registered;
- ``analytics_events``: one row per event; on PostgreSQL partitioned by UTC day of the event time (a
  partition per day, created by the write that needs it: :func:`pg_create_partitions`), so no unique key
  there: the register above holds the ids;
- ``analytics_rollups``: per (asset, short code, platform, event type, hour) the events counted and the
  bots' events apart, counted in the same transaction as the insert, only by the rows that insert really
  added — so the counts are exact and never count a duplicate;
- ``analytics_totals``: per (asset, platform, event type) the same counts over all time, raised in the same
  transaction: a query without a time range that is not about short codes or hours reads these (at most
  21 rows per asset) instead of every hourly rollup;
- ``analytics_days``: per (asset, platform, event type, UTC day) the same counts, raised in the same
  transaction: a bounded query not about short codes or hours reads its whole days from these, the
  whole hours at the day edges from the rollups, the partial edge hours from the events
  (:func:`services.analytics.domain.hours.split_days`);
- ``analytics_asset_hours`` and ``analytics_asset_days``: per (asset, hour) and per (asset, UTC day) the
  humans' views, plays and clicks and the bots' events in one row, raised in the same transaction: what
  ListTopAssets without a platform reads for its whole hours and days;
- ``analytics_deltas`` (PostgreSQL): what each write adds per rollup key, appended in the write's
  transaction instead of raising the five tables above there; :meth:`SqlEventStore.fold` moves them
  into those tables (one fold at a time), and every count query reads each table with the deltas not
  folded into it yet, in one statement. SQLite raises the tables in the write's transaction.

On PostgreSQL a write is one transaction of three binary COPYs on asyncpg's connection (no SQLAlchemy on
that path), from the batch's columns (:class:`services.analytics.domain.batch.EventColumns`, no object per
event): the ids into the register (in id order), the rows into analytics_events, the per-key deltas the
store computed from exactly those rows into analytics_deltas. No write updates a shared counts row, so
concurrent writers do not wait for each other (raising the rollups in every write did: the second writer
waited for the first one's row locks, and every raised row left a dead version behind). When the register
refuses the COPY (a known id: a duplicate, or another writer's meanwhile) the transaction is rolled back
and the write is done again with the ids registered by ``INSERT … ON CONFLICT DO NOTHING RETURNING`` and
only the returned ones' rows and deltas stored. New days' partitions are created before, in a transaction
of their own; ``bench/analytics.py`` measures the service.

Times are integers, microseconds since the epoch (``*_us``), the same in both databases and exact to
compare; an hour (a day) is the microsecond it starts at. Metrics read the rollups of the whole hours of a
range and the raw events of its partial edge hours (:mod:`services.analytics.domain.hours`).

Retention (:meth:`SqlEventStore.drop_raw_before`) removes old days' raw events and their registered ids and
leaves every count: on PostgreSQL a day is its partition (the register's rows of its events deleted, then
``DROP TABLE``, one transaction a day), on SQLite a ``DELETE`` by time.

ListTopAssets is one statement (:meth:`SqlEventStore.top_assets`): the counts per asset summed over those
parts, the views floor applied, and only the assets that can be among the first ``limit`` sent back: those
whose metric is at least the ``limit``-th best one less a margin that covers the rounding of the rates;
the exact order (rounded rate, total events, asset id) is then :func:`services.analytics.domain.model.rank`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from itertools import compress
from typing import Any

import asyncpg
import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from clearframe_runtime.errors import Unavailable
from services.analytics.domain.batch import Attributes, EventColumns
from services.analytics.domain.hours import (
    DAY_US,
    HOUR_US,
    counts_of,
    day_of,
    from_us,
    hour_of,
    midnight_us,
    split,
    split_days,
    to_us,
)
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

log = structlog.get_logger(__name__)

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

#: Every event id ever stored with its event time: the register that makes a producer's id count once. On
#: PostgreSQL analytics_events is partitioned by UTC day and has no primary key (a unique key there would
#: have to include the day, and a retried event without a time of its own is stamped anew), so this table is
#: what ``ON CONFLICT DO NOTHING`` meets, in both databases; purge removes the ids with their events.
event_ids_table = sa.Table(
    "analytics_event_ids",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("event_time_us", sa.BigInteger(), nullable=False),
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
    # With the asset: one asset's whole hours are read from the index, not from every rollup of those hours.
    sa.Index("ix_analytics_rollups_hour_asset", "hour_us", "asset_id"),
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

#: Counts per (asset, platform, event type, UTC day): what a bounded query not about short codes or hours
#: reads for its whole days (≤ 21 rows per asset and day instead of up to 24 × 63 hourly rollup rows). Kept
#: in the same transaction as the events and the hourly rollups, and by purge.
days_table = sa.Table(
    "analytics_days",
    metadata,
    sa.Column("asset_id", sa.String(16), primary_key=True),
    sa.Column("platform", sa.String(16), primary_key=True),
    sa.Column("event_type", sa.String(8), primary_key=True),
    sa.Column("day_us", sa.BigInteger(), primary_key=True),
    sa.Column("events", sa.BigInteger(), nullable=False),
    sa.Column("bot_events", sa.BigInteger(), nullable=False),
    sa.Index("ix_analytics_days_day", "day_us"),
)


def _asset_table(name: str, period: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("asset_id", sa.String(16), primary_key=True),
        sa.Column(period, sa.BigInteger(), primary_key=True),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column("plays", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("bot_events", sa.BigInteger(), nullable=False),
        sa.Index(f"ix_{name}_{period.removesuffix('_us')}", period),
    )


#: Per (asset, hour) and per (asset, UTC day): the humans' views, plays and clicks and the bots' events, one
#: row each: what ListTopAssets without a platform reads (one row per asset and hour or day instead of up
#: to 63 or 21). Kept in the same transaction as the other counts, and by purge.
asset_hours_table = _asset_table("analytics_asset_hours", "hour_us")
asset_days_table = _asset_table("analytics_asset_days", "day_us")

#: PostgreSQL: what each write adds to the counts, per rollup key, appended (COPY) in the write's own
#: transaction, so that concurrent writers never meet on a counts row; :meth:`SqlEventStore.fold` moves
#: the deltas into the tables above, one fold at a time, and every count query adds the deltas still here
#: (in the same statement as the table it completes). No key, no index: append-only, read whole, emptied
#: by each fold (a fold interval of writes). SQLite, one writer at a time, raises the counts directly.
deltas_table = sa.Table(
    "analytics_deltas",
    metadata,
    # The hourly rollups' columns, as rows to add up (no key).
    *(sa.Column(column.name, column.type, nullable=False) for column in rollups_table.c),
)

#: What a write (or a fold) meets when the database cannot take it: the store answers Unavailable.
_WRITE_ERRORS = (OperationalError, DBAPIError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)

#: Ids per ``IN (…)`` list: well under SQLite's and asyncpg's limits on bound parameters.
IN_CHUNK = 500

_KEY = ("asset_id", "short_code", "platform", "event_type", "hour_us")
_TOTALS_KEY = ("asset_id", "platform", "event_type")
_DAYS_KEY = ("asset_id", "platform", "event_type", "day_us")
#: What a ranking source answers per asset, in this order: the humans' views, plays and clicks, the bots' events.
_PER_ASSET = ("views", "plays", "clicks", "bot_events")
#: The per-asset column counting the humans' events of each type.
_TYPE_COLUMN = {EventType.VIEW.value: "views", EventType.PLAY.value: "plays", EventType.CLICK.value: "clicks"}
#: The event type each per-asset column counts.
_COLUMN_TYPE = {name: kind for kind, name in _TYPE_COLUMN.items()}

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
#: The columns of analytics_deltas, in the order :func:`_deltas` gives them.
_DELTA_COLUMNS = tuple(deltas_table.c.keys())
_PG_KEY = ", ".join(_KEY)
_PG_TOTALS_KEY = ", ".join(_TOTALS_KEY)
_PG_DAYS_KEY = ", ".join(_DAYS_KEY)


def _pg_per_asset(table: str, period: str, length: int) -> str:
    """The statement raising a per-asset table (asset_hours_table, asset_days_table) by the added counts."""
    return f"""INSERT INTO {table} (asset_id, {period}, views, plays, clicks, bot_events)
    SELECT asset_id, hour_us - hour_us % {length},
           coalesce(sum(events) FILTER (WHERE event_type = 'view'), 0),
           coalesce(sum(events) FILTER (WHERE event_type = 'play'), 0),
           coalesce(sum(events) FILTER (WHERE event_type = 'click'), 0),
           sum(bot_events)
    FROM added
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (asset_id, {period}) DO UPDATE
    SET views = {table}.views + excluded.views, plays = {table}.plays + excluded.plays,
        clicks = {table}.clicks + excluded.clicks, bot_events = {table}.bot_events + excluded.bot_events"""


#: On PostgreSQL, analytics_events is partitioned by range of ``event_time_us``: one partition per UTC day,
#: ``analytics_events_YYYYMMDD``. A write first creates the partitions its events need (in a transaction of
#: its own, serialized across writers by an advisory lock: creating a partition locks the parent table).
_PG_PARTITION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('analytics_events partitions'))"


def pg_partition_name(day_us: int) -> str:
    """The name of the day partition of analytics_events starting at ``day_us``."""
    if day_us % DAY_US:
        raise ValueError("a partition starts at a UTC day")
    return f"analytics_events_{from_us(day_us):%Y%m%d}"


def pg_partition_ddl(day_us: int) -> str:
    """The statement that creates the day partition of analytics_events starting at ``day_us`` (idempotent)."""
    name = pg_partition_name(day_us)
    return (
        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF analytics_events "
        f"FOR VALUES FROM ({day_us}) TO ({day_us + DAY_US})"
    )


async def pg_create_partitions(driver: asyncpg.Connection, days: Iterable[int]) -> None:
    """Create the day partitions starting at ``days`` that are missing."""
    async with driver.transaction():
        await driver.execute(_PG_PARTITION_LOCK)
        for day in sorted(set(days)):
            await driver.execute(pg_partition_ddl(day))


#: How long the retention waits for a lock it needs before it gives up for this round.
_PG_DROP_LOCK_TIMEOUT = "5s"

#: The day partitions of analytics_events that exist (retention drops the old ones).
_PG_PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'analytics_events'::regclass
"""


def _partition_day(name: str) -> int | None:
    """The day (µs) a partition named by :func:`pg_partition_name` starts at; ``None`` for another name."""
    try:
        day = datetime.strptime(name.removeprefix("analytics_events_"), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return to_us(day) if pg_partition_name(to_us(day)) == name else None


#: The register and the events are written with binary COPYs (no statement per row, nothing parsed per
#: row): ids in key order, so that concurrent writers meet in one order.
_PG_ID_COLUMNS = ("event_id", "event_time_us")

#: When some ids of a write are known already (a duplicate: the register's COPY failed on its key), the ids
#: are registered with ``ON CONFLICT DO NOTHING`` instead: the new ones come back.
_PG_REGISTER = """
INSERT INTO analytics_event_ids (event_id, event_time_us)
SELECT * FROM unnest($1::text[], $2::int8[])
ORDER BY 1
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""

#: The fold (:meth:`SqlEventStore.fold`, PostgreSQL): one statement that takes every pending delta out of
#: analytics_deltas and raises by their sums per key the hourly rollups and, grouped from those, the
#: all-time totals, the day totals and the per-asset hour and day counts; it answers how many deltas it moved.
#: One fold at a time (an advisory lock, which purge takes too), so the counts' rows have one writer and
#: no lock waits; a reader sees the deltas either still pending or folded, never both, within one statement.
_PG_FOLD = f"""
WITH moved AS (
    DELETE FROM analytics_deltas RETURNING *
), added AS (
    SELECT {_PG_KEY}, sum(events) AS events, sum(bot_events) AS bot_events FROM moved GROUP BY {_PG_KEY}
), counted AS (
    INSERT INTO analytics_rollups ({_PG_KEY}, events, bot_events)
    SELECT {_PG_KEY}, events, bot_events FROM added
    ON CONFLICT ({_PG_KEY}) DO UPDATE
    SET events = analytics_rollups.events + excluded.events,
        bot_events = analytics_rollups.bot_events + excluded.bot_events
), totalled AS (
    INSERT INTO analytics_totals ({_PG_TOTALS_KEY}, events, bot_events)
    SELECT asset_id, platform, event_type, sum(events), sum(bot_events)
    FROM added
    GROUP BY 1, 2, 3
    ON CONFLICT ({_PG_TOTALS_KEY}) DO UPDATE
    SET events = analytics_totals.events + excluded.events,
        bot_events = analytics_totals.bot_events + excluded.bot_events
), dayed AS (
    INSERT INTO analytics_days ({_PG_DAYS_KEY}, events, bot_events)
    SELECT asset_id, platform, event_type, hour_us - hour_us % {DAY_US}, sum(events), sum(bot_events)
    FROM added
    GROUP BY 1, 2, 3, 4
    ON CONFLICT ({_PG_DAYS_KEY}) DO UPDATE
    SET events = analytics_days.events + excluded.events,
        bot_events = analytics_days.bot_events + excluded.bot_events
), asset_hours AS (
    {_pg_per_asset("analytics_asset_hours", "hour_us", HOUR_US)}
), asset_days AS (
    {_pg_per_asset("analytics_asset_days", "day_us", DAY_US)}
)
SELECT count(*) FROM moved
"""

#: Folds and purges take this lock (for their transaction): one at a time.
_PG_FOLD_LOCK = "hashtext('analytics_deltas fold')"

#: Attributes as stored: JSON, keys sorted, not ASCII-escaped. One encoder, built once (``json.dumps`` with
#: options builds one per call).
_ATTRIBUTES = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _attributes(attributes: Attributes) -> str:
    return _ATTRIBUTES.encode(dict(attributes)) if attributes else "{}"


def _rows(events: EventColumns) -> list[tuple[Any, ...]]:
    """The rows of ``events`` as tuples in :data:`_COLUMNS` order, built a column at a time (the same
    attributes are encoded once)."""
    encoded = {pairs: _attributes(pairs) for pairs in set(events.attributes)}
    return list(
        zip(
            events.event_id,
            events.asset_id,
            events.event_type,
            events.platform,
            events.short_code,
            events.event_time_us,
            events.receive_time_us,
            events.user_agent,
            events.bot,
            [encoded[pairs] for pairs in events.attributes],
            strict=True,
        )
    )


def _deltas(events: EventColumns) -> list[tuple[Any, ...]]:
    """What ``events`` add to the hourly rollups, as rows of analytics_deltas (:data:`_DELTA_COLUMNS`):
    per rollup key the humans' events, and in a row of its own the bots' (the fold sums them)."""
    hours = [at - at % HOUR_US for at in events.event_time_us]
    keyed = Counter(
        zip(events.asset_id, events.short_code, events.platform, events.event_type, hours, events.bot, strict=True)
    )
    return [(*key[:5], 0, n) if key[5] else (*key[:5], n, 0) for key, n in keyed.items()]


def _days(times: Sequence[int]) -> set[int]:
    """The UTC days (their first µs) of these times."""
    first, last = day_of(min(times)), day_of(max(times))
    if last - first <= DAY_US:  # the usual batch: one day, or two (the first's and the last time's)
        return {first, last}
    return {day_of(at) for at in times}


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


def _where(table: sa.FromClause, where: EventFilter) -> list[sa.ColumnElement[bool]]:
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


def _per_asset(where: EventFilter, by: frozenset[Dimension]) -> bool:
    """Whether the all-time and day totals (no short codes, no hours) can answer the query."""
    return not where.short_code and Dimension.SHORT_CODE not in by and Dimension.HOUR not in by


def _totals_answer(where: EventFilter, by: frozenset[Dimension]) -> bool:
    """Whether the all-time totals answer the query: no time bound, nothing about short codes or hours."""
    return where.time_range.start is None and where.time_range.end is None and _per_asset(where, by)


def _with_deltas(table: sa.Table) -> sa.FromClause:
    """``table``'s rows and, in its shape, the pending deltas (analytics_deltas): what the table will hold
    once they are folded. One subquery, so that a statement reading it sees each delta in one place."""
    p = deltas_table
    shaped: list[sa.ColumnElement[Any]] = []
    for column in table.c:
        if column.name in p.c:
            shaped.append(p.c[column.name])
        elif column.name == "day_us":
            shaped.append((p.c.hour_us - p.c.hour_us % DAY_US).label("day_us"))
        else:  # a per-asset table's humans' views, plays or clicks
            kind = _COLUMN_TYPE[column.name]
            shaped.append(sa.case((p.c.event_type == kind, p.c.events), else_=0).label(column.name))
    return sa.union_all(sa.select(*table.c), sa.select(*shaped)).subquery(f"{table.name}_and_deltas")


def _sources(
    where: EventFilter, by: frozenset[Dimension], *, per_asset: bool = False, deltas: bool = False
) -> list[sa.Select[Any]]:
    """The queries whose rows, added up, are the counts: each answers one part of the time range grouped by
    the dimensions in ``by`` (in Dimension order, the hour as ``hour_us``) and the event type, with the
    humans' and the bots' events as its last two columns. With ``per_asset`` (``by`` unused), grouped by
    asset alone, the columns ``asset_id`` then :data:`_PER_ASSET` (what ranking reads: a third of the rows).
    With ``deltas`` (PostgreSQL), each count table is read with the deltas not folded into it yet."""
    dims = [d.value for d in Dimension if d in by]
    sources: list[sa.Select[Any]] = []

    def counted(table: sa.Table) -> sa.FromClause:
        return _with_deltas(table) if deltas else table

    def grouped(table: sa.FromClause, clauses: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
        if per_asset:
            humans = [
                sa.func.sum(sa.case((table.c.event_type == kind, table.c.events), else_=0)).label(name)
                for kind, name in _TYPE_COLUMN.items()
            ]
            return (
                sa.select(table.c.asset_id, *humans, sa.func.sum(table.c.bot_events).label("bot_events"))
                .where(*_where(table, where), *clauses)
                .group_by(table.c.asset_id)
            )
        columns = [table.c[d] for d in dims]  # the rollups' hour_us is the hour
        return (
            sa.select(
                *columns,
                table.c.event_type,
                sa.func.sum(table.c.events).label("humans"),
                sa.func.sum(table.c.bot_events).label("bots"),
            )
            .where(*_where(table, where), *clauses)
            .group_by(*columns, table.c.event_type)
        )

    def hours(first: int | None, stop: int | None) -> sa.Select[Any]:
        r = counted(rollups_table)
        return grouped(r, [*_between(r.c.hour_us, first, None), *([] if stop is None else [r.c.hour_us < stop])])

    def pivoted(table: sa.Table, period: str, first: int | None, stop: int | None) -> sa.Select[Any]:
        rows = counted(table)
        column = rows.c[period]
        clauses = _between(column, first, None) + ([] if stop is None else [column < stop])
        sums = [sa.func.sum(rows.c[name]).label(name) for name in _PER_ASSET]
        return sa.select(rows.c.asset_id, *sums).where(*clauses).group_by(rows.c.asset_id)

    unfiltered = where == EventFilter(time_range=where.time_range)
    if _totals_answer(where, by):
        return [grouped(counted(totals_table), [])]
    if per_asset and unfiltered:
        # Every event counts: the per-asset tables answer the whole days and hours.
        parts = split_days(where.time_range)
        if parts.days is not None:
            sources.append(pivoted(asset_days_table, "day_us", *parts.days))
        sources += [pivoted(asset_hours_table, "hour_us", *span) for span in parts.hours]
        raw = parts.raw
    elif _per_asset(where, by):
        parts = split_days(where.time_range)
        if parts.days is not None:
            first_day, stop_day = parts.days
            d = counted(days_table)
            clauses = _between(d.c.day_us, first_day, None) + ([] if stop_day is None else [d.c.day_us < stop_day])
            sources.append(grouped(d, clauses))
        sources += [hours(first, stop) for first, stop in parts.hours]
        raw = parts.raw
    else:
        whole = split(where.time_range)
        if whole.rollup_hours is not None:
            sources.append(hours(*whole.rollup_hours))
        raw = whole.raw
    e = events_table
    # The hour of a raw event, computed as the rollups store it.
    raw_hour = (e.c.event_time_us - e.c.event_time_us % HOUR_US).label("hour_us")
    raw_columns: list[sa.ColumnElement[Any]] = [raw_hour if d == Dimension.HOUR.value else e.c[d] for d in dims]
    bots = sa.func.sum(sa.case((e.c.bot, 1), else_=0))
    for low, high in raw:
        clauses = [*_where(e, where), *_between(e.c.event_time_us, low, high)]
        if per_asset:
            humans = [
                sa.func.sum(sa.case((sa.and_(e.c.event_type == kind, sa.not_(e.c.bot)), 1), else_=0)).label(name)
                for kind, name in _TYPE_COLUMN.items()
            ]
            sources.append(
                sa.select(e.c.asset_id, *humans, bots.label("bot_events")).where(*clauses).group_by(e.c.asset_id)
            )
            continue
        sources.append(
            sa.select(*raw_columns, e.c.event_type, (sa.func.count() - bots).label("humans"), bots.label("bots"))
            .where(*clauses)
            .group_by(*raw_columns, e.c.event_type)
        )
    return sources


#: How far below the ``limit``-th best rate an asset may lie and still be among the first ``limit``: a
#: rate is ranked rounded to 2 decimals (half a hundredth away at most), so two rates that rank in one
#: order lie at most a hundredth apart the other way; doubled against float noise.
RATE_MARGIN = 0.02


def _top_statement(
    where: EventFilter, rank_by: RankBy, min_views: int, limit: int, *, deltas: bool = False
) -> sa.Select[Any]:
    """The candidates for the first ``limit`` assets: the counts per asset over every part of the range, the
    views floor applied, and only the assets whose metric is at least the ``limit``-th best one (less
    :data:`RATE_MARGIN` for a rate)."""
    parts = sa.union_all(*_sources(where, frozenset(), per_asset=True, deltas=deltas)).subquery("parts")
    sums = {name: sa.func.sum(parts.c[name]) for name in _PER_ASSET}
    per = (
        sa.select(parts.c.asset_id, *(total.label(name) for name, total in sums.items()))
        .group_by(parts.c.asset_id)
        .having(sums["views"] >= min_views, sums["views"] + sums["plays"] + sums["clicks"] > 0)
        .cte("per")
    )
    if rank_by.is_ratio:
        numerator = per.c.clicks if rank_by is RankBy.CTR else per.c.plays
        # The rate unrounded, in percent (0 without views, as ratio() has it).
        key: sa.ColumnElement[Any] = sa.case(
            (per.c.views > 0, sa.cast(numerator, sa.Float) * 100 / sa.cast(per.c.views, sa.Float)), else_=0.0
        )
        floor: sa.ColumnElement[Any] = sa.literal(-1.0)
    else:
        key = per.c[rank_by.value]
        floor = sa.literal(-1)
    # The limit-th best key; with fewer assets every one is a candidate.
    cut = sa.func.coalesce(sa.select(key).order_by(key.desc()).offset(limit - 1).limit(1).scalar_subquery(), floor)
    return sa.select(*(per.c[name] for name in ("asset_id", *_PER_ASSET))).where(
        key >= (cut - RATE_MARGIN if rank_by.is_ratio else cut)
    )


class SqlEventStore:
    """The event store on SQLite or PostgreSQL.

    On PostgreSQL the writes append their counts as deltas (analytics_deltas) and a fold moves them into
    the count tables: after a write, when ``fold_every_s`` (seconds of ``monotonic``) have passed since the
    last fold, one is started in the background; ``None`` folds only when :meth:`fold` is called (tests).
    :meth:`close` waits for a fold under way."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        fold_every_s: float | None = 0.25,
    ):
        self._engine = engine
        self._dialect = engine.dialect.name
        #: PostgreSQL's writes append count deltas, which folds move and every count query adds (SQLite: none).
        self._keeps_deltas = self._dialect == "postgresql"
        self._monotonic = monotonic
        self._fold_every_s = fold_every_s
        self._folded_at = monotonic()
        self._folding: asyncio.Task[int] | None = None
        # Built once: the compiled forms are cached, which matters at thousands of rows per write.
        self._register_ids = (
            self._insert(event_ids_table)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(event_ids_table.c.event_id)
        )
        self._insert_events = self._insert(events_table)
        #: The day partitions known to exist (PostgreSQL).
        self._partitions: set[int] = set()
        upsert = self._insert(rollups_table)
        self._add_rollups = upsert.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={
                "events": rollups_table.c.events + upsert.excluded.events,
                "bot_events": rollups_table.c.bot_events + upsert.excluded.bot_events,
            },
        )
        per_day = self._insert(days_table)
        self._add_days = per_day.on_conflict_do_update(
            index_elements=list(_DAYS_KEY),
            set_={
                "events": days_table.c.events + per_day.excluded.events,
                "bot_events": days_table.c.bot_events + per_day.excluded.bot_events,
            },
        )
        self._add_per_asset = {}
        for table in (asset_hours_table, asset_days_table):
            upsert = self._insert(table)
            self._add_per_asset[table.name] = upsert.on_conflict_do_update(
                index_elements=[c.name for c in table.primary_key],
                set_={name: table.c[name] + upsert.excluded[name] for name in _PER_ASSET},
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
        return await self.record_columns(EventColumns.of(events))

    async def record_columns(self, events: EventColumns) -> set[str]:
        if len(set(events.event_id)) != len(events):
            raise ValueError("event ids within one record() call must be distinct")
        if not len(events):
            return set()
        rows = _rows(events)
        try:
            if self._dialect == "postgresql":
                return await self._record_postgres(events, rows)
            async with self._engine.begin() as connection:
                # The INSERT comes first: it takes SQLite's write lock before anything is read. One
                # statement, executed for all rows (SQLAlchemy batches them into multi-row INSERTs).
                result = await connection.execute(
                    self._register_ids, [{"event_id": r[0], "event_time_us": r[5]} for r in sorted(rows)]
                )
                stored: set[str] = set(result.scalars())
                fresh = [r for r in rows if r[0] in stored]
                if fresh:
                    await connection.execute(self._insert_events, [dict(zip(_COLUMNS, r, strict=True)) for r in fresh])
                await self._add_to_rollups(connection, fresh)
                return stored
        except _WRITE_ERRORS as exc:
            raise Unavailable(
                f"the event store could not write: {exc.__class__.__name__}", reason="STORE_UNAVAILABLE"
            ) from exc

    async def drop_raw_before(self, day: datetime) -> int:
        cutoff = midnight_us(day)
        try:
            if self._dialect == "postgresql":
                return await self._drop_partitions_before(cutoff)
            async with self._engine.begin() as connection:
                old = events_table.c.event_time_us < cutoff
                await connection.execute(
                    sa.delete(event_ids_table).where(
                        event_ids_table.c.event_id.in_(sa.select(events_table.c.event_id).where(old))
                    )
                )
                return int((await connection.execute(sa.delete(events_table).where(old))).rowcount)
        except _WRITE_ERRORS as exc:
            raise Unavailable(
                f"the event store could not drop old events: {exc.__class__.__name__}", reason="STORE_UNAVAILABLE"
            ) from exc

    async def _drop_partitions_before(self, cutoff: int) -> int:
        """Drop the day partitions of analytics_events before ``cutoff`` (µs, a UTC midnight), each with its
        events' rows of the register, a day per transaction under the partitions' lock (so no write creates
        the day meanwhile); how many events they held."""
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            names = await driver.fetch(_PG_PARTITIONS)
            days = sorted(d for d in (_partition_day(r["relname"]) for r in names) if d is not None and d < cutoff)
            dropped = 0
            for day in days:
                name = pg_partition_name(day)
                async with driver.transaction():
                    # Dropping a partition locks the parent table: wait a little for readers and writers, never
                    # queue them behind a long wait (the next round tries again).
                    await driver.execute(f"SET LOCAL lock_timeout = '{_PG_DROP_LOCK_TIMEOUT}'")
                    await driver.execute(_PG_PARTITION_LOCK)
                    dropped += int(await driver.fetchval(f"SELECT count(*) FROM {name}"))
                    await driver.execute(
                        f"DELETE FROM analytics_event_ids i USING {name} e WHERE i.event_id = e.event_id"
                    )
                    await driver.execute(f"DROP TABLE {name}")
                self._partitions.discard(day)
            return dropped

    async def _record_postgres(self, events: EventColumns, rows: list[tuple[Any, ...]]) -> set[str]:
        """One transaction on the driver's connection (SQLAlchemy stays off the hot path): see
        :meth:`_write_postgres`. New days' partitions are created before, in a transaction of their own."""
        days = _days(events.event_time_us)
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            if not days <= self._partitions:
                await pg_create_partitions(driver, days - self._partitions)
                self._partitions |= days
            try:
                stored = await self._write_postgres(driver, events, rows)
            except asyncpg.CheckViolationError:
                # A day's partition was dropped behind this store's back (retention): create it again.
                self._partitions.clear()
                await pg_create_partitions(driver, days)
                self._partitions |= days
                stored = await self._write_postgres(driver, events, rows)
        self._fold_when_due()
        return stored

    @staticmethod
    async def _write_postgres(
        driver: asyncpg.Connection, events: EventColumns, rows: list[tuple[Any, ...]]
    ) -> set[str]:
        """The ids COPYed into the register (its key refuses a known one: then the transaction is rolled
        back and the ids are registered with ``ON CONFLICT DO NOTHING``, which answers the new ones), the
        rows of the new ids COPYed into analytics_events and what they add to the counts into
        analytics_deltas; one transaction, committed together. ``rows`` are ``events``' (:func:`_rows`).
        The ids stored."""
        # Everything is computed before the transaction opens: nothing keeps it waiting but the writes.
        ids = sorted(zip(events.event_id, events.event_time_us, strict=True))
        deltas = _deltas(events)
        try:
            async with driver.transaction():
                await driver.copy_records_to_table("analytics_event_ids", records=ids, columns=_PG_ID_COLUMNS)
                await driver.copy_records_to_table("analytics_events", records=rows, columns=_COLUMNS)
                await driver.copy_records_to_table("analytics_deltas", records=deltas, columns=_DELTA_COLUMNS)
            return set(events.event_id)
        except asyncpg.UniqueViolationError:
            pass  # some ids are known: duplicates, or stored by another writer meanwhile
        async with driver.transaction():
            registered = await driver.fetch(_PG_REGISTER, [i for i, _ in ids], [t for _, t in ids])
            stored = {record[0] for record in registered}
            kept = [event_id in stored for event_id in events.event_id]
            if stored:
                fresh = list(compress(rows, kept))
                await driver.copy_records_to_table("analytics_events", records=fresh, columns=_COLUMNS)
                await driver.copy_records_to_table(
                    "analytics_deltas", records=_deltas(events.select(kept)), columns=_DELTA_COLUMNS
                )
            return stored

    def _fold_when_due(self) -> None:
        if self._fold_every_s is None or (self._folding is not None and not self._folding.done()):
            return
        now = self._monotonic()
        if now - self._folded_at >= self._fold_every_s:
            self._folded_at = now
            self._folding = asyncio.create_task(self._fold_quietly(), name="analytics-fold")

    async def _fold_quietly(self) -> int:
        try:
            return await self.fold()
        except Exception as exc:  # the deltas stay pending, counted by every read; the next write retries
            log.warning("the pending counts were not folded", error=repr(exc))
            return 0

    async def fold(self) -> int:
        """Move the pending deltas into the count tables (PostgreSQL; elsewhere nothing is pending): how
        many deltas were moved; 0 when another fold (of this or another replica) holds the lock."""
        if not self._keeps_deltas:
            return 0
        try:
            async with self._engine.connect() as connection:
                raw = await connection.get_raw_connection()
                driver: asyncpg.Connection = raw.driver_connection
                async with driver.transaction():
                    if not await driver.fetchval(f"SELECT pg_try_advisory_xact_lock({_PG_FOLD_LOCK})"):
                        return 0
                    moved = int(await driver.fetchval(_PG_FOLD))
                if moved:
                    # The deleted deltas' space is reused by the next writes (autovacuum may be late or off).
                    await driver.execute("VACUUM analytics_deltas")
                return moved
        except _WRITE_ERRORS as exc:
            raise Unavailable(
                f"the event store could not fold its counts: {exc.__class__.__name__}", reason="STORE_UNAVAILABLE"
            ) from exc

    async def close(self) -> None:
        """Wait for a fold under way (the engine is the caller's to dispose)."""
        if self._folding is not None:
            await self._folding

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
        days: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
        for (asset_id, _, platform, event_type, hour_us), (n, b) in deltas.items():
            day = days[(asset_id, platform, event_type, day_of(hour_us))]
            day[0] += n
            day[1] += b
        if days:
            await connection.execute(
                self._add_days,
                [
                    {**dict(zip(_DAYS_KEY, key, strict=True)), "events": n, "bot_events": b}
                    for key, (n, b) in sorted(days.items())
                ],
            )
        for table, period, of in ((asset_hours_table, "hour_us", hour_of), (asset_days_table, "day_us", day_of)):
            per_asset: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: dict.fromkeys(_PER_ASSET, 0))
            for (asset_id, _, _, event_type, hour_us), (n, b) in deltas.items():
                added = per_asset[(asset_id, of(hour_us))]
                added[_TYPE_COLUMN[event_type]] += n
                added["bot_events"] += b
            if per_asset:
                await connection.execute(
                    self._add_per_asset[table.name],
                    [{"asset_id": a, period: at, **added} for (a, at), added in sorted(per_asset.items())],
                )

    async def get_many(self, event_ids: Collection[str]) -> dict[str, Event]:
        ids = sorted(set(event_ids))
        found: dict[str, Event] = {}
        async with self._read() as connection:
            e, known = events_table, event_ids_table
            for chunk in _chunks(ids, IN_CHUNK):
                # Through the register: its event time leads to the event's day partition (PostgreSQL).
                query = (
                    sa.select(e)
                    .join(known, sa.and_(e.c.event_id == known.c.event_id, e.c.event_time_us == known.c.event_time_us))
                    .where(known.c.event_id.in_(chunk))
                )
                result = await connection.execute(query)
                found.update((row.event_id, _event(row)) for row in result)
        return found

    async def counts(self, where: EventFilter, by: frozenset[Dimension]) -> list[Count]:
        dims = [d.value for d in Dimension if d in by]
        totals: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
        async with self._read() as connection:
            for query in _sources(where, by, deltas=self._keeps_deltas):
                for row in (await connection.execute(query)).all():
                    total = totals[tuple(row[: len(dims) + 1])]
                    total[0] += int(row[-2] or 0)
                    total[1] += int(row[-1] or 0)
        return counts_of(dims, totals)

    async def top_assets(self, where: EventFilter, rank_by: RankBy, min_views: int, limit: int) -> list[RankedAsset]:
        if limit <= 0:
            return []
        async with self._read() as connection:
            statement = _top_statement(where, rank_by, min_views, limit, deltas=self._keeps_deltas)
            rows = (await connection.execute(statement)).all()
        candidates = (
            RankedAsset(row.asset_id, Metrics(int(row.views), int(row.plays), int(row.clicks), int(row.bot_events)))
            for row in rows
        )
        return rank(candidates, rank_by, min_views, limit)

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
                if self._keeps_deltas:
                    # No fold meanwhile: the deltas are removed with the counts, before one could move them.
                    await connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_PG_FOLD_LOCK})"))
                events = sa.delete(events_table)
                rollups = sa.delete(rollups_table)
                all_time = sa.delete(totals_table)
                per_day = sa.delete(days_table)
                ids = sa.delete(event_ids_table)
                if asset_id is not None:
                    events = events.where(events_table.c.asset_id == asset_id)
                    ids = ids.where(
                        event_ids_table.c.event_id.in_(
                            sa.select(events_table.c.event_id).where(events_table.c.asset_id == asset_id)
                        )
                    )
                    rollups = rollups.where(rollups_table.c.asset_id == asset_id)
                    all_time = all_time.where(totals_table.c.asset_id == asset_id)
                    per_day = per_day.where(days_table.c.asset_id == asset_id)
                await connection.execute(ids)
                deleted = (await connection.execute(events)).rowcount
                await connection.execute(rollups)
                await connection.execute(all_time)
                await connection.execute(per_day)
                for table in (asset_hours_table, asset_days_table, deltas_table):
                    doomed = sa.delete(table)
                    if asset_id is not None:
                        doomed = doomed.where(table.c.asset_id == asset_id)
                    await connection.execute(doomed)
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
