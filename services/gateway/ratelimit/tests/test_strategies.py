"""Each strategy's semantics on an injected clock, in memory and in a real Redis (same assertions)."""

from __future__ import annotations

import asyncio

import pytest

from services.gateway.ratelimit.domain import Limit, Strategy
from services.gateway.ratelimit.ports import CounterStore

T0 = 1_800_000_000.0


async def hits(store: CounterStore, counter: str, limit: Limit, n: int, now: float, cost: int = 1) -> list[bool]:
    return [(await store.hit(counter, limit, cost, now)).allowed for _ in range(n)]


async def test_token_bucket_starts_full_refills_n_per_window_and_refusals_take_nothing(store: CounterStore) -> None:
    limit = Limit(Strategy.TOKEN_BUCKET, 5, 10.0)
    assert await hits(store, "c", limit, 6, T0) == [True] * 5 + [False]
    refused = await store.hit("c", limit, 1, T0)
    assert not refused.allowed and refused.remaining == 0
    assert refused.retry_after_s == pytest.approx(2.0)  # one token per 10/5 s
    assert refused.reset_s == pytest.approx(10.0)
    # 2 s later exactly one token is back; refusals before took nothing.
    assert await hits(store, "c", limit, 2, T0 + 2.0) == [True, False]
    # Never more than the capacity, however long idle.
    after = await store.hit("c", limit, 1, T0 + 1000.0)
    assert after.allowed and after.remaining == 4


async def test_token_bucket_cost_and_a_clock_that_steps_back(store: CounterStore) -> None:
    limit = Limit(Strategy.TOKEN_BUCKET, 10, 10.0)
    first = await store.hit("c", limit, 7, T0)
    assert first.allowed and first.remaining == 3
    too_much = await store.hit("c", limit, 4, T0)
    assert not too_much.allowed and too_much.retry_after_s == pytest.approx(1.0)
    # Going back in time refills nothing.
    assert not (await store.hit("c", limit, 4, T0 - 50)).allowed
    assert (await store.hit("c", limit, 3, T0)).allowed
    # A cost above the whole capacity can never pass: the wait says one window.
    never = await store.hit("c", limit, 11, T0 + 100)
    assert not never.allowed and never.retry_after_s == pytest.approx(10.0)


async def test_fixed_window_counts_only_allowed_and_resets_after_the_window(store: CounterStore) -> None:
    limit = Limit(Strategy.FIXED_WINDOW, 3, 60.0)
    assert await hits(store, "c", limit, 2, T0) == [True, True]
    # count + n <= limit: 2 + 2 > 3 refused, and not counted, so 1 still fits.
    assert not (await store.hit("c", limit, 2, T0 + 1)).allowed
    last = await store.hit("c", limit, 1, T0 + 1)
    assert last.allowed and last.remaining == 0
    refused = await store.hit("c", limit, 1, T0 + 20)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(40.0) and refused.reset_s == pytest.approx(40.0)
    # The window opened at the first request; it resets once 60 s have elapsed.
    assert not (await store.hit("c", limit, 1, T0 + 59.9)).allowed
    fresh = await store.hit("c", limit, 1, T0 + 60)
    assert fresh.allowed and fresh.remaining == 2


async def test_sliding_window_drops_events_older_than_the_window(store: CounterStore) -> None:
    limit = Limit(Strategy.SLIDING_WINDOW, 3, 10.0)
    assert (await store.hit("c", limit, 1, T0)).allowed
    assert (await store.hit("c", limit, 1, T0 + 4)).allowed
    assert (await store.hit("c", limit, 1, T0 + 8)).allowed
    refused = await store.hit("c", limit, 1, T0 + 9)
    assert not refused.allowed and refused.remaining == 0
    assert refused.retry_after_s == pytest.approx(1.0)  # the event at T0 leaves at T0 + 10
    assert (await store.hit("c", limit, 1, T0 + 10.5)).allowed
    # Two more need the T0+4 and T0+8 events gone: wait until T0 + 18.
    two = await store.hit("c", limit, 2, T0 + 11)
    assert not two.allowed and two.retry_after_s == pytest.approx(7.0)
    assert (await store.hit("c", limit, 2, T0 + 18.01)).allowed


async def test_gcra_allows_a_burst_then_one_per_interval(store: CounterStore) -> None:
    limit = Limit(Strategy.GCRA, 4, 8.0)  # one per 2 s, bursts of 4
    assert await hits(store, "c", limit, 5, T0) == [True] * 4 + [False]
    refused = await store.hit("c", limit, 1, T0)
    assert refused.retry_after_s == pytest.approx(2.0) and refused.remaining == 0
    assert refused.reset_s == pytest.approx(8.0)
    assert await hits(store, "c", limit, 2, T0 + 2.0) == [True, False]
    rested = await store.hit("c", limit, 1, T0 + 100.0)
    assert rested.allowed and rested.remaining == 3


async def test_check_without_consuming_changes_nothing(store: CounterStore) -> None:
    for strategy in Strategy:
        limit = Limit(strategy, 2, 60.0)
        counter = f"peek-{strategy.value}"
        for _ in range(5):
            peek = await store.hit(counter, limit, 1, T0, consume=False)
            assert peek.allowed and peek.remaining == 2, strategy
        assert await hits(store, counter, limit, 3, T0) == [True, True, False], strategy


async def test_counters_are_separate_and_reset_by_fragment(store: CounterStore) -> None:
    limit = Limit(Strategy.FIXED_WINDOW, 1, 60.0)
    a, b = "rule|remote_address=10.0.0.1", "rule|remote_address=10.0.0.2"
    assert (await store.hit(a, limit, 1, T0)).allowed
    assert (await store.hit(b, limit, 1, T0)).allowed
    assert not (await store.hit(a, limit, 1, T0)).allowed
    assert await store.reset("remote_address=10.0.0.1") == 1
    assert (await store.hit(a, limit, 1, T0)).allowed
    assert not (await store.hit(b, limit, 1, T0)).allowed
    assert await store.clear() == 2
    assert (await store.hit(b, limit, 1, T0)).allowed


@pytest.mark.parametrize("strategy", list(Strategy))
async def test_200_concurrent_decisions_never_admit_beyond_the_limit(store: CounterStore, strategy: Strategy) -> None:
    limit = Limit(strategy, 50, 3600.0)
    results = await asyncio.gather(*(store.hit(f"burst-{strategy.value}", limit, 1, T0) for _ in range(200)))
    assert sum(d.allowed for d in results) == 50
