"""Analytics on PostgreSQL: ingest through the gateway vs. a raw COPY of the same rows, and query latency
over a large seeded event table.

1. Ingest: `BatchRecordEvents` (native gRPC through Envoy, batches of 1000, a few concurrent producers, each
   on its own channel) into a mesh running on a temporary PostgreSQL database. Baseline: the very rows the
   service stored, read back, then COPYed (asyncpg ``copy_records_to_table``) into the same
   ``analytics_events`` table — same columns, day partitions and indexes — of a second temporary
   database on the same server: once in the same batches at the same concurrency, once as one COPY. Then the
   same number of events (other ids) through `StreamRecordEvents`. Three rounds of the four paths (one with
   ``--quick``), each path from empty tables after a CHECKPOINT: the server's speed drifts between minutes on
   a shared machine, so the ratios are taken within a round and the report gives their median.
2. Queries: the mesh's tables are emptied and seeded server-side (``INSERT … SELECT`` over
   ``generate_series``, indexes dropped during the load and rebuilt after, as a bulk load would), the
   hourly rollups built from them with one ``INSERT … SELECT … GROUP BY`` keyed exactly as the SQL adapter
   keys them, and the all-time totals per (asset, platform, type), the day totals per (asset, platform,
   type, UTC day) and the per-asset hour and day counts from those, as the adapter keys them; then the p50 of
   `GetAssetMetrics` and `ListTopAssets` calls through the gateway (native gRPC,
   one call at a time).

Usage: `python -m bench.analytics [--quick] [--events N] [--assets N] [--days N] [--producers N]`, or
`python -m bench.analytics --ingest-only [--quick] [--producers N] [--update BENCHMARKS.md]` for part 1
alone (printed, or put in place of the file's "### Ingest" subsection); ``--producers`` sets the concurrency
of every ingest path (default 4). It boots its own mesh and its temporary databases and drops them
afterwards. The PostgreSQL server is CLEARFRAME_TEST_POSTGRES_URL's (the tests' server), else the local
default.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import grpc.aio
import httpx
from google.protobuf.timestamp_pb2 import Timestamp

from bench.stats import CpuMeter, percentile
from clearframe.analytics.v1 import analytics_service_pb2 as pb
from clearframe.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from clearframe_mesh.launcher import Mesh, MeshOptions
from clearframe_runtime import db
from clearframe_runtime.testing import temporary_postgres_database
from services.analytics.__main__ import MIGRATIONS
from services.analytics.adapters.sql import metadata, pg_create_partitions
from services.analytics.domain.hours import DAY_US, HOUR_US
from services.analytics.settings import IngestSettings

ADMIN_KEY = "cfk_bench-analytics-admin-0123456789abcdef"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 1000
PRODUCERS = 4
#: The columns of analytics_events, in the table's order (services/analytics/migrations).
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
#: Every table the store keeps (events, the id register, the counts, the pending deltas): emptied before a run.
TABLES = tuple(table.name for table in metadata.sorted_tables)
EVENT_TYPES = (pb.EVENT_TYPE_VIEW, pb.EVENT_TYPE_VIEW, pb.EVENT_TYPE_VIEW, pb.EVENT_TYPE_PLAY, pb.EVENT_TYPE_CLICK)
PLATFORMS = (pb.PLATFORM_WEB, pb.PLATFORM_SLACK, pb.PLATFORM_DISCORD, pb.PLATFORM_TEAMS, pb.PLATFORM_TWITTER)


@dataclass(frozen=True)
class Sizes:
    ingest_events: int
    #: Rounds of the ingest measurement (each path once a round; the report gives medians).
    ingest_rounds: int
    seeded_events: int
    assets: int
    days: int
    query_calls: int
    #: Concurrent ingest producers (and the batched COPY's connections, and the streams).
    producers: int = PRODUCERS


def sizes(
    quick: bool,
    events: int | None = None,
    assets: int | None = None,
    days: int | None = None,
    producers: int | None = None,
) -> Sizes:
    base = Sizes(20_000, 1, 1_000_000, 1000, 30, 20) if quick else Sizes(200_000, 3, 10_000_000, 1000, 30, 60)
    return Sizes(
        base.ingest_events,
        base.ingest_rounds,
        events if events is not None else base.seeded_events,
        assets if assets is not None else base.assets,
        days if days is not None else base.days,
        base.query_calls,
        producers if producers is not None else base.producers,
    )


# --- ingest ---------------------------------------------------------------------------------------------


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def ingest_requests(n: int, now: datetime) -> list[pb.BatchRecordEventsRequest]:
    """n events in batches of BATCH: 200 assets, the usual mix of types and platforms, the last hour."""
    requests = []
    for start in range(0, n, BATCH):
        events = []
        for i in range(start, min(n, start + BATCH)):
            events.append(
                pb.Event(
                    event_id=uuid.uuid4().hex,
                    asset_id=f"{i % 200:016x}",
                    event_type=EVENT_TYPES[i % len(EVENT_TYPES)],
                    platform=PLATFORMS[i % len(PLATFORMS)],
                    short_code=f"bench{i % 50}" if i % 2 else "",
                    event_time=_timestamp(now - timedelta(microseconds=(i * 7919) % HOUR_US)),
                    user_agent="Slackbot-LinkExpanding 1.0" if i % 50 == 0 else "Mozilla/5.0 (bench)",
                    attributes={"campaign": "bench"},
                )
            )
        requests.append(pb.BatchRecordEventsRequest(events=events))
    return requests


async def _send(
    target: str, key: str, requests: Sequence[pb.BatchRecordEventsRequest], producers: int = PRODUCERS
) -> tuple[float, list[float]]:
    """Send the batches from ``producers`` producers (a channel each); (wall s, per-call latencies)."""
    queue = iter(requests)
    latencies: list[float] = []
    metadata = (("authorization", f"Bearer {key}"),)

    async def producer() -> None:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.AnalyticsServiceStub(channel)
            for request in queue:
                started = time.perf_counter()
                answer = await stub.BatchRecordEvents(request, metadata=metadata, timeout=60)
                latencies.append(time.perf_counter() - started)
                if answer.recorded_count != len(request.events):
                    raise RuntimeError(f"batch not stored whole: {answer}")

    started = time.perf_counter()
    await asyncio.gather(*(producer() for _ in range(producers)))
    return time.perf_counter() - started, latencies


async def _stream(
    target: str, key: str, requests: Sequence[pb.BatchRecordEventsRequest], producers: int = PRODUCERS
) -> float:
    """The same batches as StreamRecordEvents messages, on ``producers`` streams (a channel each); wall s."""
    queue = iter(requests)
    metadata = (("authorization", f"Bearer {key}"),)

    async def producer() -> int:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.AnalyticsServiceStub(channel)

            async def messages() -> AsyncIterator[pb.StreamRecordEventsRequest]:
                for request in queue:
                    yield pb.StreamRecordEventsRequest(events=request.events)

            answer = await stub.StreamRecordEvents(messages(), metadata=metadata, timeout=120)
            return int(answer.recorded_count)

    started = time.perf_counter()
    recorded = sum(await asyncio.gather(*(producer() for _ in range(producers))))
    if recorded != sum(len(request.events) for request in requests):
        raise RuntimeError(f"the streams stored {recorded} events")
    return time.perf_counter() - started


async def _copy(url: str, rows: list[tuple[Any, ...]], batch: int, concurrency: int) -> tuple[float, dict[str, float]]:
    """COPY rows into analytics_events, `batch` rows per COPY on `concurrency` connections; (wall s, CPU
    seconds of the server and of this client meanwhile)."""
    chunks = iter(range(0, len(rows), batch))
    connections = [await asyncpg.connect(url) for _ in range(concurrency)]
    try:

        async def copier(connection: asyncpg.Connection) -> None:
            for start in chunks:
                await connection.copy_records_to_table(
                    "analytics_events", records=rows[start : start + batch], columns=COLUMNS
                )

        meter = CpuMeter({"PostgreSQL": _server_processes})
        started = time.perf_counter()
        await asyncio.gather(*(copier(c) for c in connections))
        return time.perf_counter() - started, meter.used()
    finally:
        for connection in connections:
            await connection.close()


def _server_processes() -> list[int]:
    """The PostgreSQL server's processes (when it runs on this machine)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if command.startswith(b"postgres"):
                pids.append(int(entry.name))
    return pids


