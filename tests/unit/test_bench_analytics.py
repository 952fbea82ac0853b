"""The analytics benchmark's seeding (bench/analytics.py): the rollups, day totals and per-asset counts it
builds with a GROUP BY each are the ones the SQL adapter keeps — the store's answers and rankings, which
mix them with raw edge hours, equal counting the seeded events — and the tables keep their keys and
indexes. PostgreSQL only (skipped without it locally)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from bench.analytics import Ingest, Latency, Round, Seeded, ingest_lines, lines, replace_ingest, seed, sizes
from clearframe_runtime import db
from clearframe_runtime.testing import PostgresRequired, postgres_url, temporary_postgres_database
from services.analytics.__main__ import MIGRATIONS
from services.analytics.adapters.sql import SqlEventStore
from services.analytics.domain.hours import to_us
from services.analytics.domain.model import (
    Dimension,
    EventFilter,
    EventType,
    Metrics,
    Platform,
    RankBy,
    RankedAsset,
    TimeRange,
    rank,
)

NOW = datetime(2026, 12, 2, 12, 34, 56, 789012, tzinfo=UTC)


@pytest.fixture
def postgres() -> Iterator[str]:
    try:
        url = postgres_url()
    except PostgresRequired as exc:
        pytest.fail(str(exc))
    if url is None:
        pytest.skip("CLEARFRAME_TEST_POSTGRES_URL is not set (CI sets it and requires PostgreSQL)")
    with temporary_postgres_database(url) as database:
        yield database


async def _schema(connection: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await connection.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'analytics_%' "
        "AND tablename NOT IN (SELECT inhrelid::regclass::text FROM pg_inherits) ORDER BY indexname"
    )
    return [(r["indexname"], r["indexdef"]) for r in rows]


async def _unindexed_partitions(connection: asyncpg.Connection) -> list[str]:
    """The day partitions of analytics_events that lack one of the parent's indexes."""
    rows = await connection.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'analytics_events'::regclass AND (SELECT count(*) FROM pg_index x "
        "WHERE x.indrelid = c.oid) < (SELECT count(*) FROM pg_index x WHERE x.indrelid = i.inhparent)"
    )
    return [r["relname"] for r in rows]


async def test_seeded_rollups_are_the_adapters(postgres: str) -> None:
    await db.migrate(postgres, MIGRATIONS)
    connection = await asyncpg.connect(postgres)
    try:
        before = await _schema(connection)
        seeded = await seed(postgres, 6000, 25, 3, NOW)
        assert await _schema(connection) == before
        assert await connection.fetchval("SELECT count(*) FROM pg_inherits") >= 4  # 3 days and today
        assert await _unindexed_partitions(connection) == []
        raw = await connection.fetch(
            "SELECT asset_id, short_code, platform, event_type, event_time_us, bot FROM analytics_events"
        )
    finally:
        await connection.close()
    assert len(raw) == seeded.events == 6000
    assert seeded.rollup_rows > 0 and len(seeded.top_asset) == len(seeded.median_asset) == 16
    engine = db.create_engine(postgres)
    store = SqlEventStore(engine)
    try:
        rng = random.Random(7)
        for _ in range(12):
            start = NOW - timedelta(seconds=rng.uniform(0, 4 * 86400))
            end = start + timedelta(seconds=rng.uniform(0, 2 * 86400))
            low, high = to_us(start), to_us(end)
            by = frozenset({Dimension.ASSET, Dimension.PLATFORM, Dimension.SHORT_CODE})
            counts = await store.counts(EventFilter(time_range=TimeRange(start, end)), by)
            got = Counter(
                {
                    (c.asset_id, c.short_code, c.platform.value if c.platform else "", c.event_type.value, bot): n
                    for c in counts
                    for bot, n in ((False, c.humans), (True, c.bots))
                    if n
                }
            )
            expected = Counter(
                (r["asset_id"], r["short_code"], r["platform"], r["event_type"], r["bot"])
                for r in raw
                if low <= r["event_time_us"] <= high
            )
            assert got == expected
            # Without short codes: whole days from the day totals; rankings from the per-asset counts.
            per_platform = await store.counts(
                EventFilter(time_range=TimeRange(start, end)), frozenset({Dimension.ASSET, Dimension.PLATFORM})
            )
            assert sum(c.humans + c.bots for c in per_platform) == sum(expected.values())
            for platform in (None, Platform.WEB):
                metrics: dict[str, Metrics] = {}
                for (asset_id, _, platform_name, event_type, bot), n in expected.items():
                    if platform is not None and platform_name != platform.value:
                        continue
                    kind = EventType(event_type)
                    metrics[asset_id] = metrics.get(asset_id, Metrics()) + Metrics(
                        views=0 if bot or kind is not EventType.VIEW else n,
                        plays=0 if bot or kind is not EventType.PLAY else n,
                        clicks=0 if bot or kind is not EventType.CLICK else n,
                        bot_events=n if bot else 0,
                    )
                everyone = [RankedAsset(a, m) for a, m in metrics.items()]
                where = EventFilter(platform=platform, time_range=TimeRange(start, end))
                for rank_by, floor in ((RankBy.VIEWS, 0), (RankBy.CTR, 10)):
                    assert await store.top_assets(where, rank_by, floor, 5) == rank(everyone, rank_by, floor, 5)
    finally:
        await engine.dispose()


