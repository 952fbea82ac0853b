"""The servicer on a real in-process gRPC server with the mesh's interceptors (errors, access rules), on the
in-memory store: what the share-link service sends is accepted, refusals carry their ErrorInfo, and bad
wire values (unknown enum numbers, unrepresentable times) are refused per event."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.rpc import error_details_pb2

from clearframe.analytics.v1 import analytics_service_pb2 as pb
from clearframe.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from clearframe_runtime.access import AccessInterceptor
from clearframe_runtime.errors import Unavailable
from clearframe_runtime.principal import KIND_API_KEY, Principal, PrincipalCodec
from clearframe_runtime.protoconv import timestamp
from clearframe_runtime.status import ErrorInterceptor, error_info
from services.analytics.api import AnalyticsServicer
from services.analytics.domain.analytics import Analytics
from services.analytics.domain.batch import EventColumns
from services.analytics.domain.ingest import Ingestor
from services.analytics.domain.pingback import PingbackLimiter
from services.analytics.tests.fake_store import MemoryEventStore

SECRET = "test-secret-of-enough-length"
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
ASSET = "0123456789abcdef"
#: What the share-link service's identity carries (services/sharelinks/adapters/identity.py).
SHARELINKS = Principal(
    "service:sharelinks", KIND_API_KEY, frozenset({"scans.create", "moderation.read", "analytics.write"})
)
READER = Principal("k_reader", KIND_API_KEY, frozenset({"analytics.read"}))
ADMIN = Principal("k_admin", KIND_API_KEY, frozenset({"admin"}))


@dataclass
class Client:
    stub: pb_grpc.AnalyticsServiceStub
    store: MemoryEventStore
    ingestor: Ingestor

    def as_(self, principal: Principal) -> tuple[tuple[str, str], ...]:
        value, signature = PrincipalCodec(SECRET).encode(principal)
        return (("x-clearframe-principal", value), ("x-clearframe-principal-signature", signature))


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    store = MemoryEventStore()
    ingestor = Ingestor(store, linger_s=0.001, max_group_events=1000, max_pending_events=1000)
    analytics = Analytics(store, ingestor, clock=lambda: NOW, pingbacks=PingbackLimiter(3, clock=lambda: NOW))
    server = grpc.aio.server(interceptors=[ErrorInterceptor(), AccessInterceptor(PrincipalCodec(SECRET))])
    pb_grpc.add_AnalyticsServiceServicer_to_server(AnalyticsServicer(analytics, PrincipalCodec(SECRET)), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Client(pb_grpc.AnalyticsServiceStub(channel), store, ingestor)
    await server.stop(0)
    await ingestor.close()


def reason_of(exc: grpc.aio.AioRpcError) -> str:
    info = error_info(exc)
    assert info is not None
    reason: str = info.reason
    return reason


async def test_the_share_link_services_click_batch_is_accepted(client: Client) -> None:
    """The request services/sharelinks/adapters/analytics.py builds: uuid4 hex ids, CLICK, a platform, the
    code (custom slugs included), the click's time, the user agent (≤ 512 chars) as an attribute."""
    clicks = [
        pb.Event(
            event_id=uuid.uuid4().hex,
            asset_id=ASSET,
            event_type=pb.EVENT_TYPE_CLICK,
            platform=platform,
            short_code=code,
            event_time=timestamp(NOW - timedelta(seconds=30)),
            attributes={"user_agent": agent} if agent else {},
        )
        for platform, code, agent in [
            (pb.PLATFORM_SLACK, "Ab12Cd34", "Mozilla/5.0 (Macintosh) Safari/605.1.15"),
            (pb.PLATFORM_OTHER, "my-launch_2026", "M" * 512),
            (pb.PLATFORM_WEB, "Ab12Cd34", ""),
        ]
    ]
    request = pb.BatchRecordEventsRequest(events=clicks)
    answer = await client.stub.BatchRecordEvents(request, metadata=client.as_(SHARELINKS))
    assert (answer.recorded_count, answer.duplicate_count, list(answer.errors)) == (3, 0, [])
    assert list(answer.event_ids) == [c.event_id for c in clicks]
    # A lost answer makes it send the same batch again: counted once.
    again = await client.stub.BatchRecordEvents(request, metadata=client.as_(SHARELINKS))
    assert (again.recorded_count, again.duplicate_count) == (0, 3)
    metrics = await client.stub.GetShortLinkMetrics(
        pb.GetShortLinkMetricsRequest(short_code="Ab12Cd34"), metadata=client.as_(READER)
    )
    assert (metrics.asset_id, metrics.metrics.clicks) == (ASSET, 2)