@dataclass(frozen=True)
class Round:
    """One round of the ingest measurement: each path in turn, on the same server, one after another."""

    service_s: float
    batch_p50_ms: float
    copy_batched_s: float
    copy_single_s: float
    #: CPU seconds per process group while the service ingested, and while the batched COPY ran.
    cpu_s: dict[str, float]
    copy_cpu_s: dict[str, float]
    #: The same number of events (other ids) through StreamRecordEvents: wall s, CPU seconds per group.
    stream_s: float
    stream_cpu_s: dict[str, float]

    @property
    def ratio(self) -> float:
        """BatchRecordEvents' events/s over the batched COPY's, in this round."""
        return self.copy_batched_s / self.service_s


@dataclass(frozen=True)
class Ingest:
    """``events`` per path and round; the rounds in the order they ran."""

    events: int
    rollup_rows: int
    rounds: tuple[Round, ...]
    #: Concurrent producers (the COPY's connections, the streams).
    producers: int = PRODUCERS

    def median_s(self, seconds: Callable[[Round], float]) -> float:
        return statistics.median(seconds(r) for r in self.rounds)

    def cpu(self, used: Callable[[Round], dict[str, float]]) -> dict[str, float]:
        """CPU seconds per process group over all rounds."""
        total: dict[str, float] = {}
        for r in self.rounds:
            for name, seconds in used(r).items():
                total[name] = total.get(name, 0.0) + seconds
        return total

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios (a round's paths run seconds apart)."""
        return statistics.median(r.ratio for r in self.rounds)


async def _checkpoint(url: str) -> None:
    """Write the server's dirty pages out (every measured path starts after a checkpoint, none in a
    previous path's)."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


async def _ingest_round(
    mesh: asyncpg.Connection,
    baseline: asyncpg.Connection,
    urls: tuple[str, str],
    target: str,
    key: str,
    n: int,
    producers: int,
    pids: dict[str, list[int]],
) -> tuple[Round, int]:
    """One round from empty tables: BatchRecordEvents, then the COPYs of the rows it stored, then
    StreamRecordEvents; the round and the rollup keys the batches made."""
    mesh_url, baseline_url = urls
    now = datetime.now(UTC)
    await mesh.execute(f"TRUNCATE {', '.join(TABLES)}")
    requests = ingest_requests(n, now)
    await _checkpoint(mesh_url)
    # The server's every process (backends, WAL writer, checkpointer): the baseline's database is idle meanwhile.
    meter = CpuMeter({**pids, "PostgreSQL": _server_processes})
    service_s, latencies = await _send(target, key, requests, producers)
    cpu_s = meter.used()
    stored = await mesh.fetchval("SELECT count(*) FROM analytics_events")
    # The counts: folded into the rollups, or still in the deltas (the last fold interval's).
    counted = await mesh.fetchval(
        "SELECT sum(events + bot_events) FROM (SELECT events, bot_events FROM analytics_rollups "
        "UNION ALL SELECT events, bot_events FROM analytics_deltas) AS counts"
    )
    rollup_rows = await mesh.fetchval(
        "SELECT count(*) FROM (SELECT asset_id, short_code, platform, event_type, hour_us FROM analytics_rollups "
        "UNION SELECT asset_id, short_code, platform, event_type, hour_us FROM analytics_deltas) AS keys"
    )
    if stored != n or counted != n:
        raise RuntimeError(f"stored {stored} events, rollups count {counted}, sent {n}")
    # The baseline copies exactly what the service stored, in the order it was sent.
    rows = [tuple(r) for r in await mesh.fetch(f"SELECT {', '.join(COLUMNS)} FROM analytics_events")]
    # analytics_events is partitioned by day: the baseline's rows need their days' partitions too.
    await pg_create_partitions(baseline, {r[COLUMNS.index("event_time_us")] // DAY_US * DAY_US for r in rows})
    await baseline.execute("TRUNCATE analytics_events")
    await _checkpoint(baseline_url)
    batched_s, copy_cpu_s = await _copy(baseline_url, rows, BATCH, producers)
    await baseline.execute("TRUNCATE analytics_events")
    await _checkpoint(baseline_url)
    single_s, _ = await _copy(baseline_url, rows, len(rows), 1)
    if await baseline.fetchval("SELECT count(*) FROM analytics_events") != n:
        raise RuntimeError("the baseline COPY lost rows")
    await baseline.execute("TRUNCATE analytics_events")
    # The same again (other ids) through the streaming RPC, from the same empty tables.
    await mesh.execute(f"TRUNCATE {', '.join(TABLES)}")
    streamed = ingest_requests(n, now)
    await _checkpoint(mesh_url)
    meter = CpuMeter({**pids, "PostgreSQL": _server_processes})
    stream_s = await _stream(target, key, streamed, producers)
    stream_cpu_s = meter.used()
    if await mesh.fetchval("SELECT count(*) FROM analytics_events") != n:
        raise RuntimeError("the streams' events were not all stored")
    measured = Round(
        service_s,
        statistics.median(latencies) * 1000,
        batched_s,
        single_s,
        cpu_s,
        copy_cpu_s,
        stream_s,
        stream_cpu_s,
    )
    return measured, rollup_rows


async def _ingest(
    mesh_url: str, baseline_url: str, target: str, key: str, size: Sizes, pids: dict[str, list[int]]
) -> Ingest:
    n = size.ingest_events
    now = datetime.now(UTC)
    warm = ingest_requests(BATCH, now - timedelta(hours=2))
    await _send(target, key, warm, size.producers)  # connections, the store's compiled statements
    await db.migrate(baseline_url, MIGRATIONS)
    mesh = await asyncpg.connect(mesh_url)
    baseline = await asyncpg.connect(baseline_url)
    try:
        measured: list[Round] = []
        for _ in range(size.ingest_rounds):
            one, rollup_rows = await _ingest_round(
                mesh, baseline, (mesh_url, baseline_url), target, key, n, size.producers, pids
            )
            print(f"round {len(measured) + 1}: ×{one.ratio:.2f} of the batched COPY", flush=True)
            measured.append(one)
    finally:
        await mesh.close()
        await baseline.close()
    return Ingest(n, rollup_rows, tuple(measured), size.producers)


# --- seeding --------------------------------------------------------------------------------------------

#: One seeded event per series number g: assets skewed (asset k among `assets` with density ∝ k^-2/3, so a
#: few are popular), 60 % views / 25 % plays / 15 % clicks, mostly web, half of them through one of an
#: asset's two short codes, 2 % crawlers, event times spread evenly over the last `days` days and rising with
#: g: the table lies on disk in time order, as a history written as it happened does.
SEED_EVENTS = """
INSERT INTO analytics_events ({columns})
SELECT 'seed' || g,
       lpad(to_hex(a), 16, '0'),
       CASE WHEN t < 0.60 THEN 'view' WHEN t < 0.85 THEN 'play' ELSE 'click' END,
       CASE WHEN p < 0.50 THEN 'web' WHEN p < 0.65 THEN 'slack' WHEN p < 0.75 THEN 'discord'
            WHEN p < 0.83 THEN 'teams' WHEN p < 0.91 THEN 'twitter' WHEN p < 0.96 THEN 'facebook'
            ELSE 'other' END,
       CASE WHEN s < 0.5 THEN '' ELSE 'seed' || to_hex(a) || '_' || (g % 2) END,
       et,
       et + 1500,
       CASE WHEN b THEN 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)'
            ELSE 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' END,
       b,
       '{{}}'
