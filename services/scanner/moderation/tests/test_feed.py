"""The decision feed's watch streams on the in-memory store: replay from a revision, then live events
woken in-process (no poll), the poll fallback for other replicas, heartbeats, the asset filter, the
race between reading and waiting, bounded streams, and the refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from clearframe_runtime.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from services.scanner.domain.model import Failure, Scan, ScanState
from services.scanner.moderation.api import ScanListener
from services.scanner.moderation.domain import FeedEvent, Moderation, ScanFacts, ScanFailure
from services.scanner.moderation.feed import DecisionFeed, Heartbeat
from services.scanner.moderation.tests.fakes import MemoryModerationStore

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
#: Long enough that a test passing within WAIT_S was not woken by the poll or a heartbeat.
NEVER_S = 3600.0
WAIT_S = 5.0


def facts(scan_id: str, verdict: str, asset: str) -> ScanFacts:
    return ScanFacts(
        scan_id=scan_id,
        asset_id=asset,
        usage_intent="public_site",
        model_id="",
        verdict=verdict,
        risk_score=30.0,
        urgent=False,
        reasons={"automated": True, "summary": verdict.lower()},
        payload={},
        webhook_delivery=False,
    )


def failure(scan_id: str, asset: str) -> ScanFailure:
    return ScanFailure(scan_id, asset, "UNAVAILABLE", "triton is down", "TRITON_UNAVAILABLE", T0)


def wired(store: MemoryModerationStore, **options: float) -> tuple[Moderation, DecisionFeed]:
    feed = DecisionFeed(
        store,
        poll_s=options.get("poll_s", NEVER_S),
        heartbeat_s=options.get("heartbeat_s", NEVER_S),
        max_streams=int(options.get("max_streams", 8)),
        batch=int(options.get("batch", 500)),
        clock=lambda: T0,
    )
    return Moderation(store, clock=lambda: T0, on_events=feed.notify), feed


async def next_item(stream: AsyncIterator[FeedEvent | Heartbeat]) -> FeedEvent | Heartbeat:
    return await asyncio.wait_for(anext(stream), WAIT_S)


async def events_until_caught_up(stream: AsyncIterator[FeedEvent | Heartbeat]) -> tuple[list[FeedEvent], int]:
    """The replay, and the revision of the heartbeat that ends it."""
    events = []
    while not isinstance(item := await next_item(stream), Heartbeat):
        events.append(item)
    return events, item.revision


async def test_replay_then_live_decisions_and_failures_in_revision_order() -> None:
    store = MemoryModerationStore()
    moderation, feed = wired(store)
    automated = await moderation.record_automated(facts("s1", "FLAGGED", "a1"))
    await moderation.record_failure(failure("s2", "a2"))
    stream = feed.watch(0)
    replay, caught_up = await events_until_caught_up(stream)
    assert [e.revision for e in replay] == [1, 2] and caught_up == 2
    assert replay[0].decision is not None and replay[0].decision.decision_id == automated.decision_id
    assert replay[1].failure == failure("s2", "a2") and replay[1].asset_id == "a2"

    # Live: the write wakes the stream at once (poll and heartbeat are an hour away).
    case = await store.open_case_for_scan("s1")
    assert case is not None
    _, manual = await moderation.decide_case(case, facts("s1", "FLAGGED", "a1"), "APPROVED", "key:rev", "")
    live = await next_item(stream)
    assert isinstance(live, FeedEvent) and live.revision == 3 and live.decision is not None
    assert (live.decision.decision_id, live.decision.supersedes) == (manual.decision_id, automated.decision_id)
    assert live.decision.verdict == "APPROVED" and not live.decision.automated
    await stream.aclose()

    # A resumed stream replays exactly what came after its revision; superseded decisions say so.
    again, _ = await events_until_caught_up(feed.watch(1))
    assert [e.revision for e in again] == [2, 3]
    replayed, _ = await events_until_caught_up(feed.watch(0))
    assert replayed[0].decision is not None and not replayed[0].decision.current


async def test_a_write_between_reading_and_waiting_is_not_missed() -> None:
    class RacingStore(MemoryModerationStore):
        """Another request writes (and notifies) just after the idle stream has read the head, before
        it starts to wait."""

        moderation: Moderation | None = None
        reads = 0

        async def latest_revision(self) -> int:
            head = await super().latest_revision()
            self.reads += 1
            if self.moderation is not None and self.reads == 2:  # 1: the replay, 2: the first idle look
                await self.moderation.record_failure(failure("late", "a1"))
            return head

    store = RacingStore()
    moderation, feed = wired(store)
    await moderation.record_automated(facts("s1", "APPROVED", "a1"))
    stream = feed.watch(0)
    store.reads = -1  # the request's own check of since_revision reads the head first
    store.moderation = moderation
    replay, caught_up = await events_until_caught_up(stream)
    assert [e.revision for e in replay] == [1] and caught_up == 1
    late = await next_item(stream)  # the poll is an hour away: only the notification can bring it
    assert isinstance(late, FeedEvent) and late.revision == 2 and late.failure is not None
    await stream.aclose()


async def test_writes_of_another_replica_arrive_by_the_poll() -> None:
    store = MemoryModerationStore()
    _, feed = wired(store, poll_s=0.02)
    other_replica = Moderation(store, clock=lambda: T0)  # does not notify this process's feed
    stream = feed.watch(0)
    assert await next_item(stream) == Heartbeat(0, T0)
    await other_replica.record_automated(facts("s1", "REJECTED", "a1"))
    item = await next_item(stream)
    assert isinstance(item, FeedEvent) and item.decision is not None and item.decision.verdict == "REJECTED"
    await stream.aclose()


async def test_idle_streams_get_heartbeats_with_their_position_and_the_filter_skips_other_assets() -> None:
    store = MemoryModerationStore()
    moderation, feed = wired(store, heartbeat_s=0.02)
    await moderation.record_automated(facts("s1", "APPROVED", "a1"))
    await moderation.record_failure(failure("s2", "a2"))
    await moderation.record_automated(facts("s3", "APPROVED", "a1"))
    stream = feed.watch(0, "a2")
    replay, caught_up = await events_until_caught_up(stream)
    assert [e.revision for e in replay] == [2] and caught_up == 3  # covered up to the head, not to 2
    assert await next_item(stream) == Heartbeat(3, T0)  # idle: another heartbeat, same position
    await moderation.record_automated(facts("s4", "APPROVED", "a1"))
    assert await next_item(stream) == Heartbeat(4, T0)  # not this asset's, but the position moves
    await stream.aclose()


async def test_a_long_replay_comes_in_batches_without_gaps_or_repeats() -> None:
    store = MemoryModerationStore()
    moderation, feed = wired(store, batch=2)
    for i in range(5):
        await moderation.record_automated(facts(f"s{i}", "APPROVED", "a1"))
    replay, caught_up = await events_until_caught_up(feed.watch(0))
    assert [e.revision for e in replay] == [1, 2, 3, 4, 5] and caught_up == 5


async def test_refusals_and_the_bound_on_streams() -> None:
    store = MemoryModerationStore()
    moderation, feed = wired(store, max_streams=1)
    await moderation.record_automated(facts("s1", "APPROVED", "a1"))
    with pytest.raises(InvalidArgument) as negative:
        await anext(feed.watch(-1))
    assert negative.value.reason == "INVALID_REVISION"
    with pytest.raises(InvalidArgument) as bad_asset:
        await anext(feed.watch(0, "../a1"))
    assert bad_asset.value.reason == "INVALID_ASSET_ID"
    with pytest.raises(FailedPrecondition) as ahead:
        await anext(feed.watch(2))
    assert ahead.value.reason == "REVISION_AHEAD" and ahead.value.metadata["current_revision"] == "1"

    first = feed.watch(1)
    assert await next_item(first) == Heartbeat(1, T0)
    with pytest.raises(ResourceExhausted) as full:
        await anext(feed.watch(0))
    assert full.value.reason == "TOO_MANY_WATCHERS"
    await first.aclose()
    assert feed.streams == 0
    second = feed.watch(1)
    assert await next_item(second) == Heartbeat(1, T0)
    await second.aclose()


async def test_the_scan_listener_records_failed_scans_as_feed_events() -> None:
    store = MemoryModerationStore()
    moderation, feed = wired(store)
    listener = ScanListener(moderation)
    scan = Scan(
        "s9",
        ScanState.FAILED,
        "image/png",
        1,
        "0" * 64,
        "public_site",
        T0,
        asset_id="00ff00ff00ff00ff",
        completed_at=T0,
        error=Failure("ABORTED", "the scanner stopped", "SCAN_INTERRUPTED"),
    )
    await listener.failed(scan)
    await listener.failed(Scan("s10", ScanState.SUCCEEDED, "image/png", 1, "0" * 64, "public_site", T0))
    replay, _ = await events_until_caught_up(feed.watch(0))
    assert [e.failure for e in replay] == [
        ScanFailure("s9", "00ff00ff00ff00ff", "ABORTED", "the scanner stopped", "SCAN_INTERRUPTED", T0)
    ]


def test_stream_messages_carry_the_failure_as_a_status_and_heartbeats_their_position() -> None:
    from google.rpc import error_details_pb2

    from services.scanner.moderation.api import watch_message

    failed = watch_message(FeedEvent(7, T0, failure=failure("s2", "a2")))
    assert (failed.revision, failed.WhichOneof("event")) == (7, "scan_failed")
    assert (failed.scan_failed.scan_id, failed.scan_failed.asset_id) == ("s2", "a2")
    assert failed.scan_failed.error.code == 14 and failed.scan_failed.error.message == "triton is down"  # UNAVAILABLE
    info = error_details_pb2.ErrorInfo()
    assert failed.scan_failed.error.details[0].Unpack(info) and info.reason == "TRITON_UNAVAILABLE"
    assert failed.scan_failed.failure_time.ToDatetime(tzinfo=UTC) == T0
    beat = watch_message(Heartbeat(9, T0))
    assert (beat.revision, beat.WhichOneof("event"), beat.event_time.ToDatetime(tzinfo=UTC)) == (9, "heartbeat", T0)
