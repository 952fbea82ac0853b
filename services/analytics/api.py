"""gRPC face of the analytics service: AnalyticsService (REST through the gateway).

Translates messages to the domain's records and back; permissions are applied before any of this runs
(:data:`clearframe_runtime.access.RULES`), errors become status by :mod:`clearframe_runtime.status`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import grpc
from google.api import httpbody_pb2
from google.protobuf import timestamp_pb2

from clearframe.analytics.v1 import analytics_service_pb2 as pb
from clearframe.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from clearframe_runtime.errors import InvalidArgument
from clearframe_runtime.principal import PrincipalCodec
from clearframe_runtime.protoconv import TIMESTAMP_SECONDS, timestamp, to_datetime
from clearframe_runtime.status import status_message
from services.analytics.domain.analytics import Analytics, BatchOutcome, Granularity
from services.analytics.domain.batch import DraftColumns
from services.analytics.domain.events import EventDraft
from services.analytics.domain.model import Event, EventFilter, EventType, Metrics, Platform, RankBy, TimeRange

#: The pingback's answer: a 1×1 transparent GIF.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
#: StreamRecordEvents lists at most this many refusals (and counts them all).
MAX_STREAM_ERRORS = 1000
#: Messages of one stream checked and queued for the group commit while the earlier ones are written.
STREAM_WINDOW = 4

_EVENT_TYPES = {
    pb.EVENT_TYPE_VIEW: EventType.VIEW,
    pb.EVENT_TYPE_PLAY: EventType.PLAY,
    pb.EVENT_TYPE_CLICK: EventType.CLICK,
}
_EVENT_TYPE_OF = {v: k for k, v in _EVENT_TYPES.items()}
_PLATFORMS = {
    pb.PLATFORM_WEB: Platform.WEB,
    pb.PLATFORM_SLACK: Platform.SLACK,
    pb.PLATFORM_DISCORD: Platform.DISCORD,
    pb.PLATFORM_TEAMS: Platform.TEAMS,
    pb.PLATFORM_TWITTER: Platform.TWITTER,
    pb.PLATFORM_FACEBOOK: Platform.FACEBOOK,
    pb.PLATFORM_OTHER: Platform.OTHER,
}
_PLATFORM_OF = {v: k for k, v in _PLATFORMS.items()}
_GRANULARITY = {
    pb.GRANULARITY_UNSPECIFIED: Granularity.HOUR,
    pb.GRANULARITY_HOUR: Granularity.HOUR,
    pb.GRANULARITY_DAY: Granularity.DAY,
}
_RANK_BY = {
    pb.METRIC_UNSPECIFIED: RankBy.VIEWS,
    pb.METRIC_VIEWS: RankBy.VIEWS,
    pb.METRIC_PLAYS: RankBy.PLAYS,
    pb.METRIC_CLICKS: RankBy.CLICKS,
    pb.METRIC_CTR: RankBy.CTR,
    pb.METRIC_PLAY_RATE: RankBy.PLAY_RATE,
}


#: Wire value → domain name ("" for unset), looked up once per event.
_EVENT_TYPE_NAMES: dict[int, str] = {0: "", **{k: v.value for k, v in _EVENT_TYPES.items()}}
_PLATFORM_NAMES: dict[int, str] = {0: "", **{k: v.value for k, v in _PLATFORMS.items()}}


def _name(names: Mapping[int, str], value: int) -> str:
    """The domain's name of an enum value; "" for unset, the number itself for one this build does not know."""
    known = names.get(value)
    return known if known is not None else str(value)


def _time(stamp: timestamp_pb2.Timestamp, field: str, reason: str) -> datetime:
    try:
        return to_datetime(stamp)
    except (ValueError, OverflowError) as exc:
        raise InvalidArgument(f"{field} is not a representable time", field=field, reason=reason) from exc


def draft_of(event: pb.Event) -> EventDraft:
    event_type = _EVENT_TYPE_NAMES.get(event.event_type)
    platform = _PLATFORM_NAMES.get(event.platform)
    return EventDraft(
        asset_id=event.asset_id,
        event_type=event_type if event_type is not None else str(event.event_type),
        platform=platform if platform is not None else str(event.platform),
        event_id=event.event_id,
        short_code=event.short_code,
        event_time=_time(event.event_time, "event_time", "INVALID_EVENT_TIME")
        if event.HasField("event_time")
        else None,
        attributes=dict(event.attributes),
        user_agent=event.user_agent,
    )


