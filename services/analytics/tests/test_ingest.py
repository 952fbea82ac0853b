"""Group commit: concurrent calls share transactions, each is answered only after its write, the backlog
is bounded, a failing write fails only its own calls, and close() writes what waits."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from clearframe_runtime.errors import ResourceExhausted, Unavailable
from services.analytics.domain.ingest import Ingestor
from services.analytics.domain.model import Event, EventType, Platform
from services.analytics.tests.fake_store import MemoryEventStore

T0 = datetime(2026, 12, 2, 12, tzinfo=UTC)


def event(event_id: str, asset_id: str = "0123456789abcdef") -> Event:
    return Event(event_id, asset_id, EventType.VIEW, Platform.WEB, "", T0, T0)


class GatedStore(MemoryEventStore):
    """Holds every write until released, to see what gathers meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.calls: list[int] = []

    async def record(self, events: Sequence[Event]) -> set[str]:
        self.calls.append(len(events))
        await self.gate.wait()
        return await super().record(events)


async def test_concurrent_calls_are_written_in_few_transactions() -> None:
    store = MemoryEventStore()
    ingestor = Ingestor(store, linger_s=0.005)
    results = await asyncio.gather(*(ingestor.submit([event(f"e{n}")]) for n in range(200)))
    assert results == [{f"e{n}"} for n in range(200)]
    assert store.writes <= 3  # not 200
    assert ingestor.stats.stored == 200
    await ingestor.close()


async def test_a_call_is_answered_only_after_its_write() -> None:
    store = GatedStore()
    ingestor = Ingestor(store, linger_s=0)
    call = asyncio.create_task(ingestor.submit([event("e1")]))
    await asyncio.sleep(0.01)
    assert not call.done() and store.events == {}
    store.gate.set()
    assert await call == {"e1"} and "e1" in store.events
    await ingestor.close()


async def test_the_same_id_in_two_concurrent_calls_is_stored_once_for_the_first() -> None:
    store = MemoryEventStore()
    ingestor = Ingestor(store, linger_s=0.005)
    first, second = await asyncio.gather(ingestor.submit([event("x"), event("a")]), ingestor.submit([event("x")]))
    assert first == {"x", "a"} and second == set()
    await ingestor.close()


async def test_a_full_backlog_refuses_with_retry_advice_and_stores_nothing_of_the_call() -> None:
    store = GatedStore()
    ingestor = Ingestor(store, linger_s=0, max_group_events=1000, max_pending_events=1500, retry_after_ms=250)
    waiting = asyncio.create_task(ingestor.submit([event(f"a{n}") for n in range(1000)]))
    await asyncio.sleep(0.01)
    with pytest.raises(ResourceExhausted) as full:
        await ingestor.submit([event(f"b{n}") for n in range(501)])
    assert full.value.reason == "INGEST_BACKLOG_FULL" and full.value.metadata["retry_after_ms"] == "250"
    fits = asyncio.create_task(ingestor.submit([event(f"c{n}") for n in range(500)]))
    store.gate.set()
    assert len(await waiting) == 1000 and len(await fits) == 500
    assert not any(i.startswith("b") for i in store.events)
    assert ingestor.stats.refused == 1 and ingestor.stats.pending == 0
    await ingestor.close()


async def test_a_store_that_cannot_write_fails_the_calls_as_unavailable() -> None:
    store = MemoryEventStore()
    store.fail_with = ConnectionError("database gone")
    ingestor = Ingestor(store, linger_s=0)
    with pytest.raises(Unavailable) as failed:
        await ingestor.submit([event("e1")])
    assert failed.value.reason == "STORE_UNAVAILABLE"
    store.fail_with = None
    assert await ingestor.submit([event("e1")]) == {"e1"}  # the retry with the same id stores it
    await ingestor.close()


async def test_one_call_the_store_refuses_does_not_fail_the_others_of_its_group() -> None:
    class Picky(MemoryEventStore):
        async def record(self, events: Sequence[Event]) -> set[str]:
            if any(e.event_id == "poison" for e in events):
                raise ValueError("cannot store this one")
            return await super().record(events)

    store = Picky()
    ingestor = Ingestor(store, linger_s=0.005)
    results = await asyncio.gather(
        ingestor.submit([event("good1")]),
        ingestor.submit([event("poison")]),
        ingestor.submit([event("good2")]),
        return_exceptions=True,
    )
    assert results[0] == {"good1"} and results[2] == {"good2"}
    assert isinstance(results[1], Unavailable)
    await ingestor.close()


async def test_close_writes_what_waits_then_refuses_new_calls() -> None:
    store = GatedStore()
    ingestor = Ingestor(store, linger_s=0)
    calls = [asyncio.create_task(ingestor.submit([event(f"e{n}")])) for n in range(5)]
    await asyncio.sleep(0.01)
    closing = asyncio.create_task(ingestor.close())
    await asyncio.sleep(0.01)
    with pytest.raises(Unavailable) as refused:
        await ingestor.submit([event("late")])
    assert refused.value.reason == "SHUTTING_DOWN"
    store.gate.set()
    await closing
    assert [await c for c in calls] == [{f"e{n}"} for n in range(5)]
    assert set(store.events) == {f"e{n}" for n in range(5)}


async def test_a_caller_that_gives_up_still_gets_its_events_written() -> None:
    store = GatedStore()
    ingestor = Ingestor(store, linger_s=0)
    call = asyncio.create_task(ingestor.submit([event("e1")]))
    await asyncio.sleep(0.01)
    call.cancel()
    store.gate.set()
    await ingestor.close()
    assert "e1" in store.events