async def test_permissions_are_those_of_the_contract(client: Client) -> None:
    event = pb.Event(asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW)
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await client.stub.RecordEvent(pb.RecordEventRequest(event=event))
    assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as reader:
        await client.stub.RecordEvent(pb.RecordEventRequest(event=event), metadata=client.as_(READER))
    assert reader.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as writer_reads:
        await client.stub.GetAssetMetrics(pb.GetAssetMetricsRequest(asset_id=ASSET), metadata=client.as_(SHARELINKS))
    assert writer_reads.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as purge:
        await client.stub.PurgeEvents(pb.PurgeEventsRequest(all=True), metadata=client.as_(READER))
    assert purge.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert (
        await client.stub.PurgeEvents(pb.PurgeEventsRequest(all=True), metadata=client.as_(ADMIN))
    ).deleted_count == 0


async def test_one_event_round_trips_and_a_duplicate_says_so(client: Client) -> None:
    event = pb.Event(
        event_id="evt-1",
        asset_id=ASSET,
        event_type=pb.EVENT_TYPE_PLAY,
        platform=pb.PLATFORM_DISCORD,
        attributes={"campaign": "launch"},
        user_agent="Discordbot/2.0",
    )
    first = await client.stub.RecordEvent(pb.RecordEventRequest(event=event), metadata=client.as_(SHARELINKS))
    assert not first.duplicate and first.event.bot and first.event.receive_time.ToDatetime(tzinfo=UTC) == NOW
    assert first.event.event_time == first.event.receive_time
    second = await client.stub.RecordEvent(pb.RecordEventRequest(event=event), metadata=client.as_(SHARELINKS))
    assert second.duplicate and second.event == first.event
    metrics = await client.stub.GetAssetMetrics(pb.GetAssetMetricsRequest(asset_id=ASSET), metadata=client.as_(READER))
    assert (metrics.metrics.plays, metrics.metrics.bot_events, metrics.metrics.total_events) == (0, 1, 0)


async def test_refusals_carry_their_reason(client: Client) -> None:
    write = client.as_(SHARELINKS)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await client.stub.RecordEvent(
            pb.RecordEventRequest(event=pb.Event(asset_id="nope", event_type=pb.EVENT_TYPE_VIEW)), metadata=write
        )
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT and reason_of(bad.value) == "INVALID_ASSET_ID"
    with pytest.raises(grpc.aio.AioRpcError) as big:
        events = [pb.Event(asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW)] * 1001
        await client.stub.BatchRecordEvents(pb.BatchRecordEventsRequest(events=events), metadata=write)
    assert reason_of(big.value) == "TOO_MANY_EVENTS"
    read = client.as_(READER)
    with pytest.raises(grpc.aio.AioRpcError) as metric:
        await client.stub.ListTopAssets(pb.ListTopAssetsRequest(metric=99), metadata=read)  # type: ignore[arg-type]
    assert reason_of(metric.value) == "INVALID_METRIC"
    with pytest.raises(grpc.aio.AioRpcError) as platform:
        await client.stub.ListEvents(pb.ListEventsRequest(platform=42), metadata=read)  # type: ignore[arg-type]
    assert reason_of(platform.value) == "INVALID_PLATFORM"
    inverted = pb.TimeRange(start_time=timestamp(NOW), end_time=timestamp(NOW - timedelta(seconds=1)))
    with pytest.raises(grpc.aio.AioRpcError) as timeframe:
        await client.stub.GetAssetMetrics(pb.GetAssetMetricsRequest(asset_id=ASSET, time_range=inverted), metadata=read)
    assert reason_of(timeframe.value) == "INVALID_TIME_RANGE"
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await client.stub.GetShortLinkMetrics(pb.GetShortLinkMetricsRequest(short_code="Zz99Yy88"), metadata=read)
    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND and reason_of(unknown.value) == "SHORT_LINK_NOT_FOUND"


