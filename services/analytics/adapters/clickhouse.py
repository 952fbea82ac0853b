"""Events and their hourly rollups in ClickHouse: :class:`ClickHouseEventStore` implements
:class:`services.analytics.ports.EventStore`, for deployments whose events outgrow one PostgreSQL.

Tables, in the store's database:

- ``events``: one row per event, ``MergeTree`` ordered by ``(asset_id, event_time_us, event_id)`` and
  partitioned by month, so an asset's events over a range are one contiguous read;
- ``rollups``: per (asset, short code, platform, event type, hour) the events counted and the bots' events
  apart, a ``SummingMergeTree`` that ClickHouse fills itself: the materialized view ``rollups_mv`` runs on
  every block inserted into ``events``, so an event and its counts arrive with one INSERT. Background
  merges add rows of one key together; until then a key may have several rows, so every read sums.

Metrics read the rollups of a range's whole hours and the raw events of its partial edge hours, as the SQL
store does (:mod:`services.analytics.domain.hours`), with times as integer microseconds; ClickHouse keeps no
day totals (its scans of the rollups are what it is for). ListTopAssets ranks the counts per asset with
:func:`services.analytics.domain.model.rank`. Retention (:meth:`ClickHouseEventStore.drop_raw_before`) deletes
old events with a mutation on ``events`` alone: the rollups keep their counts, the ids go with the rows.

**Duplicates.** ClickHouse has no unique keys. :meth:`record` asks which of the batch's ids are stored
already and inserts only the others, under a lock, so within one store object (one analytics replica:
its group-commit writer is the only one) an id is stored and counted once. Two replicas writing the same
id at the same moment could both store it: run one writer per ClickHouse database, or route producers by
event id. (A ``ReplacingMergeTree`` would drop the raw duplicate at some later merge, but not the count
its insert already added to the rollups.)

The SQL and the DDL are the same for both ways in: :class:`ClickHouseConnectExecutor` talks to a server
(``clickhouse-connect``, HTTP), :class:`ChdbExecutor` runs ClickHouse in-process (``chdb``), which the
contract tests use.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from clearframe_runtime.errors import Unavailable
from services.analytics.domain.batch import EventColumns
from services.analytics.domain.hours import HOUR_US, counts_of, from_us, midnight_us, split, to_us
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

#: Columns of ``events``, in insert order.
COLUMNS = (
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
#: Ids per ``IN`` list when asking which are stored.
IN_CHUNK = 5000


def schema(database: str) -> list[str]:
    """The DDL, idempotent (``IF NOT EXISTS``): run at every start."""
    db = quote_name(database)
    return [
        f"CREATE DATABASE IF NOT EXISTS {db}",
        f"""CREATE TABLE IF NOT EXISTS {db}.events (
    event_id String,
    asset_id String,
    event_type LowCardinality(String),
    platform LowCardinality(String),
    short_code String,
    event_time_us Int64,
    receive_time_us Int64,
    user_agent String,
    bot Bool,
    attributes String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(toDateTime(intDiv(event_time_us, 1000000), 'UTC'))
ORDER BY (asset_id, event_time_us, event_id)""",
        f"""CREATE TABLE IF NOT EXISTS {db}.rollups (
    asset_id String,
    short_code String,
    platform LowCardinality(String),
    event_type LowCardinality(String),
    hour_us Int64,
    events UInt64,
    bot_events UInt64
) ENGINE = SummingMergeTree((events, bot_events))
ORDER BY (asset_id, short_code, platform, event_type, hour_us)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollups_mv TO {db}.rollups AS
SELECT asset_id, short_code, platform, event_type,
       event_time_us - event_time_us % {HOUR_US} AS hour_us,
       countIf(NOT bot) AS events, countIf(bot) AS bot_events
FROM {db}.events
GROUP BY asset_id, short_code, platform, event_type, hour_us""",
    ]


def quote_name(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a ClickHouse database name: {name!r} (letters, digits and _ only)")
    return f"`{name}`"


class Executor(Protocol):
    """How the store reaches ClickHouse. Parameters are ClickHouse's own ``{name:Type}`` placeholders,
    bound by the server, never pasted into the SQL."""

    async def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]: ...

    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ClickHouseUrl:
    """``clickhouse://user:password@host:8123/database`` (``clickhouses://`` for TLS, port 8443 by default)."""

    host: str
    port: int
    database: str
    username: str
    password: str
    secure: bool

    @classmethod
    def parse(cls, url: str) -> ClickHouseUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("clickhouse", "clickhouses"):
            raise ValueError(f"not a ClickHouse URL (clickhouse:// or clickhouses://): {parts.scheme}://…")
        if not parts.hostname:
            raise ValueError("a ClickHouse URL needs a host: clickhouse://host:8123/database")
        secure = parts.scheme == "clickhouses"
        database = parts.path.lstrip("/") or "clearframe_analytics"
        quote_name(database)
        unknown = set(parse_qs(parts.query))
        if unknown:
            raise ValueError(f"unknown ClickHouse URL parameters: {', '.join(sorted(unknown))}")
        return cls(
            host=parts.hostname,
            port=parts.port or (8443 if secure else 8123),
            database=database,
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            secure=secure,
        )


class ClickHouseConnectExecutor:
    """A ClickHouse server over HTTP (``clickhouse-connect``); its blocking client runs on worker threads."""

    def __init__(self, url: ClickHouseUrl):
        import clickhouse_connect

        self._client = clickhouse_connect.get_client(
            host=url.host,
            port=url.port,
            username=url.username,
            password=url.password,
            secure=url.secure,
        )

    async def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        await asyncio.to_thread(self._client.command, sql, parameters=dict(params or {}))

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        result = await asyncio.to_thread(self._client.query, sql, parameters=dict(params or {}))
        return [list(row) for row in result.result_rows]

    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        await asyncio.to_thread(self._client.insert, table, [list(r) for r in rows], column_names=list(columns))

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)


