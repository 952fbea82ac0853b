"""The CLICK event sender against a real gRPC server standing in for analytics: batches, retries while
analytics is down, a bounded buffer, and everything left sent at shutdown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest

from clearframe.analytics.v1 import analytics_service_pb2 as pb
from clearframe.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from clearframe_runtime.principal import PrincipalCodec
from services.sharelinks.adapters.analytics import BufferedEventSender
from services.sharelinks.adapters.identity import ServiceIdentity
from services.sharelinks.domain.events import UsageEvent


class Analytics(pb_grpc.AnalyticsServiceServicer):
    """Keeps every event it is sent; answers ``failing`` while that is set."""

    def __init__(self) -> None:
        self.events: list[pb.Event] = []
        self.calls = 0
        self.failing: grpc.StatusCode | None = None

    async def BatchRecordEvents(
        self, request: pb.BatchRecordEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchRecordEventsResponse:
        self.calls += 1
        if self.failing is not None:
            await context.abort(self.failing, "not now")
        self.events.extend(request.events)
        return pb.BatchRecordEventsResponse(recorded_count=len(request.events))


@pytest.fixture
async def analytics() -> object:
    servicer = Analytics()
    server = grpc.aio.server()
    pb_grpc.add_AnalyticsServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, f"127.0.0.1:{port}"
    await server.stop(None)


def click(n: int) -> UsageEvent:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    return UsageEvent(f"e{n}", "CLICK", "0123456789abcdef", "slack", at, "agent", code="Code0000")


def sender(target: str, **options: object) -> BufferedEventSender:
    return BufferedEventSender(target, ServiceIdentity(PrincipalCodec("s" * 32)), interval_s=0.01, **options)  # type: ignore[arg-type]


async def until(condition: object, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_clicks_are_sent_in_batches_with_their_fields(analytics: tuple[Analytics, str]) -> None:
    servicer, target = analytics
    clicks = sender(target)
    task = asyncio.create_task(clicks.run())
    for n in range(1200):
        clicks.record(click(n))
    await until(lambda: len(servicer.events) == 1200)
    task.cancel()
    await clicks.close()
    assert servicer.calls <= 4  # batches of up to 500, not one call per click
    first = servicer.events[0]
    assert (first.event_id, first.event_type, first.platform, first.short_code) == (
        "e0",
        pb.EVENT_TYPE_CLICK,
        pb.PLATFORM_SLACK,
        "Code0000",
    )
    assert first.attributes["user_agent"] == "agent" and clicks.sent == 1200


async def test_clicks_wait_while_analytics_is_down_and_none_are_lost(analytics: tuple[Analytics, str]) -> None:
    servicer, target = analytics
    servicer.failing = grpc.StatusCode.UNAVAILABLE
    clicks = sender(target)
    task = asyncio.create_task(clicks.run())
    for n in range(50):
        clicks.record(click(n))
    await until(lambda: servicer.calls >= 2)
    assert clicks.buffered == 50 and servicer.events == []
    servicer.failing = None
    # Acknowledged, not only received: a batch whose answer had not arrived yet stays buffered, and the
    # close below would send it again (analytics skips the repeated ids; this fake keeps both copies).
    await until(lambda: clicks.buffered == 0, timeout_s=10)
    task.cancel()
    await clicks.close()
    assert [e.event_id for e in servicer.events] == [f"e{n}" for n in range(50)]


async def test_a_full_buffer_drops_the_oldest_and_counts_them(analytics: tuple[Analytics, str]) -> None:
    servicer, target = analytics
    servicer.failing = grpc.StatusCode.UNIMPLEMENTED
    clicks = sender(target, max_buffer=10)
    for n in range(25):
        clicks.record(click(n))
    assert (clicks.buffered, clicks.dropped) == (10, 15)
    servicer.failing = None
    await clicks.close()  # shutdown sends what is left
    assert [e.event_id for e in servicer.events] == [f"e{n}" for n in range(15, 25)]


async def test_a_refused_batch_is_dropped_not_retried_forever(analytics: tuple[Analytics, str]) -> None:
    servicer, target = analytics
    servicer.failing = grpc.StatusCode.INVALID_ARGUMENT
    clicks = sender(target)
    clicks.record(click(1))
    await clicks.close()
    assert (clicks.buffered, clicks.rejected, servicer.calls) == (0, 1, 1)


async def test_while_analytics_is_down_full_batches_do_not_trigger_sends(analytics: tuple[Analytics, str]) -> None:
    """The backoff alone paces the retries: clicks arriving meanwhile (beyond a batch) cost no send each."""
    servicer, target = analytics
    servicer.failing = grpc.StatusCode.UNAVAILABLE
    clicks = BufferedEventSender(target, ServiceIdentity(PrincipalCodec("s" * 32)), interval_s=0.2)
    task = asyncio.create_task(clicks.run())
    for n in range(600):
        clicks.record(click(n))  # a full batch: the first send, which fails
    await until(lambda: servicer.calls >= 1)
    for n in range(600, 3000):
        clicks.record(click(n))
        if n % 100 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0.1)
    assert servicer.calls <= 2  # not one per click past the batch size
    servicer.failing = None
    await until(lambda: len(servicer.events) == 3000, timeout_s=10)
    task.cancel()
    await clicks.close()