async def test_batch_errors_name_each_bad_event_with_a_status(client: Client) -> None:
    far = pb.Event(asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW, event_id="far")
    far.event_time.seconds = 10**13  # beyond any datetime
    events = [
        pb.Event(asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW, event_id="ok"),
        pb.Event(asset_id=ASSET, event_type=7, event_id="newer-type"),  # type: ignore[arg-type]
        far,
        pb.Event(asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW, platform=12, event_id="newer-platform"),  # type: ignore[arg-type]
    ]
    answer = await client.stub.BatchRecordEvents(
        pb.BatchRecordEventsRequest(events=events), metadata=client.as_(SHARELINKS)
    )
    assert list(answer.event_ids) == ["ok"]
    found = []
    for error in answer.errors:
        assert error.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        info = error_details_pb2.ErrorInfo()
        assert error.error.details[0].Unpack(info)
        found.append((error.index, error.event_id, info.reason, info.metadata["index"]))
    assert found == [
        (1, "newer-type", "INVALID_EVENT_TYPE", "1"),
        (2, "far", "INVALID_EVENT_TIME", "2"),
        (3, "newer-platform", "INVALID_PLATFORM", "3"),
    ]


async def test_a_full_backlog_is_resource_exhausted_with_retry_advice(client: Client) -> None:
    # Fill the backlog by making the store wait: nothing is written while the gate is shut.
    gate = asyncio.Event()
    record = client.store.record

    async def slow(events: object) -> set[str]:
        await gate.wait()
        return await record(events)  # type: ignore[arg-type]

    client.store.record = slow  # type: ignore[method-assign]
    write = client.as_(SHARELINKS)
    batch = pb.BatchRecordEventsRequest(events=[pb.Event(asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW)] * 1000)
    first = asyncio.ensure_future(client.stub.BatchRecordEvents(batch, metadata=write))
    await asyncio.sleep(0.05)
    with pytest.raises(grpc.aio.AioRpcError) as full:
        await client.stub.BatchRecordEvents(
            pb.BatchRecordEventsRequest(events=[pb.Event(asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW)]),
            metadata=write,
        )
    assert full.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info(full.value)
    assert info is not None and info.reason == "INGEST_BACKLOG_FULL" and int(info.metadata["retry_after_ms"]) > 0
    gate.set()
    assert (await first).recorded_count == 1000


async def test_a_stream_of_batches_is_summed_up_with_errors_indexed_from_its_start(client: Client) -> None:
    def view(event_id: str, asset_id: str = ASSET) -> pb.Event:
        return pb.Event(event_id=event_id, asset_id=asset_id, event_type=pb.EVENT_TYPE_VIEW)

    async def messages() -> AsyncIterator[pb.StreamRecordEventsRequest]:
        yield pb.StreamRecordEventsRequest(events=[view("a"), view("b"), view("bad", asset_id="x")])
        yield pb.StreamRecordEventsRequest()  # empty messages are skipped
        yield pb.StreamRecordEventsRequest(events=[view("b"), view("c"), view("worse", asset_id="y")])

    answer = await client.stub.StreamRecordEvents(messages(), metadata=client.as_(SHARELINKS))
    assert (answer.recorded_count, answer.duplicate_count, answer.error_count) == (3, 1, 2)
    assert [(e.index, e.event_id) for e in answer.errors] == [(2, "bad"), (5, "worse")]
    assert set(client.store.events) == {"a", "b", "c"}


def views(prefix: str, n: int) -> pb.StreamRecordEventsRequest:
    return pb.StreamRecordEventsRequest(
        events=[pb.Event(event_id=f"{prefix}-{i}", asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW) for i in range(n)]
    )


async def test_a_stream_queues_its_next_messages_while_one_is_written(client: Client) -> None:
    gate = asyncio.Event()
    record = client.store.record_columns

    async def held(events: EventColumns) -> set[str]:
        await gate.wait()
        return await record(events)

    client.store.record_columns = held  # type: ignore[method-assign]

    async def messages() -> AsyncIterator[pb.StreamRecordEventsRequest]:
        for k in range(4):
            yield views(f"m{k}", 10)
        yield views("m0", 10)  # a later message repeating the first one's ids: its duplicates

    call = asyncio.ensure_future(client.stub.StreamRecordEvents(messages(), metadata=client.as_(SHARELINKS)))
    # Nothing is written while the gate is shut, yet the stream's first four messages are all queued.
    for _ in range(200):
        if client.ingestor.stats.pending == 40:
            break
        await asyncio.sleep(0.01)
    assert client.ingestor.stats.pending == 40 and not call.done()
    gate.set()
    answer = await call
    assert (answer.recorded_count, answer.duplicate_count) == (40, 10)
    assert len(client.store.events) == 40