class ChdbExecutor:
    """ClickHouse in this process (``chdb``): the same engine and SQL, no server. One call at a time."""

    def __init__(self, path: str | None = None):
        from chdb import session

        self._session = session.Session(path) if path else session.Session()  # type: ignore[no-untyped-call]
        self._lock = asyncio.Lock()

    async def _run(self, sql: str, params: Mapping[str, Any] | None, fmt: str) -> Any:
        text = {name: _param_text(value) for name, value in (params or {}).items()}
        async with self._lock:
            return await asyncio.to_thread(self._session.query, sql, fmt, params=text)

    async def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        await self._run(sql, params, "CSV")

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        result = await self._run(sql, params, "JSONCompact")
        raw = result.bytes()
        if not raw:
            return []
        data: list[list[Any]] = json.loads(raw)["data"]
        return data

    async def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        # JSONEachRow carries every value typed and escaped by the JSON encoder (no SQL literals).
        body = "\n".join(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False) for row in rows)
        await self._run(f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONEachRow\n{body}", None, "CSV")

    async def close(self) -> None:
        self._session.close()  # type: ignore[no-untyped-call]


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _param_text(value: Any) -> str:
    """A parameter in the text form ClickHouse parses it from (what clickhouse-connect sends for us): a
    scalar escaped as in TSV, an array as a literal of quoted items."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    if isinstance(value, list | tuple):
        return "[" + ",".join(_quoted(item) if isinstance(item, str) else _param_text(item) for item in value) + "]"
    raise TypeError(f"no ClickHouse text form for {type(value).__name__}")


def _row(event: Event) -> list[Any]:
    if event.event_time.tzinfo is None or event.receive_time.tzinfo is None:
        raise ValueError("event times must be aware")
    return [
        event.event_id,
        event.asset_id,
        event.event_type.value,
        event.platform.value,
        event.short_code,
        to_us(event.event_time),
        to_us(event.receive_time),
        event.user_agent,
        event.bot,
        json.dumps(dict(event.attributes), ensure_ascii=False, sort_keys=True),
    ]


def _event(row: Sequence[Any]) -> Event:
    named = dict(zip(COLUMNS, row, strict=True))
    return Event(
        event_id=named["event_id"],
        asset_id=named["asset_id"],
        event_type=EventType(named["event_type"]),
        platform=Platform(named["platform"]),
        short_code=named["short_code"],
        event_time=from_us(int(named["event_time_us"])),
        receive_time=from_us(int(named["receive_time_us"])),
        attributes=json.loads(named["attributes"]),
        user_agent=named["user_agent"],
        bot=bool(named["bot"]),
    )


def _filters(where: EventFilter, params: dict[str, Any]) -> list[str]:
    clauses = []
    if where.asset_id:
        clauses.append("asset_id = {asset_id:String}")
        params["asset_id"] = where.asset_id
    if where.short_code:
        clauses.append("short_code = {short_code:String}")
        params["short_code"] = where.short_code
    if where.event_type is not None:
        clauses.append("event_type = {event_type:String}")
        params["event_type"] = where.event_type.value
    if where.platform is not None:
        clauses.append("platform = {platform:String}")
        params["platform"] = where.platform.value
    return clauses


def _range(column: str, low: int | None, high: int | None, params: dict[str, Any], tag: str) -> list[str]:
    """``low <= column <= high`` (``high_exclusive``-free: both ends inclusive), ``None`` unbounded."""
    clauses = []
    if low is not None:
        clauses.append(f"{column} >= {{{tag}_low:Int64}}")
        params[f"{tag}_low"] = low
    if high is not None:
        clauses.append(f"{column} <= {{{tag}_high:Int64}}")
        params[f"{tag}_high"] = high
    return clauses


def _where_sql(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


class ClickHouseEventStore:
    def __init__(self, executor: Executor, database: str):
        self._run = executor
        self._db = quote_name(database)
        self._database = database
        self._write = asyncio.Lock()

    async def ping(self) -> bool:
        """Health: the server answers a query."""
        await self._run.rows("SELECT 1")
        return True

    async def create_schema(self) -> None:
        for statement in schema(self._database):
            await self._guard(self._run.command(statement), "create its tables")

    async def close(self) -> None:
        await self._run.close()

    async def _guard(self, work: Any, what: str) -> Any:
        try:
            return await work
        except (ValueError, TypeError):
            raise
        except Exception as exc:  # the drivers' errors share no base class
            problem = f"the event store could not {what}: {exc.__class__.__name__}"
            raise Unavailable(problem, reason="STORE_UNAVAILABLE") from exc

    async def record(self, events: Sequence[Event]) -> set[str]:
        rows = [_row(e) for e in events]
        ids = [r[0] for r in rows]
        if len(set(ids)) != len(ids):
            raise ValueError("event ids within one record() call must be distinct")
        if not rows:
            return set()
        async with self._write:
            known = await self._known(ids)
            fresh = [r for r in rows if r[0] not in known]
            if fresh:
                await self._guard(self._run.insert(f"{self._db}.events", COLUMNS, fresh), "write")
        return {r[0] for r in fresh}

    async def record_columns(self, events: EventColumns) -> set[str]:
        return await self.record(events.events())

    async def _known(self, ids: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(ids), IN_CHUNK):
            chunk = list(ids[start : start + IN_CHUNK])
            found = await self._guard(
                self._run.rows(
                    f"SELECT event_id FROM {self._db}.events WHERE event_id IN {{ids:Array(String)}}", {"ids": chunk}
                ),
                "read",
            )
            known.update(row[0] for row in found)
        return known

    async def get_many(self, event_ids: Collection[str]) -> dict[str, Event]:
        ids = sorted(set(event_ids))
        found: dict[str, Event] = {}
        for start in range(0, len(ids), IN_CHUNK):
            rows = await self._guard(
                self._run.rows(
                    f"SELECT {', '.join(COLUMNS)} FROM {self._db}.events WHERE event_id IN {{ids:Array(String)}}",
                    {"ids": ids[start : start + IN_CHUNK]},
                ),
                "read",
            )
            found.update((row[0], _event(row)) for row in rows)
        return found

    async def counts(self, where: EventFilter, by: frozenset[Dimension]) -> list[Count]:
        dims = [d.value for d in Dimension if d in by]
        parts = split(where.time_range)
        totals: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
        keys = ", ".join([*dims, "event_type"])
        if parts.rollup_hours is not None:
            params: dict[str, Any] = {}
            first, stop = parts.rollup_hours
            clauses = _filters(where, params)
            clauses += _range("hour_us", first, None if stop is None else stop - 1, params, "hour")
            query = (
                f"SELECT {keys}, sum(events), sum(bot_events) FROM {self._db}.rollups "
                f"{_where_sql(clauses)} GROUP BY {keys}"
            )
            for row in await self._guard(self._run.rows(query, params), "read"):
                total = totals[tuple(row[: len(dims) + 1])]
                total[0] += int(row[-2])
                total[1] += int(row[-1])
        raw_keys = ", ".join(
            [f"event_time_us - event_time_us % {HOUR_US} AS hour_us" if d == "hour_us" else d for d in dims]
            + ["event_type"]
        )
        for low, high in parts.raw:
            params = {}
            clauses = _filters(where, params) + _range("event_time_us", low, high, params, "t")
            query = (
                f"SELECT {raw_keys}, countIf(NOT bot), countIf(bot) FROM {self._db}.events "
                f"{_where_sql(clauses)} GROUP BY {keys}"
            )
            for row in await self._guard(self._run.rows(query, params), "read"):
                total = totals[tuple(row[: len(dims) + 1])]
                total[0] += int(row[-2])
                total[1] += int(row[-1])
        return counts_of(dims, totals)

    async def top_assets(self, where: EventFilter, rank_by: RankBy, min_views: int, limit: int) -> list[RankedAsset]:
        # ClickHouse sums the rollups per asset (one row per asset and type); the ranking of those rows is
        # the shared one.
        per: dict[str, list[Count]] = defaultdict(list)
        for count in await self.counts(where, frozenset({Dimension.ASSET})):
            per[count.asset_id].append(count)
        return rank((RankedAsset(a, Metrics.of(counts)) for a, counts in per.items()), rank_by, min_views, limit)

    async def page(self, where: EventFilter, offset: int, limit: int) -> list[Event]:
        if offset < 0 or limit < 0:
            raise ValueError("offset and limit must not be negative")
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        start = None if where.time_range.start is None else to_us(where.time_range.start)
        end = None if where.time_range.end is None else to_us(where.time_range.end)
        clauses = _filters(where, params) + _range("event_time_us", start, end, params, "t")
        query = (
            f"SELECT {', '.join(COLUMNS)} FROM {self._db}.events {_where_sql(clauses)} "
            "ORDER BY event_time_us, event_id LIMIT {limit:UInt64} OFFSET {offset:UInt64}"
        )
        return [_event(row) for row in await self._guard(self._run.rows(query, params), "read")]

    async def purge(self, asset_id: str | None) -> int:
        async with self._write:
            if asset_id is None:
                (count,) = (await self._guard(self._run.rows(f"SELECT count() FROM {self._db}.events"), "read"))[0]
                for table in ("events", "rollups"):
                    await self._guard(self._run.command(f"TRUNCATE TABLE {self._db}.{table}"), "delete")
                return int(count)
            params = {"asset_id": asset_id}
            counted = f"SELECT count() FROM {self._db}.events WHERE asset_id = {{asset_id:String}}"
            (count,) = (await self._guard(self._run.rows(counted, params), "read"))[0]
            # Mutations, waited for: when purge returns, neither table holds the asset.
            for table in ("events", "rollups"):
                await self._guard(
                    self._run.command(
                        f"ALTER TABLE {self._db}.{table} DELETE WHERE asset_id = {{asset_id:String}} "
                        "SETTINGS mutations_sync = 2",
                        params,
                    ),
                    "delete",
                )
            return int(count)

    async def drop_raw_before(self, day: datetime) -> int:
        params = {"cutoff": midnight_us(day)}
        async with self._write:
            counted = f"SELECT count() FROM {self._db}.events WHERE event_time_us < {{cutoff:Int64}}"
            (count,) = (await self._guard(self._run.rows(counted, params), "read"))[0]
            if count:
                # The materialized view runs on inserts only: the rollups keep what these events added.
                await self._guard(
                    self._run.command(
                        f"ALTER TABLE {self._db}.events DELETE WHERE event_time_us < {{cutoff:Int64}} "
                        "SETTINGS mutations_sync = 2",
                        params,
                    ),
                    "delete",
                )
            return int(count)