FROM (
    SELECT g,
           floor({assets} * power(random(), 3))::bigint AS a,
           random() AS t, random() AS p, random() AS s, random() < 0.02 AS b,
           {now_us} - floor(({events} - g + random()) * ({span_us}::float8 / {events}))::bigint AS et
    FROM generate_series(1, {events}) AS g
) AS seed
"""

#: The register of event ids as the adapter keeps it.
BUILD_IDS = (
    "INSERT INTO analytics_event_ids (event_id, event_time_us) SELECT event_id, event_time_us FROM analytics_events"
)

#: The rollups as the adapter keeps them: per (asset, short code, platform, type, hour) the humans' events
#: in `events` and the crawlers' in `bot_events`; the hour is event_time_us - event_time_us % 1 h. Written
#: hour by hour, as the service writes them.
BUILD_ROLLUPS = f"""
INSERT INTO analytics_rollups (asset_id, short_code, platform, event_type, hour_us, events, bot_events)
SELECT asset_id, short_code, platform, event_type, event_time_us - event_time_us % {HOUR_US},
       count(*) FILTER (WHERE NOT bot), count(*) FILTER (WHERE bot)
FROM analytics_events
GROUP BY 1, 2, 3, 4, 5
ORDER BY 5, 1, 2, 3, 4
"""

#: The all-time totals as the adapter keeps them: per (asset, platform, type), from the hourly rollups.
BUILD_TOTALS = """
INSERT INTO analytics_totals (asset_id, platform, event_type, events, bot_events)
SELECT asset_id, platform, event_type, sum(events), sum(bot_events)
FROM analytics_rollups
GROUP BY 1, 2, 3
"""

#: The day totals as the adapter keeps them: per (asset, platform, type, UTC day), from the hourly rollups
#: (an hour lies in one day), written day by day.
BUILD_DAYS = f"""
INSERT INTO analytics_days (asset_id, platform, event_type, day_us, events, bot_events)
SELECT asset_id, platform, event_type, hour_us - hour_us % {DAY_US}, sum(events), sum(bot_events)
FROM analytics_rollups
GROUP BY 1, 2, 3, 4
ORDER BY 4, 1, 2, 3
"""

#: The per-asset counts as the adapter keeps them: per (asset, hour) and per (asset, UTC day) the humans'
#: views, plays and clicks and the bots' events (0, not NULL, where a type has no rollup), from the hourly
#: rollups, written hour by hour (day by day).
BUILD_PER_ASSET = """
INSERT INTO {table} (asset_id, {period}, views, plays, clicks, bot_events)
SELECT asset_id, hour_us - hour_us % {length},
       coalesce(sum(events) FILTER (WHERE event_type = 'view'), 0),
       coalesce(sum(events) FILTER (WHERE event_type = 'play'), 0),
       coalesce(sum(events) FILTER (WHERE event_type = 'click'), 0), sum(bot_events)
