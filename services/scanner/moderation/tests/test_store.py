"""Moderation use cases on real databases: SQLite always, PostgreSQL when configured (required in CI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

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
    DecisionFilter,
    Moderation,
    ScanFacts,
    TimeRange,
    verify,
)
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
