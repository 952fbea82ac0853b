"""Group commit: the events of concurrent ingest calls are written together, in one transaction.

Each call hands its (checked) events to :meth:`Ingestor.submit` and waits. One writer task takes what has
gathered — after waiting ``linger_s`` for company when it finds less than a full group — and writes it with
one :meth:`EventStore.record`; every waiting call is then answered with the ids it stored. So a call is
answered only once its events are committed, and a thousand single-event calls cost a handful of
transactions, not a thousand.

Backpressure: at most ``max_pending`` events wait; a call that would go beyond is refused at once with
RESOURCE_EXHAUSTED (INGEST_BACKLOG_FULL, ``retry_after_ms`` in the metadata) and nothing of it is stored.

Failures: when a group's write fails, each call of the group is retried alone, so that one call whose
events the store cannot take fails by itself; a store that cannot write at all fails the calls with
UNAVAILABLE (STORE_UNAVAILABLE: nothing written, safe to retry with the same ids).

Shutdown: :meth:`close` refuses new calls (UNAVAILABLE, SHUTTING_DOWN), writes everything that waits, and
returns when it is written.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from clearframe_runtime.errors import DomainError, ResourceExhausted, Unavailable
from services.analytics.domain.model import Event
from services.analytics.ports import EventStore

log = structlog.get_logger(__name__)


@dataclass
class _Call:
    events: Sequence[Event]
    done: asyncio.Future[set[str]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(frozen=True)
class IngestStats:
    """Since start: transactions written, events stored, calls refused for backpressure."""

    groups: int
    stored: int
    refused: int
    pending: int


class Ingestor:
    def __init__(
        self,
        store: EventStore,
        *,
        linger_s: float = 0.002,
        max_group_events: int = 5000,
        max_pending_events: int = 50_000,
        retry_after_ms: int = 200,
    ):
        if max_group_events < 1 or max_pending_events < max_group_events:
            raise ValueError("need 1 ≤ max_group_events ≤ max_pending_events")
        self._store = store
        self._linger_s = linger_s
        self._max_group = max_group_events
        self._max_pending = max_pending_events
        self._retry_after_ms = retry_after_ms
        self._queue: deque[_Call] = deque()
        self._pending = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._groups = self._stored = self._refused = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="analytics-group-commit")

    @property
    def stats(self) -> IngestStats:
        return IngestStats(self._groups, self._stored, self._refused, self._pending)

    async def submit(self, events: Sequence[Event]) -> set[str]:
        """Write ``events`` (distinct ids) with whatever else is waiting; the ids this call stored."""
        if self._closing:
            raise Unavailable("the analytics service is shutting down; retry", reason="SHUTTING_DOWN")
        if not events:
            return set()
        if self._pending + len(events) > self._max_pending:
            self._refused += 1
            raise ResourceExhausted(
                f"{self._pending} events are waiting to be written; retry in {self._retry_after_ms} ms",
                reason="INGEST_BACKLOG_FULL",
                metadata={"retry_after_ms": str(self._retry_after_ms)},
            )
        if len(events) > self._max_group:
            raise ValueError(f"one call takes at most {self._max_group} events")
        self.start()
        call = _Call(events)
        self._queue.append(call)
        self._pending += len(events)
        self._wake.set()
        # A caller that gives up (deadline, cancel) does not take its events back: they are written anyway,
        # which a retry with the same ids then finds as duplicates.
        return await asyncio.shield(call.done)

    async def close(self) -> None:
        """Refuse new calls, write what waits, stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._queue:
                if self._closing:
                    return
                continue
            if self._linger_s and not self._closing and self._pending < self._max_group:
                await asyncio.sleep(self._linger_s)
            while self._queue:
                await self._write(self._take_group())

    def _take_group(self) -> list[_Call]:
        group: list[_Call] = []
        size = 0
        while self._queue and (not group or size + len(self._queue[0].events) <= self._max_group):
            call = self._queue.popleft()
            group.append(call)
            size += len(call.events)
        return group

    async def _write(self, group: list[_Call]) -> None:
        try:
            await self._write_together(group)
        except Exception as exc:
            if len(group) == 1:
                self._fail(group[0], exc)
            else:
                log.warning("group write failed; writing its calls one by one", calls=len(group), error=str(exc))
                for call in group:
                    try:
                        await self._write_together([call])
                    except Exception as alone:
                        self._fail(call, alone)
        finally:
            self._pending -= sum(len(call.events) for call in group)

    async def _write_together(self, group: list[_Call]) -> None:
        # The first call to name an id owns it; a later call of the same group finds it a duplicate.
        seen: set[str] = set()
        owned: list[list[str]] = []
        unique: list[Event] = []
        for call in group:
            ids = [event.event_id for event in call.events]
            if seen.isdisjoint(ids):  # the usual case: calls name ids of their own
                unique.extend(call.events)
                seen.update(ids)
                owned.append(ids)
                continue
            mine = []
            for event in call.events:
                if event.event_id not in seen:
                    seen.add(event.event_id)
                    mine.append(event.event_id)
                    unique.append(event)
            owned.append(mine)
        stored = await self._store.record(unique)
        self._groups += 1
        self._stored += len(stored)
        for call, ids in zip(group, owned, strict=True):
            if not call.done.done():
                call.done.set_result(stored.intersection(ids))

    def _fail(self, call: _Call, exc: Exception) -> None:
        if isinstance(exc, DomainError):
            error: DomainError = exc
        else:
            log.error("events not written", events=len(call.events), error=repr(exc))
            error = Unavailable("the event store could not write; nothing was stored", reason="STORE_UNAVAILABLE")
        if not call.done.done():
            call.done.set_exception(error)