def _names_of(names: Mapping[int, str], values: list[int]) -> list[str]:
    """:func:`_name` of each value."""
    known = list(map(names.get, values))
    if None in known:
        return [_name(names, value) for value in values]
    return known  # type: ignore[return-value]  # no None left


def draft_columns(batch: Sequence[pb.Event]) -> DraftColumns | None:
    """The batch as columns, each field read for all events at once; ``None`` when an event time is not
    the plain case :func:`to_datetime` reads without ``ToDatetime`` (read event by event: :func:`draft_of`).
    The same drafts as :func:`draft_of` gives, event by event."""
    events = list(batch)  # the message's wrappers, made once
    stamps = [event.event_time for event in events]
    seconds = [stamp.seconds for stamp in stamps]
    nanos = [stamp.nanos for stamp in stamps]
    if (
        min(seconds) < TIMESTAMP_SECONDS[0]
        or max(seconds) > TIMESTAMP_SECONDS[1]
        or min(nanos) < 0
        or max(nanos) >= 1_000_000_000
    ):
        return None
    # Microseconds (truncated, as to_datetime keeps them); 0 may be the epoch or an unset time.
    times: list[int | None] = [s * 1_000_000 + n // 1000 for s, n in zip(seconds, nanos, strict=True)]
    if 0 in times:
        times = [at if at or event.HasField("event_time") else None for at, event in zip(times, events, strict=True)]
    return DraftColumns(
        event_id=[event.event_id for event in events],
        asset_id=[event.asset_id for event in events],
        event_type=_names_of(_EVENT_TYPE_NAMES, [event.event_type for event in events]),
        platform=_names_of(_PLATFORM_NAMES, [event.platform for event in events]),
        short_code=[event.short_code for event in events],
        event_time_us=times,
        # Pairs read key by key: the map's items() is a Python-level view, slower by half.
        attributes=[tuple([(key, pairs[key]) for key in pairs]) for pairs in [event.attributes for event in events]],
        user_agent=[event.user_agent for event in events],
    )


def time_range_of(message: pb.TimeRange, field: str = "time_range") -> TimeRange:
    start = (
        _time(message.start_time, f"{field}.start_time", "INVALID_TIME_RANGE")
        if message.HasField("start_time")
        else None
    )
    end = _time(message.end_time, f"{field}.end_time", "INVALID_TIME_RANGE") if message.HasField("end_time") else None
    return TimeRange(start, end)


def _platform_filter(value: int) -> Platform | None:
    if value == pb.PLATFORM_UNSPECIFIED:
        return None
    platform: Platform | None = _PLATFORMS.get(value)  # type: ignore[call-overload]  # unknown: refused below
    if platform is None:
        raise InvalidArgument(f"unknown platform value {value}", field="platform", reason="INVALID_PLATFORM")
    return platform


def event_message(event: Event) -> pb.Event:
    return pb.Event(
        event_id=event.event_id,
        asset_id=event.asset_id,
        event_type=_EVENT_TYPE_OF[event.event_type],
        platform=_PLATFORM_OF[event.platform],
        short_code=event.short_code,
        event_time=timestamp(event.event_time),
        attributes=dict(event.attributes),
        receive_time=timestamp(event.receive_time),
        user_agent=event.user_agent,
        bot=event.bot,
    )


def metrics_message(metrics: Metrics) -> pb.Metrics:
    return pb.Metrics(
        views=metrics.views,
        plays=metrics.plays,
        clicks=metrics.clicks,
        ctr=metrics.ctr,
        play_rate=metrics.play_rate,
        total_events=metrics.total_events,
        bot_events=metrics.bot_events,
    )


def asset_metrics_message(asset_id: str, metrics: Metrics) -> pb.AssetMetrics:
    return pb.AssetMetrics(
        asset_id=asset_id,
        views=metrics.views,
        plays=metrics.plays,
        clicks=metrics.clicks,
        ctr=metrics.ctr,
        play_rate=metrics.play_rate,
        total_events=metrics.total_events,
        bot_events=metrics.bot_events,
    )


def _sum_up(answer: pb.StreamRecordEventsResponse, recorded: tuple[BatchOutcome, list[pb.EventError]]) -> None:
    """Add one stream message's outcome to the stream's answer."""
    outcome, errors = recorded
    answer.recorded_count += len(outcome.stored_ids)
    answer.duplicate_count += outcome.duplicates
    answer.bot_count += outcome.bots
    answer.error_count += len(errors)
    answer.errors.extend(errors[: max(0, MAX_STREAM_ERRORS - len(answer.errors))])


def _unheard(task: asyncio.Task[Any]) -> None:
    """A stream message written after its call ended: its outcome has no one to go to (read, so that asyncio
    does not report it)."""
    if not task.cancelled():
        task.exception()


class AnalyticsServicer(pb_grpc.AnalyticsServiceServicer):
    def __init__(self, analytics: Analytics, codec: PrincipalCodec):
        self._analytics = analytics
        self._codec = codec

    async def RecordEvent(self, request: pb.RecordEventRequest, context: grpc.aio.ServicerContext) -> Any:
        if not request.HasField("event"):
            raise InvalidArgument("event is required", field="event", reason="MISSING_EVENT")
        recorded = await self._analytics.record(draft_of(request.event))
        return pb.RecordEventResponse(event=event_message(recorded.event), duplicate=recorded.duplicate)

    async def _record_batch(
        self, events: Sequence[pb.Event], offset: int = 0
    ) -> tuple[BatchOutcome, list[pb.EventError]]:
        """Record one batch; its refusals as messages, indexed from ``offset`` (the stream's position)."""
        unreadable: dict[int, InvalidArgument] = {}
        columns = draft_columns(events) if events else None
        if columns is not None:
            outcome = await self._analytics.record_columns(columns)
        else:
            drafts: list[EventDraft] = []
            for index, event in enumerate(events):
                try:
                    drafts.append(draft_of(event))
                except InvalidArgument as exc:
                    # Unreadable on the wire (a time out of range): refused in its place, like the others.
                    unreadable[index] = exc
                    drafts.append(EventDraft(asset_id="", event_type="", event_id=event.event_id))
            outcome = await self._analytics.record_batch(drafts)
        errors = {e.index: e.error for e in outcome.errors} | unreadable
        messages = []
        for index in sorted(errors):
            error = errors[index]
            error.metadata["index"] = str(offset + index)
            messages.append(
                pb.EventError(index=offset + index, event_id=events[index].event_id, error=status_message(error))
            )
        return outcome, messages

    async def BatchRecordEvents(self, request: pb.BatchRecordEventsRequest, context: grpc.aio.ServicerContext) -> Any:
        outcome, errors = await self._record_batch(request.events)
        return pb.BatchRecordEventsResponse(
            recorded_count=len(outcome.stored_ids),
            duplicate_count=outcome.duplicates,
            event_ids=outcome.stored_ids,
            errors=errors,
            bot_count=outcome.bots,
        )

    async def StreamRecordEvents(
        self, request_iterator: AsyncIterator[pb.StreamRecordEventsRequest], context: grpc.aio.ServicerContext
    ) -> Any:
        """Each message becomes a batch queued for the group commit in stream order, up to
        :data:`STREAM_WINDOW` of them at once, so one stream keeps the writers as busy as that many
        callers of BatchRecordEvents would, instead of waiting for each commit to read on. Queued in order,
        an id a later message repeats is that message's duplicate, as if written one after the other. At
        the first message that fails (oversized, backlog full, store down) the stream reads no further and
        the call ends with that message's error once the messages before it are written; the up to
        ``STREAM_WINDOW - 1`` read after it may be stored too (a retry with the same ids skips them)."""
        answer = pb.StreamRecordEventsResponse()
        offset = 0
        window: deque[asyncio.Task[tuple[BatchOutcome, list[pb.EventError]]]] = deque()
        reading: asyncio.Future[pb.StreamRecordEventsRequest | None] = asyncio.ensure_future(
            anext(request_iterator, None)
        )
        try:
            while True:
                # Woken by the next message or by a write that ended (a failure ends the call at once).
                waited: list[asyncio.Future[Any]] = [reading, *(task for task in window if not task.done())]
                await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
                if any(task.done() and task.exception() is not None for task in window):
                    break
                while window and window[0].done():
                    _sum_up(answer, window.popleft().result())
                if not reading.done():
                    continue
                message = reading.result()
                if message is None:
                    break
                if message.events:
                    window.append(asyncio.ensure_future(self._record_batch(message.events, offset)))
                    offset += len(message.events)
                    if len(window) >= STREAM_WINDOW:
                        _sum_up(answer, await window.popleft())
                reading = asyncio.ensure_future(anext(request_iterator, None))
            # In stream order: the messages before a failing one are written, then its error ends the call.
            while window:
                _sum_up(answer, await window.popleft())
        finally:
            reading.cancel()
            for task in window:  # the call ended early: these still write (their events are queued)
                task.add_done_callback(_unheard)
        return answer

    async def Pingback(self, request: pb.PingbackRequest, context: grpc.aio.ServicerContext) -> Any:
        metadata = {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
        draft = EventDraft(
            asset_id=request.asset_id,
            event_type=_name(_EVENT_TYPE_NAMES, request.event_type),
            platform=_name(_PLATFORM_NAMES, request.platform),
            event_id=request.event_id,
            short_code=request.short_code,
            user_agent=metadata.get("user-agent", "")[:1024],
        )
        recorded = await self._analytics.pingback(draft, self._codec.caller(context).client_ip)
        await context.send_initial_metadata(
            (
                ("cache-control", "no-store"),
                ("x-clearframe-pingback", "duplicate" if recorded.duplicate else "recorded"),
            )
        )
        return httpbody_pb2.HttpBody(content_type="image/gif", data=PIXEL)

    async def ListEvents(self, request: pb.ListEventsRequest, context: grpc.aio.ServicerContext) -> Any:
        if request.event_type and request.event_type not in _EVENT_TYPES:
            raise InvalidArgument(
                f"unknown event_type value {request.event_type}", field="event_type", reason="INVALID_EVENT_TYPE"
            )
        where = EventFilter(
            asset_id=request.asset_id,
            short_code=request.short_code,
            event_type=_EVENT_TYPES.get(request.event_type),
            platform=_platform_filter(request.platform),
            time_range=time_range_of(request.time_range),
        )
        events, token = await self._analytics.list_events(where, request.page_size, request.page_token)
        return pb.ListEventsResponse(events=[event_message(e) for e in events], next_page_token=token)

    async def GetAssetMetrics(self, request: pb.GetAssetMetricsRequest, context: grpc.aio.ServicerContext) -> Any:
        metrics = await self._analytics.asset_metrics(request.asset_id, time_range_of(request.time_range))
        return pb.GetAssetMetricsResponse(metrics=asset_metrics_message(request.asset_id, metrics))

    async def GetPlatformMetrics(self, request: pb.GetPlatformMetricsRequest, context: grpc.aio.ServicerContext) -> Any:
        platforms = await self._analytics.platform_metrics(request.asset_id, time_range_of(request.time_range))
        return pb.GetPlatformMetricsResponse(
            asset_id=request.asset_id,
            platforms=[
                pb.PlatformMetrics(platform=_PLATFORM_OF[platform], metrics=metrics_message(metrics))
                for platform, metrics in platforms
            ],
        )

    async def GetShortLinkMetrics(
        self, request: pb.GetShortLinkMetricsRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        asset_id, metrics = await self._analytics.short_link_metrics(
            request.short_code, time_range_of(request.time_range)
        )
        return pb.GetShortLinkMetricsResponse(
            short_code=request.short_code, asset_id=asset_id, metrics=metrics_message(metrics)
        )

    async def ListTopAssets(self, request: pb.ListTopAssetsRequest, context: grpc.aio.ServicerContext) -> Any:
        if request.metric not in _RANK_BY:
            raise InvalidArgument(f"unknown metric value {request.metric}", field="metric", reason="INVALID_METRIC")
        ranked, token = await self._analytics.top_assets(
            _RANK_BY[request.metric],
            platform=_platform_filter(request.platform),
            time_range=time_range_of(request.time_range),
            min_views=request.min_views,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListTopAssetsResponse(
            assets=[asset_metrics_message(r.asset_id, r.metrics) for r in ranked], next_page_token=token
        )

    async def GetAssetTimeSeries(self, request: pb.GetAssetTimeSeriesRequest, context: grpc.aio.ServicerContext) -> Any:
        granularity = _GRANULARITY.get(request.granularity)
        if granularity is None:
            raise InvalidArgument(
                f"unknown granularity value {request.granularity}", field="granularity", reason="INVALID_GRANULARITY"
            )
        buckets = await self._analytics.time_series(
            request.asset_id,
            granularity,
            time_range_of(request.time_range),
            platform=_platform_filter(request.platform),
            short_code=request.short_code,
        )
        return pb.GetAssetTimeSeriesResponse(
            asset_id=request.asset_id,
            granularity=pb.GRANULARITY_DAY if granularity is Granularity.DAY else pb.GRANULARITY_HOUR,
            buckets=[pb.TimeSeriesBucket(start_time=timestamp(at), metrics=metrics_message(m)) for at, m in buckets],
        )

    async def PurgeEvents(self, request: pb.PurgeEventsRequest, context: grpc.aio.ServicerContext) -> Any:
        deleted = await self._analytics.purge(request.asset_id, request.all)
        return pb.PurgeEventsResponse(deleted_count=deleted)