FROM analytics_rollups
GROUP BY 1, 2
ORDER BY 2, 1
"""
PER_ASSET_TABLES = (("analytics_asset_hours", "hour_us", HOUR_US), ("analytics_asset_days", "day_us", DAY_US))


@dataclass(frozen=True)
class Seeded:
    events: int
    rollup_rows: int
    seconds: float
    top_asset: str
    median_asset: str


async def seed(url: str, events: int, assets: int, days: int, now: datetime) -> Seeded:
    """Empty the analytics tables and fill them with `events` events and their rollups."""
    started = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET maintenance_work_mem = '512MB'")
        await connection.execute("SET work_mem = '256MB'")
        keys = await connection.fetch(
            "SELECT conrelid::regclass::text AS tab, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
            "WHERE contype = 'p' AND conrelid::regclass::text = ANY($1)",
            list(TABLES),
        )
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p')",
            list(TABLES),
        )
        await connection.execute(f"TRUNCATE {', '.join(TABLES)}")
        now_us = (now - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        # The events' day partitions (the table is partitioned by day), from the oldest seeded day to today.
        first_day = (now_us - days * 24 * HOUR_US) // DAY_US * DAY_US
        await pg_create_partitions(connection, range(first_day, now_us + 1, DAY_US))
        for index in indexes:
            await connection.execute(f'DROP INDEX "{index["indexname"]}"')
        for key in keys:
            await connection.execute(f'ALTER TABLE {key["tab"]} DROP CONSTRAINT "{key["conname"]}"')
        await connection.execute(
            SEED_EVENTS.format(
                columns=", ".join(COLUMNS), assets=assets, now_us=now_us, span_us=days * 24 * HOUR_US, events=events
            )
        )
        await connection.execute(BUILD_IDS)
        await connection.execute(BUILD_ROLLUPS)
        await connection.execute(BUILD_TOTALS)
        await connection.execute(BUILD_DAYS)
        for table, period, length in PER_ASSET_TABLES:
            await connection.execute(BUILD_PER_ASSET.format(table=table, period=period, length=length))
        for key in keys:
            await connection.execute(f'ALTER TABLE {key["tab"]} ADD CONSTRAINT "{key["conname"]}" {key["def"]}')
        for index in indexes:
            # A partitioned table's index is listed as `ON ONLY` the parent: built as such it would cover no
            # partition.
            await connection.execute(index["indexdef"].replace(" ON ONLY ", " ON "))
        for table in TABLES:
            await connection.execute(f"VACUUM ANALYZE {table}")
        rollup_rows = await connection.fetchval("SELECT count(*) FROM analytics_rollups")
        per_asset = await connection.fetch(
            "SELECT asset_id, sum(events) AS n FROM analytics_rollups GROUP BY asset_id ORDER BY n DESC"
        )
    finally:
        await connection.close()
    return Seeded(
        events,
        int(rollup_rows),
        time.perf_counter() - started,
        per_asset[0]["asset_id"],
        per_asset[len(per_asset) // 2]["asset_id"],
    )


# --- queries --------------------------------------------------------------------------------------------


#: Count deltas (analytics_deltas) added for the second round of queries: what the ingest above would append
#: between two folds (:data:`FOLD_EVERY_S`) if every event had a rollup key of its own — the worst case (its
#: events share 200 keys an hour: a fold moves a few thousand).
UNFOLDED_DELTAS = 25_000
#: The service's default fold interval (seconds), which those deltas stand for.
FOLD_EVERY_S = IngestSettings.model_fields["fold_every_s"].default

#: Deltas of one whole hour two hours ago (inside every range queried), the assets skewed as the seeded events are.
ADD_DELTAS = f"""
INSERT INTO analytics_deltas (asset_id, short_code, platform, event_type, hour_us, events, bot_events)
SELECT lpad(to_hex(floor($2 * power(random(), 3))::bigint), 16, '0'),
       '',
       (ARRAY['web', 'slack', 'discord', 'teams', 'twitter', 'facebook', 'other'])[1 + g % 7],
       (ARRAY['view', 'view', 'play', 'click'])[1 + g % 4],
       $3 - $3 % {HOUR_US} - 2 * {HOUR_US},
       1,
       0
