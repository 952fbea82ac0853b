"""The config service's use cases on the in-memory store, with an injected clock: runs in milliseconds.

The store-independent tests of ``test_store.py`` (which run them on SQLite and PostgreSQL) are collected
here a second time against :class:`MemoryConfigStore`, so the fake keeps the adapter's semantics; the
tests below add what needs a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.config.domain import ChangeFeed, Configurations, ResolutionCache
from services.config.tests.fakes import MemoryConfigStore
from services.config.tests.test_store import (
    ME,
    document,
    test_cache_hits_until_cleared,
    test_every_put_is_a_new_version_and_the_document_round_trips,
    test_invalid_put_stores_nothing,
    test_resolution_order_and_fallback_after_delete,
    test_update_mask_keeps_the_rest,
)

__all__ = [
    "test_cache_hits_until_cleared",
    "test_every_put_is_a_new_version_and_the_document_round_trips",
    "test_invalid_put_stores_nothing",
    "test_resolution_order_and_fallback_after_delete",
    "test_update_mask_keeps_the_rest",
]

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class StepClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def configs(clock: StepClock) -> Configurations:
    return Configurations(MemoryConfigStore(), ResolutionCache(600), ChangeFeed(10), clock=clock)


async def test_changes_and_their_audit_rows_carry_the_injected_time(configs: Configurations, clock: StepClock) -> None:
    created = await configs.put("paysite", "42", document(), ME)
    assert created.created_at == created.updated_at == START
    clock.now = START + timedelta(minutes=5)
    updated = await configs.put("paysite", "42", document(3), ME)
    clock.now = START + timedelta(minutes=9)
    deleted = await configs.delete("paysite", "42", ME)
    assert (updated.created_at, deleted.updated_at) == (START + timedelta(minutes=5), START + timedelta(minutes=9))
    page = await configs.audit("paysite", "42", limit=10, offset=0, page_size=0, page_token="")
    assert [(r.action, r.timestamp - START) for r in page.records] == [
        ("delete", timedelta(minutes=9)),
        ("update", timedelta(minutes=5)),
        ("create", timedelta(0)),
    ]
