"""The ClickHouse store beyond the shared contract (services/analytics/tests/test_store.py runs that on
chdb): its URL, its schema, and what it answers when ClickHouse fails."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from clearframe_runtime.errors import Unavailable
from services.analytics.adapters.clickhouse import ChdbExecutor, ClickHouseEventStore, ClickHouseUrl, schema
from services.analytics.domain.model import Event, EventFilter, EventType, Platform

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_a_url_names_server_credentials_and_database() -> None:
    url = ClickHouseUrl.parse("clickhouse://writer:p%40ss@ch.internal:9000/events_db")
    assert url == ClickHouseUrl("ch.internal", 9000, "events_db", "writer", "p@ss", secure=False)
    tls = ClickHouseUrl.parse("clickhouses://ch.example")
    assert (tls.port, tls.secure, tls.username, tls.database) == (8443, True, "default", "clearframe_analytics")
    assert ClickHouseUrl.parse("clickhouse://localhost").port == 8123


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://localhost/db", "not a ClickHouse URL"),
        ("clickhouse:///db", "needs a host"),
        ("clickhouse://localhost/bad-name", "not a ClickHouse database name"),
        ("clickhouse://localhost/db; DROP TABLE x", "not a ClickHouse database name"),
        ("clickhouse://localhost/db?compress=lz4", "unknown ClickHouse URL parameters: compress"),
    ],
)
def test_a_bad_url_is_refused_with_its_reason(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ClickHouseUrl.parse(url)


def test_the_schema_is_a_mergetree_with_a_summing_rollup_fed_by_a_view() -> None:
    statements = schema("a_db")
    assert all("IF NOT EXISTS" in s for s in statements)
    events, rollups, view = statements[1:]
    assert "ENGINE = MergeTree" in events and "ORDER BY (asset_id, event_time_us, event_id)" in events
    assert "SummingMergeTree" in rollups
    assert "TO `a_db`.rollups" in view and "FROM `a_db`.events" in view


async def test_strings_travel_as_parameters_not_sql() -> None:
    store = ClickHouseEventStore(ChdbExecutor(), f"analytics_{uuid.uuid4().hex[:12]}")
    await store.create_schema()
    try:
        tricky = "x' OR '1'='1\\\t\n"
        event = Event(tricky, "a" * 16, EventType.VIEW, Platform.WEB, tricky, T0, T0, {"k": tricky}, tricky)
        assert await store.record([event]) == {tricky}
        assert await store.get_many([tricky]) == {tricky: event}
        assert await store.record([event]) == set()  # found again by that very id
        assert await store.page(EventFilter(short_code=tricky), 0, 5) == [event]
        assert await store.page(EventFilter(short_code="x"), 0, 5) == []
        assert await store.ping()
    finally:
        await store.close()


async def test_a_failing_clickhouse_is_store_unavailable() -> None:
    executor = ChdbExecutor()
    store = ClickHouseEventStore(executor, f"analytics_{uuid.uuid4().hex[:12]}")
    # No schema created: every statement fails inside ClickHouse (unknown database).
    event = Event("e1", "a" * 16, EventType.VIEW, Platform.WEB, "", T0, T0)
    with pytest.raises(Unavailable) as failed:
        await store.record([event])
    assert failed.value.reason == "STORE_UNAVAILABLE"
    with pytest.raises(Unavailable):
        await store.counts(EventFilter(), frozenset())
    await store.close()