FROM generate_series(1, $1) AS g
"""


async def add_deltas(url: str, n: int, assets: int, now: datetime) -> None:
    connection = await asyncpg.connect(url)
    try:
        now_us = (now - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        await connection.execute(ADD_DELTAS, n, assets, now_us)
    finally:
        await connection.close()


@dataclass(frozen=True)
class Latency:
    label: str
    p50_ms: float
    p95_ms: float


def _time_range(start: datetime | None, end: datetime | None) -> pb.TimeRange:
    time_range = pb.TimeRange()
    if start is not None:
        time_range.start_time.CopyFrom(_timestamp(start))
    if end is not None:
        time_range.end_time.CopyFrom(_timestamp(end))
    return time_range


def queries(target: str, key: str, seeded: Seeded, now: datetime, calls: int) -> list[Latency]:
    metadata = (("authorization", f"Bearer {key}"),)
    # A week ending now, edges not on the hour: whole hours from the rollups, two partial hours raw.
    week = _time_range(now - timedelta(days=7, minutes=17), now)
    day = _time_range(now - timedelta(days=1, minutes=17), now)
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.AnalyticsServiceStub(channel)
        shapes: list[tuple[str, Callable[[], object]]] = [
            (
                "GetAssetMetrics, most viewed asset, all time",
                lambda: stub.GetAssetMetrics(pb.GetAssetMetricsRequest(asset_id=seeded.top_asset), metadata=metadata),
            ),
            (
                "GetAssetMetrics, most viewed asset, last 7 days (edges mid-hour)",
                lambda: stub.GetAssetMetrics(
                    pb.GetAssetMetricsRequest(asset_id=seeded.top_asset, time_range=week), metadata=metadata
                ),
            ),
            (
                "GetAssetMetrics, median asset, last 7 days (edges mid-hour)",
                lambda: stub.GetAssetMetrics(
                    pb.GetAssetMetricsRequest(asset_id=seeded.median_asset, time_range=week), metadata=metadata
                ),
            ),
            (
                "ListTopAssets by views, all time",
                lambda: stub.ListTopAssets(pb.ListTopAssetsRequest(metric=pb.METRIC_VIEWS), metadata=metadata),
            ),
            (
                "ListTopAssets by CTR, last 24 hours (edges mid-hour)",
                lambda: stub.ListTopAssets(
                    pb.ListTopAssetsRequest(metric=pb.METRIC_CTR, time_range=day), metadata=metadata
                ),
            ),
        ]
        results = []
        for label, call in shapes:
            for _ in range(3):  # warm-up: the connection, the plan, the pages
                call()
            latencies = []
            for _ in range(calls):
                started = time.perf_counter()
                call()
                latencies.append(time.perf_counter() - started)
            results.append(Latency(label, statistics.median(latencies) * 1000, percentile(latencies, 0.95) * 1000))
            print(f"{label}: p50 {results[-1].p50_ms:.1f} ms, p95 {results[-1].p95_ms:.1f} ms", flush=True)
    return results


# --- the run --------------------------------------------------------------------------------------------


def _key(http: httpx.Client, *permissions: str) -> str:
    response = http.post(
        "/v1/apikeys",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        json={"display_name": "bench analytics", "permissions": list(permissions)},
    )
    response.raise_for_status()
    secret: str = response.json()["secret"]
    return secret


def measure(
    quick: bool, size: Sizes, server_url: str, ingest_only: bool = False
) -> tuple[Ingest, Seeded | None, list[Latency]]:
    """Ingest, then (unless ``ingest_only``) seed and query; the seeded part is None when skipped."""
    workdir = Path(tempfile.mkdtemp(prefix="clearframe-bench-analytics-"))
    with temporary_postgres_database(server_url) as mesh_url, temporary_postgres_database(server_url) as baseline_url:
        mesh = Mesh(
            MeshOptions.free(
                workdir,
                database_url=mesh_url,
                trace_keeper=False,  # measured as before: no span export to a local trace keeper
                extra_env={"CLEARFRAME_ADMIN_KEY": ADMIN_KEY, "CLEARFRAME_LOG_LEVEL": "WARNING"},
            )
        )
        mesh.start()
        try:
            mesh.wait_ready(timeout=180)
            with httpx.Client(base_url=mesh.gateway_url, timeout=60) as http:
                writer = _key(http, "analytics.write")
                reader = _key(http, "analytics.read")
            # Every process of the mesh: Envoy asks auth (ext_authz) and the rate limiter about every call.
            pids = {name: [process.pid] for name, process in mesh.processes.items()}
            ingest = asyncio.run(_ingest(mesh_url, baseline_url, mesh.gateway_target, writer, size, pids))
            print(
                f"ingest: ×{ingest.ratio:.2f} of the batched COPY (median of {len(ingest.rounds)} rounds)", flush=True
            )
            if ingest_only:
                return ingest, None, []
            now = datetime.now(UTC)
            seeded = asyncio.run(seed(mesh_url, size.seeded_events, size.assets, size.days, now))
            print(
                f"seeded {seeded.events} events, {seeded.rollup_rows} rollup rows in {seeded.seconds:.0f} s",
                flush=True,
            )
            latencies = queries(mesh.gateway_target, reader, seeded, now, size.query_calls)
            # Reads add the count deltas not folded yet: the same queries with a fold interval of ingest's deltas.
            asyncio.run(add_deltas(mesh_url, UNFOLDED_DELTAS, size.assets, now))
            unfolded = queries(mesh.gateway_target, reader, seeded, now, size.query_calls)
            latencies += [replace(lat, label=f"{lat.label}, {UNFOLDED_DELTAS:,} deltas not folded") for lat in unfolded]
        finally:
            mesh.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    return ingest, seeded, latencies


INGEST_HEADING = "### Ingest"


def _per_event(cpu_s: dict[str, float], events: int) -> str:
    """µs of CPU per event of the processes that did something for the events (a tenth of a µs or more),
    busiest first."""
    busy = sorted(((seconds, name) for name, seconds in cpu_s.items() if seconds / events * 1e6 >= 0.1), reverse=True)
    return ", ".join(f"{name} {seconds / events * 1e6:.1f}" for seconds, name in busy)


def _ratios(ingest: Ingest, ratio: Callable[[Round], float]) -> str:
    """The median of the rounds' ratios, and each round's when there are several."""
    median = f"×{statistics.median(ratio(r) for r in ingest.rounds):.2f}"
    if len(ingest.rounds) == 1:
        return median
    return f"{median} (rounds: {', '.join(f'×{ratio(r):.2f}' for r in ingest.rounds)})"


def ingest_lines(ingest: Ingest) -> list[str]:
    """The "### Ingest" subsection: rates and seconds are the rounds' medians, CPU is summed over the rounds."""
    n, rounds = ingest.events, len(ingest.rounds)
    service_s = ingest.median_s(lambda r: r.service_s)
    batched_s = ingest.median_s(lambda r: r.copy_batched_s)
    single_s = ingest.median_s(lambda r: r.copy_single_s)
    stream_s = ingest.median_s(lambda r: r.stream_s)
    every = n * rounds  # events per path over all rounds
    used, copy_used = ingest.cpu(lambda r: r.cpu_s), ingest.cpu(lambda r: r.copy_cpu_s)
    stream_used = ingest.cpu(lambda r: r.stream_cpu_s)
    service_cpu, copy_total, stream_cpu = sum(used.values()), sum(copy_used.values()), sum(stream_used.values())
    service_wall = sum(r.service_s for r in ingest.rounds)
    copy_wall = sum(r.copy_batched_s for r in ingest.rounds)
    stream_wall = sum(r.stream_s for r in ingest.rounds)
    p50 = ingest.median_s(lambda r: r.batch_p50_ms)
    return [
        f"{INGEST_HEADING} ({n} events per path and round, {rounds} round{'s' if rounds > 1 else ''}, batches of "
        f"{BATCH}, {ingest.producers} concurrent producers)",
        "",
        "| path | events/s | seconds |",
        "|---|---:|---:|",
        f"| BatchRecordEvents, native gRPC through Envoy (validation, group commit, rollups) | {n / service_s:.0f} | "
        f"{service_s:.2f} |",
        f"| COPY of the same rows, {BATCH} per COPY, {ingest.producers} connections | {n / batched_s:.0f} | "
        f"{batched_s:.2f} |",
        f"| COPY of the same rows, one COPY | {n / single_s:.0f} | {single_s:.2f} |",
        f"| StreamRecordEvents, native gRPC through Envoy, {ingest.producers} streams of {BATCH}-event messages "
        f"(other ids) | {n / stream_s:.0f} | {stream_s:.2f} |",
        "",
        *(
            [
                "- Each round ran the four paths one after another from empty tables, each after a CHECKPOINT; "
                "the table gives the rounds' medians, the ratios are the medians of each round's own."
            ]
            if rounds > 1
            else []
        ),
        f"- Ingest vs. raw COPY in the same batches: {_ratios(ingest, lambda r: r.ratio)}, goal ≥ 0.5; vs. one "
        f"COPY: {_ratios(ingest, lambda r: r.copy_single_s / r.service_s)}. A batch of {BATCH} was answered in "
        f"{p50:.0f} ms (p50), after its commit.",
        f"- CPU per ingested event (µs, user + system, while the producers sent): {_per_event(used, every)}; in all "
        f"{service_cpu / every * 1e6:.1f}, {service_cpu / service_wall:.2f} cores busy. The batched "
        f"COPY: {_per_event(copy_used, every)}; in all {copy_total / every * 1e6:.1f}, "
        f"{copy_total / copy_wall:.2f} cores busy. At equal use of the cores the ratio would be "
        f"×{copy_total / service_cpu:.2f}.",
        f"- The streaming RPC, for producers that send continuously (not what the goal is about): "
        f"{_ratios(ingest, lambda r: r.copy_batched_s / r.stream_s)} of the batched COPY; CPU per event "
        f"{_per_event(stream_used, every)}; in all {stream_cpu / every * 1e6:.1f}, {stream_cpu / stream_wall:.2f} "
        "cores busy (one call, authenticated and rate-limited once, per stream).",
        "- Both write the same `analytics_events` table (partitioned by day, three indexes); the service also "
        "registers each id in `analytics_event_ids` (primary key; a known id is skipped by `ON CONFLICT DO "
        "NOTHING`) and appends what the events add to the counts (`analytics_deltas`, one row per rollup key) "
        "in the same transaction; folds move the deltas into the hourly rollups "
        f"({ingest.rollup_rows} keys for these events), day totals and per-asset counts. Every event was stored "
        "and counted once (checked).",
        "",
    ]


