"""Webhook deliveries are spans of the decision's trace, even though the worker sends them later."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from clearframe_runtime import db
from services.scanner.moderation import webhooks
from services.scanner.moderation.adapters.sql import SqlModerationStore
from services.scanner.moderation.domain import Moderation, ScanFacts
from services.scanner.moderation.webhooks import DeliveryWorker

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@pytest.fixture
async def store(database: str) -> AsyncIterator[SqlModerationStore]:
    await db.migrate(database, MIGRATIONS)
    engine = db.create_engine(database)
    yield SqlModerationStore(db.session_factory(engine))
    await engine.dispose()


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[InMemorySpanExporter, TracerProvider]]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    monkeypatch.setattr(webhooks, "tracer", provider.get_tracer("test"))
    yield spans, provider
    provider.shutdown()


def rejected(scan_id: str) -> ScanFacts:
    return ScanFacts(
        scan_id=scan_id,
        asset_id="",
        usage_intent="public_site",
        model_id="m1",
        verdict="REJECTED",
        risk_score=90.0,
        urgent=False,
        reasons={"automated": True, "summary": "rejected by rule", "config_version": 1},
        payload={"final_risk_score": 90.0},
        webhook_delivery=True,
    )


def parse_traceparent(value: str) -> tuple[str, str]:
    version, trace_id, span_id, flags = value.split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled
    return trace_id, span_id


async def test_each_attempt_is_a_span_of_the_decision_trace_and_sends_its_traceparent(
    store: SqlModerationStore, exporter: tuple[InMemorySpanExporter, TracerProvider]
) -> None:
    spans, provider = exporter
    received: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(503 if len(received) == 1 else 204)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    worker = DeliveryWorker(store, client)
    moderation = Moderation(store, on_deliveries=worker.wake)
    hook, _ = await moderation.create_webhook(
        url="https://hooks.example.org/in", event_types=[], usage_intents=[], enabled=True, secret="", description=""
    )
    with provider.get_tracer("test").start_as_current_span("scan") as decision:
        await moderation.record_automated(rejected("s1"))
    decision_trace = format(decision.get_span_context().trace_id, "032x")
    decision_span = format(decision.get_span_context().span_id, "016x")

    # Outside the decision's context: the worker runs later, from its own loop.
    assert await worker.run_once() == 1
    await worker.drain()
    (delivery,) = await store.list_deliveries(hook.webhook_id, "", 0, 10)
    from dataclasses import replace

    assert delivery.next_attempt_at is not None
    await store.save_delivery(replace(delivery, next_attempt_at=delivery.next_attempt_at.replace(year=2000)))
    assert await worker.run_once() == 1
    await worker.drain()

    attempts = [s for s in spans.get_finished_spans() if s.name == "webhook.deliver"]
    assert len(attempts) == len(received) == 2
    for span, request in zip(attempts, received, strict=True):
        assert span.kind == SpanKind.CLIENT
        assert format(span.context.trace_id, "032x") == decision_trace
        assert span.parent is not None and format(span.parent.span_id, "016x") == decision_span
        # The receiver can continue the trace: the header names this attempt's span.
        assert parse_traceparent(request.headers["traceparent"]) == (
            decision_trace,
            format(span.context.span_id, "016x"),
        )
        assert (span.attributes or {})["clearframe.webhook.delivery_id"] == delivery.delivery_id
    assert [(s.attributes or {})["http.response.status_code"] for s in attempts] == [503, 204]
    assert attempts[0].status.status_code == StatusCode.ERROR and attempts[1].status.status_code == StatusCode.UNSET
    assert [(s.attributes or {})["clearframe.webhook.attempt"] for s in attempts] == [1, 2]
    await client.aclose()


async def test_a_delivery_made_outside_any_trace_still_sends_a_traceparent(
    store: SqlModerationStore, exporter: tuple[InMemorySpanExporter, TracerProvider]
) -> None:
    spans, _ = exporter
    received: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    worker = DeliveryWorker(store, client)
    moderation = Moderation(store, on_deliveries=worker.wake)
    await moderation.create_webhook(
        url="https://hooks.example.org/b", event_types=[], usage_intents=[], enabled=True, secret="", description=""
    )
    await moderation.record_automated(rejected("s2"))
    assert await worker.run_once() == 1
    await worker.drain()
    (span,) = spans.get_finished_spans()
    assert span.parent is None  # its own root: there was no decision trace to join
    (request,) = received
    assert parse_traceparent(request.headers["traceparent"])[1] == format(span.context.span_id, "016x")
    await client.aclose()
