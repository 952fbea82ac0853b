"""The analytics use cases: recording events (one, or a batch with per-event errors) and the metrics read
from the store's counts.

Nothing here imports grpc or generated code; the servicer translates between this and the wire.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from itertools import compress

from clearframe_runtime.clock import Clock
from clearframe_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from clearframe_runtime.pagination import decode_page_token, encode_page_token, page_size
from services.analytics.domain.batch import DraftColumns, check_columns
from services.analytics.domain.events import EventDraft, Limits, check_asset_id, check_event, check_short_code
from services.analytics.domain.ingest import Ingestor
from services.analytics.domain.model import (
    PLATFORM_ORDER,
    Count,
    Dimension,
    Event,
    EventFilter,
    EventType,
    Metrics,
    Platform,
    RankBy,
    RankedAsset,
    TimeRange,
)
from services.analytics.domain.pingback import PingbackLimiter
from services.analytics.domain.retention import RawRetention
from services.analytics.ports import EventStore

MAX_BATCH = 1000
#: Time series: the most buckets one answer has, and the default ranges.
MAX_BUCKETS = 1000
DEFAULT_HOURS = timedelta(hours=24)
DEFAULT_DAYS = timedelta(days=30)
#: ListEvents pages: default and largest.
EVENTS_PAGE = (100, 1000)
#: ListTopAssets pages: default (seed 002's limit) and largest.
TOP_PAGE = (10, 100)


@dataclass(frozen=True)
class Recorded:
    """The answer to one recorded event: the stored event (the first one for a duplicate)."""

    event: Event
    duplicate: bool


@dataclass(frozen=True)
class BatchError:
    index: int
    event_id: str
    error: InvalidArgument


@dataclass(frozen=True)
class BatchOutcome:
    #: Ids stored by this call, in request order.
    stored_ids: list[str]
    duplicates: int
    errors: list[BatchError]
    #: How many of the stored events were bots'.
    bots: int


class Granularity(Enum):
    """Bucket size of a time series (UTC)."""

    HOUR = "hour"
    DAY = "day"

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self is Granularity.HOUR else timedelta(days=1)

    def floor(self, moment: datetime) -> datetime:
        hour = moment.replace(minute=0, second=0, microsecond=0)
        return hour if self is Granularity.HOUR else hour.replace(hour=0)


def check_time_range(time_range: TimeRange, field: str = "time_range") -> TimeRange:
    if time_range.start is not None and time_range.end is not None and time_range.end < time_range.start:
        raise InvalidArgument(
            f"{field}.end_time is before {field}.start_time", field=field, reason="INVALID_TIME_RANGE"
        )
    return time_range


class Analytics:
    def __init__(
        self,
        store: EventStore,
        ingestor: Ingestor,
        *,
        clock: Clock,
        limits: Limits | None = None,
        ratio_min_views: int = 10,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        pingbacks: PingbackLimiter | None = None,
        retention: RawRetention | None = None,
    ):
        self._store = store
        self._ingestor = ingestor
        self._clock = clock
        limits = limits or Limits()
        self._retention = retention
        # An event older than the retention would land in a day that is dropped, its id soon forgotten.
        self._limits = replace(limits, max_age=min(limits.max_age, retention.max_age)) if retention else limits
        self._ratio_min_views = ratio_min_views
        self._new_id = new_id
        self._pingbacks = pingbacks

    # --- ingest ----------------------------------------------------------------------------------------

    async def record(self, draft: EventDraft) -> Recorded:
        event = check_event(draft, now=self._clock(), new_id=draft.event_id or self._new_id(), limits=self._limits)
        stored = await self._ingestor.submit([event])
        if event.event_id in stored:
            return Recorded(event, duplicate=False)
        first = (await self._store.get_many([event.event_id])).get(event.event_id, event)
        return Recorded(first, duplicate=True)

    async def pingback(self, draft: EventDraft, client_address: str) -> Recorded:
        """One VIEW (the default) or PLAY from the public tracking pixel, limited per client address."""
        if self._pingbacks is None:
            raise FailedPrecondition("the pingback route is switched off here", reason="PINGBACK_DISABLED")
        if draft.event_type not in ("", EventType.VIEW.value, EventType.PLAY.value):
            raise InvalidArgument(
                "a pingback records a view or a play; clicks are recorded by the share links",
                field="event_type",
                reason="INVALID_EVENT_TYPE",
            )
        # Checked before the limit: a malformed pixel costs its sender nothing of the quota.
        check_event(
            replace(draft, event_type=draft.event_type or EventType.VIEW.value),
            now=self._clock(),
            new_id="x",
            limits=self._limits,
        )
        self._pingbacks.admit(client_address)
        return await self.record(replace(draft, event_type=draft.event_type or EventType.VIEW.value))

    @staticmethod
    def _check_size(events: int) -> None:
        if not events:
            raise InvalidArgument("a batch needs at least one event", field="events", reason="NO_EVENTS")
        if events > MAX_BATCH:
            raise InvalidArgument(
                f"at most {MAX_BATCH} events per batch (got {events}); split it",
                field="events",
                reason="TOO_MANY_EVENTS",
                metadata={"max_events": str(MAX_BATCH)},
            )

    async def record_batch(self, drafts: Sequence[EventDraft]) -> BatchOutcome:
        self._check_size(len(drafts))
        now = self._clock()
        return await self._record_drafts(drafts, [d.event_id or self._new_id() for d in drafts], now)

    async def record_columns(self, drafts: DraftColumns) -> BatchOutcome:
        """:meth:`record_batch` for a batch as columns: checked a column at a time (one pass per rule,
        no object per event); a batch with a refusal anywhere is judged event by event, with the same
        answer as :meth:`record_batch` would give it."""
        self._check_size(len(drafts))
        now = self._clock()
        sent = drafts.event_id
        ids = [event_id or self._new_id() for event_id in sent] if "" in sent else sent
        events = check_columns(drafts, ids=ids, now=now, limits=self._limits)
        if events is None:
            return await self._record_drafts(drafts.drafts(), ids, now)
        stored = await self._ingestor.submit_columns(events)
        if len(stored) == len(events):
            return BatchOutcome(stored_ids=list(ids), duplicates=0, errors=[], bots=sum(events.bot))
        kept = [event_id in stored for event_id in ids]
        return BatchOutcome(
            stored_ids=list(compress(ids, kept)),
            duplicates=len(events) - len(stored),
            errors=[],
            bots=sum(compress(events.bot, kept)),
        )

    async def _record_drafts(self, drafts: Sequence[EventDraft], ids: Sequence[str], now: datetime) -> BatchOutcome:
        """The batch judged event by event, received at ``now``; ``ids[i]`` is the id of ``drafts[i]``
        (the one it was sent with, or the one chosen for it)."""
        events: list[Event] = []
        errors: list[BatchError] = []
        seen: set[str] = set()
        repeated = 0
        for index, (draft, event_id) in enumerate(zip(drafts, ids, strict=True)):
            try:
                event = check_event(draft, now=now, new_id=event_id, limits=self._limits)
            except InvalidArgument as exc:
                exc.metadata["index"] = str(index)
                errors.append(BatchError(index, draft.event_id, exc))
                continue
            if event.event_id in seen:
                repeated += 1
                continue
            seen.add(event.event_id)
            events.append(event)
        stored = await self._ingestor.submit(events)
        kept = [e for e in events if e.event_id in stored]
        return BatchOutcome(
            stored_ids=[e.event_id for e in kept],
            duplicates=repeated + len(events) - len(kept),
            errors=errors,
            bots=sum(e.bot for e in kept),
        )

    # --- metrics ---------------------------------------------------------------------------------------

    def _counted(self, time_range: TimeRange) -> TimeRange:
        """The range the counts are asked for: checked, and each end before the raw retention's horizon
        widened to its whole hour (the raw events of its partial hour are gone: :mod:`.retention`)."""
        check_time_range(time_range)
        return self._retention.widen(time_range, self._clock()) if self._retention else time_range

    async def asset_metrics(self, asset_id: str, time_range: TimeRange) -> Metrics:
        where = EventFilter(asset_id=check_asset_id(asset_id), time_range=self._counted(time_range))
        return Metrics.of(await self._store.counts(where, frozenset()))

    async def platform_metrics(self, asset_id: str, time_range: TimeRange) -> list[tuple[Platform, Metrics]]:
        where = EventFilter(asset_id=check_asset_id(asset_id), time_range=self._counted(time_range))
        per: dict[Platform, list[Count]] = defaultdict(list)
        for count in await self._store.counts(where, frozenset({Dimension.PLATFORM})):
            assert count.platform is not None
            per[count.platform].append(count)
        return [(platform, Metrics.of(per[platform])) for platform in PLATFORM_ORDER if platform in per]

    async def short_link_metrics(self, short_code: str, time_range: TimeRange) -> tuple[str, Metrics]:
        """(the asset the link points to, its metrics); NOT_FOUND for a code no event ever carried."""
        code = check_short_code(short_code)
        time_range = self._counted(time_range)
        by_asset = frozenset({Dimension.ASSET})
        counts = await self._store.counts(EventFilter(short_code=code, time_range=time_range), by_asset)
        known = counts or await self._store.counts(EventFilter(short_code=code), by_asset)
        if not known:
            raise NotFound(f"no events carry the short code {code!r}", reason="SHORT_LINK_NOT_FOUND")
        # A code points at one asset; should events name several, the one with most events is reported.
        events_of: dict[str, int] = defaultdict(int)
        for count in known:
            events_of[count.asset_id] += count.humans + count.bots
        asset_id = min(events_of, key=lambda a: (-events_of[a], a))
        return asset_id, Metrics.of(counts)

    def ratio_floor(self, rank_by: RankBy, min_views: int) -> int:
        """Fewest views an asset needs to be ranked (see ListTopAssetsRequest.min_views)."""
        if min_views < 0:
            raise InvalidArgument("min_views must not be negative", field="min_views", reason="INVALID_MIN_VIEWS")
        if min_views:
            return min_views
        return self._ratio_min_views if rank_by.is_ratio else 0

    async def top_assets(
        self,
        rank_by: RankBy,
        *,
        platform: Platform | None,
        time_range: TimeRange,
        min_views: int,
        requested_page_size: int,
        page_token: str,
    ) -> tuple[list[RankedAsset], str]:
        counted = self._counted(time_range)
        floor = self.ratio_floor(rank_by, min_views)
        size = page_size(requested_page_size, default=TOP_PAGE[0], maximum=TOP_PAGE[1])
        filters = ("top", rank_by.value, platform, time_range, floor)
        offset = decode_page_token(page_token, filters)
        where = EventFilter(platform=platform, time_range=counted)
        # One more than the page: whether another page follows.
        ranked = await self._store.top_assets(where, rank_by, floor, offset + size + 1)
        page = ranked[offset : offset + size]
        more = len(ranked) > offset + size
        return page, encode_page_token(offset + size, filters) if more else ""

    async def time_series(
        self,
        asset_id: str,
        granularity: Granularity,
        time_range: TimeRange,
        *,
        platform: Platform | None = None,
        short_code: str = "",
    ) -> list[tuple[datetime, Metrics]]:
        """Every bucket (hour, or UTC day) of the range, oldest first, with its metrics (zeros included)."""
        check_asset_id(asset_id)
        if short_code:
            check_short_code(short_code)
        end = time_range.end or self._clock()
        start = time_range.start or end - (DEFAULT_HOURS if granularity is Granularity.HOUR else DEFAULT_DAYS)
        time_range = self._counted(TimeRange(start, end))
        first, last = granularity.floor(start), granularity.floor(end)
        buckets = int((last - first) / granularity.step) + 1
        if buckets > MAX_BUCKETS:
            raise InvalidArgument(
                f"{buckets} buckets; at most {MAX_BUCKETS}: narrow the range or use a coarser granularity",
                field="time_range",
                reason="TOO_MANY_BUCKETS",
            )
        where = EventFilter(asset_id=asset_id, short_code=short_code, platform=platform, time_range=time_range)
        per: dict[datetime, list[Count]] = defaultdict(list)
        for count in await self._store.counts(where, frozenset({Dimension.HOUR})):
            assert count.hour is not None
            per[granularity.floor(count.hour)].append(count)
        moments = (first + i * granularity.step for i in range(buckets))
        return [(moment, Metrics.of(per.get(moment, ()))) for moment in moments]

    # --- events ----------------------------------------------------------------------------------------

    async def list_events(
        self, where: EventFilter, requested_page_size: int, page_token: str
    ) -> tuple[list[Event], str]:
        if where.asset_id:
            check_asset_id(where.asset_id)
        if where.short_code:
            check_short_code(where.short_code)
        check_time_range(where.time_range)
        size = page_size(requested_page_size, default=EVENTS_PAGE[0], maximum=EVENTS_PAGE[1])
        filters = ("events", where)
        offset = decode_page_token(page_token, filters)
        events = await self._store.page(where, offset, size + 1)
        more = len(events) > size
        return events[:size], encode_page_token(offset + size, filters) if more else ""

    async def drop_expired_raw(self) -> int:
        """Drop the raw events of the days before the retention's horizon (their counts stay): how many;
        0 without a retention."""
        if self._retention is None:
            return 0
        return await self._store.drop_raw_before(self._retention.horizon(self._clock()))

    async def purge(self, asset_id: str, everything: bool) -> int:
        if asset_id:
            return await self._store.purge(check_asset_id(asset_id))
        if everything:
            return await self._store.purge(None)
        raise InvalidArgument(
            "name an asset_id, or set all: true to delete every event", field="asset_id", reason="MISSING_PURGE_SCOPE"
        )