def replace_ingest(document: str, ingest: list[str]) -> str:
    """``document`` with its "### Ingest" subsection replaced by ``ingest`` (the lines up to the next heading
    go; any notes the document adds after the measured lines are kept only if they follow a heading)."""
    lines = document.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(INGEST_HEADING)), None)
    if start is None:
        raise ValueError(f"no {INGEST_HEADING!r} subsection to replace")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    lines[start:end] = ingest
    return "\n".join(lines).rstrip("\n") + "\n"


def lines(quick: bool, size: Sizes, ingest: Ingest, seeded: Seeded, latencies: list[Latency]) -> list[str]:
    worst = max(latencies, key=lambda lat: lat.p50_ms)
    return [
        "## Analytics",
        "",
        f"Command: `python -m bench.analytics{' --quick' if quick else ''}` (PostgreSQL, the same server for the "
        "mesh and the baselines; the client, Envoy, the service and PostgreSQL share the same cores).",
        "",
        *ingest_lines(ingest),
        f"### Queries ({seeded.events:,} events, {size.assets} assets, {size.days} days, "
        f"{seeded.rollup_rows:,} rollup rows; {size.query_calls} calls each, one at a time)",
        "",
        "| query (native gRPC through Envoy) | p50 ms | p95 ms |",
        "|---|---:|---:|",
        *(f"| {lat.label} | {lat.p50_ms:.1f} | {lat.p95_ms:.1f} |" for lat in latencies),
        "",
        f"- Slowest p50: {worst.p50_ms:.1f} ms ({worst.label}; goal ≤ 50 ms).",
        f"- The last {len(latencies) // 2} rows: the same queries with {UNFOLDED_DELTAS:,} count deltas not folded "
        f"yet, in a whole hour inside every range: what a fold interval ({FOLD_EVERY_S:g} s) of the ingest above "
        "would leave if every event had a rollup key of its own (its events share 200 keys an hour). Every count "
        "table is read with them.",
        f"- Seeded in {seeded.seconds:.0f} s: events generated by PostgreSQL (`INSERT … SELECT` over "
        "`generate_series`, indexes rebuilt after), rollups by one `INSERT … SELECT … GROUP BY` with the "
        "adapter's keys, the all-time totals, day totals and per-asset hour and day counts from them; "
        "`bench/analytics.py` says how events are spread.",
        "",
    ]


