"""Group commit: the events of concurrent ingest calls are written together, in one transaction.

Each call hands its (checked) events to :meth:`Ingestor.submit` (or, as columns, :meth:`Ingestor.submit_columns`)
and waits. A writer task takes what has gathered — after waiting ``linger_s`` for company when it finds
less than a full group — and writes it with one :meth:`EventStore.record_columns`; every waiting call is
then answered with the ids it stored. So a call is answered only once its events are committed, and a
thousand single-event calls cost a handful of transactions, not a thousand.

``writers`` tasks may write at once (each its own group, its own transaction): while one group is in the
database, the next one gathers and is written beside it, so the service's work and the database's overlap.
An id keeps belonging to the first call that named it: a group that names an id of a group still being
written waits for that write before its own.

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
from services.analytics.domain.batch import EventColumns
from services.analytics.domain.model import Event
from services.analytics.ports import EventStore

log = structlog.get_logger(__name__)


@dataclass
class _Call:
    events: EventColumns
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
        writers: int = 1,
    ):
        if max_group_events < 1 or max_pending_events < max_group_events:
            raise ValueError("need 1 ≤ max_group_events ≤ max_pending_events")
        if writers < 1:
            raise ValueError("need at least one writer")
        self._store = store
        self._linger_s = linger_s
        self._max_group = max_group_events
        self._max_pending = max_pending_events
        self._retry_after_ms = retry_after_ms
        self._queue: deque[_Call] = deque()
        self._pending = 0
        #: Events of the calls in the queue (not yet taken by a writer).
        self._queued = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._writers = writers
        self._tasks: list[asyncio.Task[None]] = []
        #: The ids of each group being written, and what is set once it is.
        self._in_flight: list[tuple[set[str], asyncio.Event]] = []
        self._groups = self._stored = self._refused = 0

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"analytics-group-commit-{n}") for n in range(self._writers)
            ]

    @property
    def stats(self) -> IngestStats:
        return IngestStats(self._groups, self._stored, self._refused, self._pending)

    async def submit(self, events: Sequence[Event]) -> set[str]:
        """Write ``events`` (distinct ids) with whatever else is waiting; the ids this call stored."""
        return await self.submit_columns(EventColumns.of(events))

    async def submit_columns(self, events: EventColumns) -> set[str]:
        """:meth:`submit` for events as columns."""
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
        self._queued += len(events)
        self._wake.set()
        # A caller that gives up (deadline, cancel) does not take its events back: they are written anyway,
        # which a retry with the same ids then finds as duplicates.
        return await asyncio.shield(call.done)

    async def close(self) -> None:
        """Refuse new calls, write what waits, stop."""
        self._closing = True
        self._wake.set()
        if self._tasks:
            await asyncio.gather(*self._tasks)

    async def _run(self) -> None:
        while True:
            while not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            if self._linger_s and not self._closing and self._queued < self._max_group:
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
        self._queued -= size
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
        owned: list[Sequence[str]] = []
        parts: list[EventColumns] = []
        for call in group:
            ids = call.events.event_id
            if seen.isdisjoint(ids):  # the usual case: calls name ids of their own
                parts.append(call.events)
                seen.update(ids)
                owned.append(ids)
                continue
            mine = []
            keep = []
            for event_id in ids:
                fresh = event_id not in seen
                keep.append(fresh)
                if fresh:
                    seen.add(event_id)
                    mine.append(event_id)
            parts.append(call.events.select(keep))
            owned.append(mine)
        # ... and so does an earlier group still being written: its write comes first.
        earlier = [done for ids, done in self._in_flight if not seen.isdisjoint(ids)]
        written = asyncio.Event()
        entry = (seen, written)
        self._in_flight.append(entry)
        try:
            for done in earlier:
                await done.wait()
            stored = await self._store.record_columns(EventColumns.concat(parts))
        finally:
            self._in_flight.remove(entry)
            written.set()
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
