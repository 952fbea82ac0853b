"""Moderation use cases on real databases: SQLite always, PostgreSQL when configured (required in CI)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from clearframe_runtime import db
from clearframe_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from clearframe_runtime.testing import assert_migrations_idempotent
from services.scanner.moderation.adapters.sql import SqlModerationStore
from services.scanner.moderation.domain import (
    CASE_CLOSED,
    CASE_DECIDED,
    CASE_OPEN,
    DELIVERY_PENDING,
    DELIVERY_SUCCEEDED,
    AuditFilter,
    CaseFilter,
    ChangeSet,
    DecisionFilter,
    FeedEvent,
    Moderation,
    ScanFacts,
    ScanFailure,
    TimeRange,
    verify,
)
from services.scanner.moderation.feed import DecisionFeed, Heartbeat
from services.scanner.moderation.webhooks import DeliveryWorker

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@pytest.fixture
async def store(database: str) -> AsyncIterator[SqlModerationStore]:
    await db.migrate(database, MIGRATIONS)
    engine = db.create_engine(database)
    yield SqlModerationStore(db.session_factory(engine))
    await engine.dispose()


def facts(scan_id: str, verdict: str, *, urgent: bool = False, webhooks: bool = True, asset: str = "") -> ScanFacts:
    return ScanFacts(
        scan_id=scan_id,
        asset_id=asset,
        usage_intent="public_site",
        model_id="m1",
        verdict=verdict,
        risk_score=42.0,
        urgent=urgent,
        reasons={"automated": True, "summary": f"{verdict.lower()} by rule", "config_version": 3},
        payload={"nudity_score": 40.0, "final_risk_score": 42.0, "risk_level": "medium", "detected_parts": {}},
        webhook_delivery=webhooks,
    )


async def test_migrations_are_idempotent(database: str, store: SqlModerationStore) -> None:
    await Moderation(store).record_automated(facts("s1", "FLAGGED"))
    await Moderation(store).record_failure(failure("s2", "a2"))
    await assert_migrations_idempotent(database, MIGRATIONS)


async def test_flagged_scan_opens_a_case_and_a_review_closes_it_once(store: SqlModerationStore) -> None:
    moderation = Moderation(store)
    automated = await moderation.record_automated(facts("s1", "FLAGGED", urgent=True, asset="a1"))
    await moderation.record_automated(facts("s2", "FLAGGED"))
    await moderation.record_automated(facts("s3", "APPROVED"))
    cases, total = await store.list_cases(CaseFilter(), 0, 10)
    assert total == 2 and [c.scan_id for c in cases] == ["s1", "s2"]  # urgent first
    case = cases[0]
    assert case.priority == "URGENT" and case.state == CASE_OPEN

    with pytest.raises(FailedPrecondition) as stale:
        await moderation.decide_case(case, facts("s1", "FLAGGED"), "APPROVED", "key:rev", "", etag='"99"')
    assert stale.value.reason == "ETAG_MISMATCH"
    with pytest.raises(InvalidArgument):
        await moderation.decide_case(case, facts("s1", "FLAGGED"), "FLAGGED", "key:rev", "")
    decided, decision = await moderation.decide_case(
        case, facts("s1", "FLAGGED"), "REJECTED", "key:rev", "clearly not ok", etag=case.etag
    )
    assert decided.state == CASE_DECIDED and decided.decision_id == decision.decision_id
    assert decision.supersedes == automated.decision_id and decision.reviewer == "key:rev" and not decision.automated
    assert decision.reasons["rules"][0]["rule"] == "manual_review" and decision.reasons["config_version"] == 3
    # Deciding again, with the stale copy or a fresh one, is refused.
    for copy in (case, await store.get_case(case.case_id)):
        assert copy is not None
        with pytest.raises(FailedPrecondition) as again:
            await moderation.decide_case(copy, facts("s1", "FLAGGED"), "APPROVED", "key:other", "")
        assert again.value.reason == "REVIEW_CASE_ALREADY_DECIDED"
    previous = await store.get_decision(automated.decision_id)
    assert previous is not None and not previous.current
    trail = await store.list_audit(AuditFilter(scan_id="s1"), 0, 10)
    assert (trail[0].action, trail[0].actor, trail[0].notes) == ("MANUAL_DECISION", "key:rev", "clearly not ok")
    assert {(e.action, e.actor) for e in trail[1:]} == {("REVIEW_OPENED", "system"), ("AUTOMATED_DECISION", "system")}


async def test_create_decision_re_reviews_and_closes_an_open_case(store: SqlModerationStore) -> None:
    moderation = Moderation(store)
    await moderation.record_automated(facts("s1", "FLAGGED"))
    manual = await moderation.create_decision(facts("s1", "FLAGGED"), "APPROVED", "key:rev", "fine", "my-id")
    assert manual.decision_id == "my-id"
    with pytest.raises(AlreadyExists):
        await moderation.create_decision(facts("s1", "FLAGGED"), "APPROVED", "key:rev", "", "my-id")
    cases, _ = await store.list_cases(CaseFilter(state=CASE_CLOSED), 0, 10)
    assert [c.decision_id for c in cases] == ["my-id"]
    again = await moderation.create_decision(facts("s1", "FLAGGED"), "REJECTED", "key:lead", "second look")
    assert again.supersedes == "my-id"
    current = await store.list_decisions(DecisionFilter(scan_id="s1", current_only=True), 0, 10)
    assert [d.decision_id for d in current] == [again.decision_id]
    with pytest.raises(InvalidArgument) as long_notes:
        await moderation.create_decision(facts("s1", "FLAGGED"), "REJECTED", "key:lead", "x" * 2001)
    assert long_notes.value.reason == "NOTES_TOO_LONG"


async def test_stats_time_ranges_export_keyset_and_clear(store: SqlModerationStore) -> None:
    moderation = Moderation(store)
    for i, verdict in enumerate(["APPROVED", "APPROVED", "REJECTED", "FLAGGED"]):
        await moderation.record_automated(facts(f"s{i}", verdict, asset="a1" if i < 2 else "a2"))
    stats = await moderation.stats(TimeRange(), "")
    assert (stats.total_scans, stats.approved, stats.rejected, stats.flagged) == (4, 2, 1, 1)
    assert (stats.approval_rate, stats.rejection_rate, stats.flag_rate, stats.open_review_cases) == (
        50.0,
        25.0,
        25.0,
        1,
    )
    assert (await moderation.stats(TimeRange(), "paysite")).total_scans == 0

    everything = await store.list_audit(AuditFilter(), 0, 100)
    oldest, newest = everything[-1], everything[0]
    inclusive = await store.list_audit(AuditFilter(period=TimeRange(oldest.created_at, newest.created_at)), 0, 100)
    assert len(inclusive) == len(everything) == 5  # four decisions and one opened case
    exported, after = [], None
    while batch := await store.audit_after(AuditFilter(), after, 2):
        exported += batch
        after = (batch[-1].created_at, batch[-1].entry_id)
    assert [e.entry_id for e in exported] == [e.entry_id for e in reversed(everything)]

    deleted, record = await moderation.clear_audit("key:admin", asset_id="a1")
    assert deleted == 2 and record.action == "AUDIT_CLEARED" and "asset_id=a1" in record.notes
    assert not await store.list_audit(AuditFilter(asset_id="a1", action="AUTOMATED_DECISION"), 0, 10)
    with pytest.raises(InvalidArgument) as scope:
        await moderation.clear_audit("key:admin")
    assert scope.value.reason == "MISSING_CLEAR_SCOPE"
    later = newest.created_at + timedelta(days=1)
    deleted, _ = await moderation.clear_audit("key:admin", before=later)
    assert deleted == 4  # the three left plus the first AUDIT_CLEARED record


async def test_webhook_deliveries_retry_and_replay(store: SqlModerationStore) -> None:
    received: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(500 if len(received) == 1 else 204)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    worker = DeliveryWorker(store, client)
    moderation = Moderation(store, on_deliveries=worker.wake)
    hook, secret = await moderation.create_webhook(
        url="https://hooks.example.org/in", event_types=[], usage_intents=[], enabled=True, secret="", description=""
    )
    assert secret.startswith("whsec_")
    with pytest.raises(AlreadyExists):
        await moderation.create_webhook(
            url=hook.url, event_types=[], usage_intents=[], enabled=True, secret="", description=""
        )
    await moderation.record_automated(facts("s1", "APPROVED", webhooks=False))
    assert await store.list_deliveries(hook.webhook_id, "", 0, 10) == []
    await moderation.record_automated(facts("s2", "REJECTED"))
    assert await worker.run_once() == 1
    await worker.drain()
    (delivery,) = await store.list_deliveries(hook.webhook_id, "", 0, 10)
    assert delivery.state == DELIVERY_PENDING and delivery.attempt_count == 1 and delivery.last_http_status == 500
    assert await worker.run_once() == 0  # not due before its backoff
    await store.save_delivery(_due_now(delivery))
    assert await worker.run_once() == 1
    await worker.drain()
    done = await store.get_delivery(delivery.delivery_id)
    assert done is not None and done.state == DELIVERY_SUCCEEDED and done.attempt_count == 2
    request = received[-1]
    stamp = int(request.headers["x-clearframe-timestamp"])
    assert verify(secret, stamp, request.content, request.headers["x-clearframe-signature"])
    body: dict[str, Any] = __import__("json").loads(request.content)
    assert body["batch_id"] == "s2" and body["moderation_status"] == "rejected" and body["auto_rejected"]
    assert body["rejection_reason"] == "rejected by rule"

    replay = await moderation.replay(hook.webhook_id, delivery.delivery_id)
    assert replay.replay_of == delivery.delivery_id and replay.payload == delivery.payload
    await worker.run_once()
    await worker.drain()
    assert len(received) == 3 and received[-1].headers["x-clearframe-delivery"] == replay.delivery_id
    await client.aclose()


def _due_now(delivery: Any) -> Any:
    from dataclasses import replace

    assert delivery.next_attempt_at is not None
    return replace(delivery, next_attempt_at=delivery.next_attempt_at - timedelta(seconds=5))


def failure(scan_id: str, asset: str) -> ScanFailure:
    return ScanFailure(scan_id, asset, "UNAVAILABLE", "triton is down", "TRITON_UNAVAILABLE", datetime.now(UTC))


async def test_the_feed_numbers_decisions_and_failures_and_resumes_after_a_restart(database: str) -> None:
    await db.migrate(database, MIGRATIONS)
    engine = db.create_engine(database)
    store = SqlModerationStore(db.session_factory(engine))
    moderation = Moderation(store)
    automated = await moderation.record_automated(facts("s1", "FLAGGED", asset="a1"))
    await moderation.record_failure(failure("s2", "a2"))
    case = await store.open_case_for_scan("s1")
    assert case is not None
    _, manual = await moderation.decide_case(case, facts("s1", "FLAGGED", asset="a1"), "REJECTED", "key:rev", "no")
    assert await store.latest_revision() == 3
    everything = await store.events_after(0, 3, "", 10)
    assert [e.revision for e in everything] == [1, 2, 3]
    first, failed, last = everything
    assert first.decision is not None and first.decision.decision_id == automated.decision_id
    assert not first.decision.current  # superseded by the review, as it is now
    assert failed.failure is not None and failed.decision is None
    assert (failed.failure.scan_id, failed.failure.asset_id, failed.failure.code, failed.failure.reason) == (
        "s2",
        "a2",
        "UNAVAILABLE",
        "TRITON_UNAVAILABLE",
    )
    assert last.decision is not None and last.decision.supersedes == automated.decision_id
    assert [e.revision for e in await store.events_after(0, 3, "a1", 10)] == [1, 3]
    assert [e.revision for e in await store.events_after(1, 2, "", 10)] == [2]
    assert [e.revision for e in await store.events_after(0, 3, "", 1)] == [1]
    await engine.dispose()

    # The scanner restarts (a new engine): a watcher resuming from revision 1 gets exactly 2 and 3, then
    # follows live writes.
    engine = db.create_engine(database)
    store = SqlModerationStore(db.session_factory(engine))
    feed = DecisionFeed(store, poll_s=3600, heartbeat_s=3600)
    moderation = Moderation(store, on_events=feed.notify)
    stream = feed.watch(1)
    replay = [await asyncio.wait_for(anext(stream), 5) for _ in range(3)]
    assert [type(item).__name__ for item in replay] == ["FeedEvent", "FeedEvent", "Heartbeat"]
    assert [item.revision for item in replay] == [2, 3, 3]
    again = await moderation.create_decision(facts("s1", "FLAGGED", asset="a1"), "APPROVED", "key:lead", "ok")
    live = await asyncio.wait_for(anext(stream), 5)
    assert isinstance(live, FeedEvent) and live.revision == 4
    assert live.decision is not None and live.decision.decision_id == again.decision_id
    assert live.decision.supersedes == manual.decision_id
    await stream.aclose()
    await engine.dispose()


async def test_concurrent_writers_never_let_a_watcher_skip_an_event(store: SqlModerationStore) -> None:
    """Revisions are visible in order even with writers committing at once (PostgreSQL's case)."""
    feed = DecisionFeed(store, poll_s=0.01, heartbeat_s=3600)
    stream = feed.watch(0)
    assert isinstance(await asyncio.wait_for(anext(stream), 5), Heartbeat)
    writers = [Moderation(store) for _ in range(6)]  # other replicas: only the poll wakes the stream
    scans = [f"s{i}" for i in range(30)]
    seen: list[FeedEvent] = []

    async def watch() -> None:
        while len(seen) < len(scans):
            item = await asyncio.wait_for(anext(stream), 10)
            if isinstance(item, FeedEvent):
                seen.append(item)

    watcher = asyncio.create_task(watch())
    await asyncio.gather(
        *(writers[i % len(writers)].record_automated(facts(scan, "APPROVED")) for i, scan in enumerate(scans))
    )
    await watcher
    await stream.aclose()
    revisions = [e.revision for e in seen]
    assert revisions == sorted(set(revisions)) and len(revisions) == len(scans)
    assert sorted(e.decision.scan_id for e in seen if e.decision) == sorted(scans)


async def test_migration_0005_turns_existing_decisions_and_failed_scans_into_the_first_events(database: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.async_url(database).replace("%", "%%"))
    await asyncio.to_thread(command.upgrade, config, "0004")
    engine = db.create_engine(database)
    early, late = datetime(2026, 11, 30, 10, tzinfo=UTC), datetime(2026, 11, 30, 11, tzinfo=UTC)
    failed_document = json.dumps(
        {
            "scanId": "s-failed",
            "state": "SCAN_STATE_FAILED",
            "error": {
                "code": 10,
                "message": "the scanner stopped before this scan finished",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "SCAN_INTERRUPTED",
                        "domain": "clearframe",
                    }
                ],
            },
        }
    )
    async with engine.begin() as connection:
        await connection.execute(
            sa.text(
                "INSERT INTO moderation_decisions (id, scan_id, asset_id, verdict, automated, reviewer, notes, "
                'reasons, supersedes, "current", created_at, usage_intent, model_id, risk_score, webhook_delivery) '
                "VALUES ('d-late', 's-ok', 'a1', 'APPROVED', true, 'system', '', '{}', '', true, :at, "
                "'public_site', '', 1.0, false)"
            ),
            {"at": late},
        )
        await connection.execute(
            sa.text(
                "INSERT INTO scanner_scans (id, state, media_type, content_type, size_bytes, sha256, usage_intent, "
                "model_id, asset_id, creator, verdict, created_at, completed_at, document, runner) VALUES "
                "('s-failed', 'SCAN_STATE_FAILED', 'MEDIA_TYPE_IMAGE', 'image/png', 1, :sha, 'public_site', '', "
                "'a1', 'alice', '', :at, :at, :doc, 'gone')"
            ),
            {"sha": "0" * 64, "at": early, "doc": failed_document},
        )
    await db.migrate(database, MIGRATIONS)
    store = SqlModerationStore(db.session_factory(engine))
    assert await store.latest_revision() == 2
    failed, decided = await store.events_after(0, 2, "a1", 10)
    assert failed.failure is not None and failed.failure.scan_id == "s-failed"
    assert (failed.failure.code, failed.failure.reason) == ("ABORTED", "SCAN_INTERRUPTED")
    assert decided.decision is not None and decided.decision.decision_id == "d-late"
    # New events continue after the backfilled ones.
    await Moderation(store).record_failure(failure("s-new", "a1"))
    assert [e.revision for e in await store.events_after(2, 3, "", 10)] == [3]
    await engine.dispose()


async def test_no_revision_is_visible_while_a_lower_one_is_uncommitted(database: str) -> None:
    """A watcher reads everything up to the highest revision it sees, so a writer that has drawn its
    revision holds back every later one until it commits (else a watcher would skip it for good)."""
    await db.migrate(database, MIGRATIONS)
    engine = db.create_engine(database)
    sessions = db.session_factory(engine)
    store = SqlModerationStore(sessions)
    async with sessions() as slow:
        await SqlModerationStore._add_events(slow, ChangeSet(failure=failure("slow", "a1")))
        await slow.flush()  # its revision is drawn
        fast = asyncio.create_task(store.write(ChangeSet(failure=failure("fast", "a1"))))
        await asyncio.sleep(0.5)  # room for the fast writer to commit, if it could
        visible_meanwhile = await store.latest_revision()
        await slow.commit()
    await fast
    assert visible_meanwhile == 0
    events = await store.events_after(0, await store.latest_revision(), "", 10)
    assert [e.failure.scan_id for e in events if e.failure] == ["slow", "fast"]
    await engine.dispose()