def _server() -> str:
    return os.environ.get("CLEARFRAME_TEST_POSTGRES_URL") or DEFAULT_POSTGRES


def run(
    quick: bool,
    events: int | None = None,
    assets: int | None = None,
    days: int | None = None,
    producers: int | None = None,
) -> list[str]:
    """Boot a mesh on temporary PostgreSQL databases, measure, and return the "## Analytics" section."""
    size = sizes(quick, events, assets, days, producers)
    ingest, seeded, latencies = measure(quick, size, _server())
    assert seeded is not None
    return lines(quick, size, ingest, seeded, latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--events", type=int, help="events seeded for the queries (default 10 M, quick 1 M)")
    parser.add_argument("--assets", type=int, help="assets they belong to (default 1000)")
    parser.add_argument("--days", type=int, help="days they are spread over (default 30)")
    parser.add_argument(
        "--ingest-only", action="store_true", help="measure ingest only (no seeding, no queries): a few minutes less"
    )
    parser.add_argument(
        "--update", type=Path, help="with --ingest-only: replace the '### Ingest' subsection of this file"
    )
    parser.add_argument(
        "--producers", type=int, help=f"concurrent ingest producers, COPY connections and streams (default {PRODUCERS})"
    )
    args = parser.parse_args()
    if not args.ingest_only:
        print("\n".join(run(args.quick, args.events, args.assets, args.days, args.producers)))
        return
    ingest, _, _ = measure(args.quick, sizes(args.quick, producers=args.producers), _server(), ingest_only=True)
    section = ingest_lines(ingest)
    if args.update:
        args.update.write_text(replace_ingest(args.update.read_text(), section))
        print(f"updated {INGEST_HEADING} in {args.update}")
    print("\n".join(section))


if __name__ == "__main__":
    main()