ROUND = Round(
    1.0,
    200.0,
    0.2,
    0.25,
    {"analytics": 0.3, "envoy": 0.1, "client": 0.05, "idle": 0.0001},
    {"PostgreSQL": 0.1, "client": 0.02},
    0.5,
    {"analytics": 0.2, "PostgreSQL": 0.1},
)
INGEST = Ingest(20_000, 200, (ROUND,))


def test_the_section_renders() -> None:
    size = sizes(True)
    section = lines(
        True,
        size,
        INGEST,
        Seeded(size.seeded_events, 800_000, 15.0, "0" * 16, "1" * 16),
        [Latency("GetAssetMetrics", 30.0, 35.0), Latency("ListTopAssets", 220.0, 250.0)],
    )
    assert section[0] == "## Analytics"
    assert any("×0.20, goal ≥ 0.5" in line for line in section)
    assert not any("rounds:" in line for line in section)  # one round: no list of one
    assert any("Slowest p50: 220.0 ms (ListTopAssets" in line for line in section)
    # Busiest first, a process under a tenth of a µs per event left out; the baseline's CPU beside it.
    assert any("analytics 15.0, envoy 5.0, client 2.5; in all 22.5, 0.45 cores busy" in line for line in section)
    assert any("The batched COPY: PostgreSQL 5.0, client 1.0; in all 6.0, 0.60 cores busy" in line for line in section)
    assert any("At equal use of the cores the ratio would be ×0.27" in line for line in section)
    assert any(line.startswith("| StreamRecordEvents") and "| 40000 | 0.50 |" in line for line in section)
    assert any("×0.40 of the batched COPY; CPU per event analytics 10.0, PostgreSQL 5.0" in line for line in section)
    assert any("The last 1 rows: the same queries with 25,000 count deltas" in line for line in section)


def test_an_ingest_only_run_replaces_the_ingest_subsection_and_keeps_the_rest() -> None:
    document = "## Analytics\n\nCommand: x\n\n### Ingest (old)\n\n| old |\n\n### Queries (q)\n\n| kept |\n\n## Next\n"
    updated = replace_ingest(document, ingest_lines(INGEST))
    assert "| old |" not in updated and "×0.20, goal ≥ 0.5" in updated
    assert updated.startswith("## Analytics\n\nCommand: x\n\n### Ingest (20000 events per path and round, 1 round,")
    assert updated.endswith("\n### Queries (q)\n\n| kept |\n\n## Next\n")
    with pytest.raises(ValueError, match="no '### Ingest' subsection"):
        replace_ingest("## Analytics\n", ingest_lines(INGEST))


def test_rounds_give_medians_and_each_rounds_own_ratio() -> None:
    # The second round's server was slow for both paths, the third's COPY fast: each ratio is a round's own.
    rounds = (
        ROUND,
        replace(ROUND, service_s=2.0, copy_batched_s=0.5, copy_single_s=0.6, stream_s=1.0),
        replace(ROUND, service_s=0.5, copy_batched_s=0.2, copy_single_s=0.2, stream_s=0.4),
    )
    section = ingest_lines(Ingest(20_000, 200, rounds, producers=8))
    assert (
        section[0] == "### Ingest (20000 events per path and round, 3 rounds, batches of 1000, 8 concurrent producers)"
    )
    assert any(line.startswith("| COPY of the same rows, 1000 per COPY, 8 connections") for line in section)
    assert any(line.startswith("| StreamRecordEvents, native gRPC through Envoy, 8 streams") for line in section)
    # Medians of the rounds' seconds: 1.0 s for the service, 0.2 s for the batched COPY.
    assert any(line.startswith("| BatchRecordEvents") and "| 20000 | 1.00 |" in line for line in section)
    assert any(
        line.startswith("| COPY of the same rows, 1000 per COPY") and "| 100000 | 0.20 |" in line for line in section
    )
    # Not the ratio of the medians (×0.20): the median of 0.20, 0.25 and 0.40.
    assert any("×0.25 (rounds: ×0.20, ×0.25, ×0.40), goal ≥ 0.5" in line for line in section)
    assert any(
        "of the batched COPY; CPU per event analytics 10.0" in line and "×0.50 (rounds: ×0.40, ×0.50, ×0.50)" in line
        for line in section
    )
    # CPU summed over the rounds, per event of all of them; cores busy over the rounds' wall time.
    assert any("analytics 15.0, envoy 5.0, client 2.5; in all 22.5, 0.39 cores busy" in line for line in section)