async def test_a_stream_ends_at_its_first_failing_message_keeping_what_came_before(client: Client) -> None:
    async def messages() -> AsyncIterator[pb.StreamRecordEventsRequest]:
        yield views("before", 10)
        yield views("big", 1001)
        await asyncio.sleep(3600)  # never read: the call has ended
        yield views("after", 10)

    with pytest.raises(grpc.aio.AioRpcError) as big:
        await client.stub.StreamRecordEvents(messages(), metadata=client.as_(SHARELINKS))
    assert big.value.code() is grpc.StatusCode.INVALID_ARGUMENT and reason_of(big.value) == "TOO_MANY_EVENTS"
    assert set(client.store.events) == {f"before-{i}" for i in range(10)}


async def test_a_stream_whose_store_cannot_write_ends_unavailable_without_waiting_for_more(client: Client) -> None:
    async def down(events: EventColumns) -> set[str]:
        raise Unavailable("the event store could not write", reason="STORE_UNAVAILABLE")

    client.store.record_columns = down  # type: ignore[method-assign]

    async def messages() -> AsyncIterator[pb.StreamRecordEventsRequest]:
        yield views("lost", 10)
        await asyncio.sleep(3600)  # the producer sends nothing more: the failure alone ends the call
        yield views("never", 10)

    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await client.stub.StreamRecordEvents(messages(), metadata=client.as_(SHARELINKS), timeout=10)
    assert failed.value.code() is grpc.StatusCode.UNAVAILABLE and reason_of(failed.value) == "STORE_UNAVAILABLE"
    assert client.store.events == {}


async def test_a_stream_needs_analytics_write_and_refuses_oversized_messages(client: Client) -> None:
    async def one(n: int) -> AsyncIterator[pb.StreamRecordEventsRequest]:
        yield pb.StreamRecordEventsRequest(events=[pb.Event(asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW)] * n)

    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await client.stub.StreamRecordEvents(one(1), metadata=client.as_(READER))
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await client.stub.StreamRecordEvents(one(1))
    assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as big:
        await client.stub.StreamRecordEvents(one(1001), metadata=client.as_(SHARELINKS))
    assert big.value.code() is grpc.StatusCode.INVALID_ARGUMENT and reason_of(big.value) == "TOO_MANY_EVENTS"
    assert client.store.events == {}


async def test_the_pingback_pixel_records_views_and_plays_per_address_limit(client: Client) -> None:
    anonymous = client.as_(Principal("", "anonymous", frozenset(), "203.0.113.9"))
    call = client.stub.Pingback(pb.PingbackRequest(asset_id=ASSET, event_id="px-1"), metadata=anonymous)
    answer = await call
    assert answer.content_type == "image/gif" and answer.data.startswith(b"GIF89a")
    assert dict(await call.initial_metadata())["x-clearframe-pingback"] == "recorded"
    again = client.stub.Pingback(pb.PingbackRequest(asset_id=ASSET, event_id="px-1"), metadata=anonymous)
    await again
    assert dict(await again.initial_metadata())["x-clearframe-pingback"] == "duplicate"
    await client.stub.Pingback(
        pb.PingbackRequest(asset_id=ASSET, event_type=pb.EVENT_TYPE_PLAY, platform=pb.PLATFORM_TEAMS),
        metadata=anonymous,
    )
    # (The User-Agent deciding `bot` is checked through the gateway: gRPC clients set their own.)
    assert [(e.event_type.value, e.platform.value) for e in client.store.events.values()] == [
        ("view", "web"),
        ("play", "teams"),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as limited:  # the fourth load of this address in the minute
        await client.stub.Pingback(pb.PingbackRequest(asset_id=ASSET), metadata=anonymous)
    assert limited.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    other = client.as_(Principal("", "anonymous", frozenset(), "198.51.100.7"))
    with pytest.raises(grpc.aio.AioRpcError) as click:
        await client.stub.Pingback(pb.PingbackRequest(asset_id=ASSET, event_type=pb.EVENT_TYPE_CLICK), metadata=other)
    assert reason_of(click.value) == "INVALID_EVENT_TYPE"
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await client.stub.Pingback(pb.PingbackRequest(asset_id="x"), metadata=other)
    assert reason_of(bad.value) == "INVALID_ASSET_ID"
    assert len(client.store.events) == 2
