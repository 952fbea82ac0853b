"""The decision feed's watch streams: replay from a revision, then follow, with heartbeats.

Every decision and every failed scan is a row of the feed with a revision from the database (see
:meth:`services.scanner.moderation.ports.ModerationStore.write`). A stream is a cursor over that table:
it reads what lies after its cursor, sends it, and sleeps until something new may be there. Replay and
live events are the same reads, so nothing falls between them and nothing is sent twice. What wakes a
stream: this process's writes (:meth:`DecisionFeed.notify`, at once), else a poll every ``poll_s``
(writes of other scanner replicas), else its heartbeat interval.

A stream that reads slowly only holds its own cursor (gRPC flow control pauses it); the number of
streams per process is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import datetime

from clearframe_runtime.clock import Clock, utcnow
from clearframe_runtime.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from services.scanner.moderation.domain import FeedEvent, check_id
from services.scanner.moderation.ports import ModerationStore


@dataclass(frozen=True)
class Heartbeat:
    """Nothing new: the stream has delivered every matching event up to ``revision``."""

    revision: int
    sent_at: datetime


class Wakeup:
    """A broadcast "something changed" that no waiter can miss: a waiter takes the current generation
    *before* it reads, and waiting on it returns at once when a notification came in between."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def generation(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


async def _wait(generation: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(generation.wait(), max(timeout_s, 0.0))


class DecisionFeed:
    """Watch streams over the feed of a :class:`ModerationStore`."""

    def __init__(
        self,
        store: ModerationStore,
        *,
        poll_s: float = 1.0,
        heartbeat_s: float = 15.0,
        max_streams: int = 256,
        batch: int = 500,
        clock: Clock = utcnow,
        monotonic: Callable[[], float] | None = None,
    ):
        self._store = store
        self._poll_s = poll_s
        self._heartbeat_s = heartbeat_s
        self._max_streams = max_streams
        self._batch = batch
        self._clock = clock
        self._monotonic = monotonic
        self._wakeup = Wakeup()
        self._streams = 0

    @property
    def streams(self) -> int:
        """Watch streams open in this process."""
        return self._streams

    def notify(self) -> None:
        """Feed events were written by this process: wake every stream now."""
        self._wakeup.notify()

    def _now_s(self) -> float:
        return self._monotonic() if self._monotonic is not None else asyncio.get_running_loop().time()

    async def watch(self, since_revision: int, asset_id: str = "") -> AsyncGenerator[FeedEvent | Heartbeat, None]:
        """The events after ``since_revision`` (of ``asset_id`` when given), then live ones, forever. A
        refused request raises before the first message."""
        if since_revision < 0:
            raise InvalidArgument(
                "since_revision must be 0 or a revision seen", field="since_revision", reason="INVALID_REVISION"
            )
        if asset_id:
            check_id(asset_id, "asset_id", "INVALID_ASSET_ID")
        head = await self._store.latest_revision()
        if since_revision > head:
            raise FailedPrecondition(
                f"since_revision {since_revision} lies beyond the feed's current revision {head} (its database "
                "was replaced); resynchronise from since_revision=0",
                reason="REVISION_AHEAD",
                metadata={"current_revision": str(head)},
            )
        if self._streams >= self._max_streams:
            raise ResourceExhausted(
                f"too many watch streams on this replica (at most {self._max_streams}); retry later",
                reason="TOO_MANY_WATCHERS",
            )
        self._streams += 1
        cursor = since_revision
        try:
            caught_up = False
            heartbeat_due = self._now_s() + self._heartbeat_s
            while True:
                generation = self._wakeup.generation()  # before reading: a write after the read wakes us
                head = await self._store.latest_revision()
                if head > cursor:
                    events = await self._store.events_after(cursor, head, asset_id, self._batch)
                    for event in events:
                        yield event
                    if events:
                        heartbeat_due = self._now_s() + self._heartbeat_s
                    if len(events) == self._batch:
                        cursor = events[-1].revision
                        continue  # more of the replay waits
                    cursor = head  # everything up to head that matches was sent
                if not caught_up:
                    caught_up = True
                    yield Heartbeat(cursor, self._clock())
                    heartbeat_due = self._now_s() + self._heartbeat_s
                    continue
                now = self._now_s()
                if now >= heartbeat_due:
                    yield Heartbeat(cursor, self._clock())
                    heartbeat_due = now + self._heartbeat_s
                    continue
                await _wait(generation, min(self._poll_s, heartbeat_due - now))
        finally:
            self._streams -= 1
