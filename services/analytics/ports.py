"""What the analytics domain needs from the outside: a store of events and their hourly rollups.

``services/analytics/adapters/sql.py`` implements it on SQLite and PostgreSQL,
``services/analytics/adapters/clickhouse.py`` on ClickHouse, ``services/analytics/tests/fake_store.py`` in
memory. ``services/analytics/tests/test_store.py`` is the contract all of them pass.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from services.analytics.domain.batch import EventColumns
from services.analytics.domain.model import Count, Dimension, Event, EventFilter, RankBy, RankedAsset


class EventStore(Protocol):
    """Raw events (ids unique) and their counts.

    Writes are atomic: what :meth:`record` stores, and the counts it adds, are committed together or not at
    all. A store that cannot be reached raises :class:`clearframe_runtime.errors.Unavailable`
    (``STORE_UNAVAILABLE``)."""

    async def record(self, events: Sequence[Event]) -> set[str]:
        """Store the events whose ids are not stored yet, and add them to the counts, in one transaction.
        The ids in ``events`` are distinct. Returns the ids stored by this call (the others were known:
        duplicates, left as they were — also when another writer stored them at the same moment)."""
        ...

    async def record_columns(self, events: EventColumns) -> set[str]:
        """:meth:`record` for events as columns: the same as ``record(events.events())``, without an
        object per event where the store can."""
        ...

    async def get_many(self, event_ids: Collection[str]) -> dict[str, Event]:
        """The stored events among these ids."""
        ...

    async def counts(self, where: EventFilter, by: frozenset[Dimension]) -> list[Count]:
        """Events matching ``where``, counted per event type and per value of each dimension in ``by``
        (humans and bots apart), exact for any time range. Groups without events are left out."""
        ...

    async def top_assets(self, where: EventFilter, rank_by: RankBy, min_views: int, limit: int) -> list[RankedAsset]:
        """The assets with events matching ``where``, each with its metrics (bots apart), that have at
        least ``min_views`` views and one counted event: the first ``limit`` in ``rank_by``'s order
        (:func:`services.analytics.domain.model.rank`), exact for any time range."""
        ...

    async def page(self, where: EventFilter, offset: int, limit: int) -> list[Event]:
        """Events matching ``where``, oldest first (event time, then id); ``ValueError`` for a negative offset."""
        ...

    async def purge(self, asset_id: str | None) -> int:
        """Delete the events (and counts) of one asset, or of all assets for ``None``; how many events."""
        ...

    async def drop_raw_before(self, day: datetime) -> int:
        """Delete the raw events of the UTC days before ``day`` (a UTC midnight) and forget their ids, keeping
        every count they added: counts over whole hours answer as before, :meth:`page` and :meth:`get_many`
        no longer find them, and their ids may be stored again. How many events were deleted;
        ``ValueError`` when ``day`` is not a UTC midnight."""
        ...
