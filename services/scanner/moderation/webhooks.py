"""The webhook delivery worker: an asyncio task that POSTs pending deliveries and retries them.

State lives in the ``moderation_webhook_deliveries`` table, never only in memory: a restarted scanner
picks up every PENDING delivery whose next attempt is due. Each due delivery is first *claimed* (its
next attempt moved forward by a lease, conditionally on the value read) so that two scanner replicas
never send the same attempt twice. Attempts are bounded by a semaphore; each one's outcome (HTTP
status or error) is written to the delivery log before the next retry is planned.

Each attempt is a CLIENT span ``webhook.deliver`` of the trace of the decision that created the
delivery (its context is stored with the delivery) and sends that span's ``traceparent``, so a
receiver that traces can continue the same trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import replace
from datetime import timedelta

import httpx
import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from clearframe_runtime.clock import Clock, utcnow
from clearframe_runtime.observability import attached, inject_context
from services.scanner import metrics as scanner_metrics
from services.scanner.moderation.domain import DELIVERY_FAILED, Delivery, attempt_outcome, sign
from services.scanner.moderation.ports import ModerationStore

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)
USER_AGENT = "Clearframe-Webhooks/1"


def encode_payload(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


class DeliveryWorker:
    def __init__(
        self,
        store: ModerationStore,
        client: httpx.AsyncClient,
        *,
        timeout_s: float = 10.0,
        concurrency: int = 8,
        poll_s: float = 5.0,
        clock: Clock = utcnow,
    ):
        self._store = store
        self._client = client
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """New deliveries were written: look at the table now."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-deliveries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("webhooks.loop_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=await self._sleep_s())

    async def _sleep_s(self) -> float:
        due = await self._store.next_due_time()
        if due is None:
            return self._poll_s
        return max(0.0, min(self._poll_s, (due - self._clock()).total_seconds()))

    async def run_once(self) -> int:
        """Start an attempt for every due delivery (up to the concurrency bound); returns how many."""
        now = self._clock()
        started = 0
        for delivery in await self._store.due_deliveries(now, self._concurrency * 4):
            lease = now + timedelta(seconds=self._timeout_s * 3)
            if not await self._store.claim_delivery(delivery, lease):
                continue
            task = asyncio.create_task(self._attempt(delivery))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            started += 1
        return started

    async def drain(self) -> None:
        """Wait for the attempts in flight (tests)."""
        await asyncio.gather(*list(self._inflight), return_exceptions=True)

    async def _attempt(self, delivery: Delivery) -> None:
        async with self._slots:
            with (
                attached(dict(delivery.trace_context)),
                tracer.start_as_current_span(
                    "webhook.deliver",
                    kind=SpanKind.CLIENT,
                    attributes={
                        "clearframe.webhook.id": delivery.webhook_id,
                        "clearframe.webhook.delivery_id": delivery.delivery_id,
                        "clearframe.webhook.event": delivery.event_type,
                        "clearframe.webhook.attempt": delivery.attempt_count + 1,
                    },
                ) as span,
            ):
                await self._send(delivery, span)

    async def _send(self, delivery: Delivery, span: trace.Span) -> None:
        hook = await self._store.get_webhook(delivery.webhook_id)
        if hook is None:
            await self._store.save_delivery(
                replace(delivery, state=DELIVERY_FAILED, next_attempt_at=None, last_error="webhook deleted")
            )
            return
        body = encode_payload(delivery.payload)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Clearframe-Event": delivery.event_type,
            "X-Clearframe-Delivery": delivery.delivery_id,
            "X-Clearframe-Timestamp": str(timestamp),
            "X-Clearframe-Signature": sign(hook.secret, timestamp, body),
            **inject_context(),  # traceparent (and tracestate) of this attempt's span
        }
        span.set_attribute("http.request.method", "POST")
        span.set_attribute("url.full", hook.url)
        status, error = 0, ""
        try:
            response = await self._client.post(hook.url, content=body, headers=headers, timeout=self._timeout_s)
            status = response.status_code
        except httpx.TimeoutException:
            error = f"timeout after {self._timeout_s:g}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        if status:
            span.set_attribute("http.response.status_code", status)
        if error or not 200 <= status < 300:
            span.set_status(Status(StatusCode.ERROR, error or f"HTTP {status}"))
        outcome = attempt_outcome(delivery, status=status, error=error, now=self._clock())
        span.set_attribute("clearframe.webhook.state", outcome.state)
        await self._store.save_delivery(outcome)
        scanner_metrics.record_webhook_attempt(delivery.event_type, outcome.state)
        log.info(
            "webhook.attempt",
            delivery_id=delivery.delivery_id,
            webhook_id=hook.webhook_id,
            status=status,
            error=error,
            state=outcome.state,
            attempts=outcome.attempt_count,
        )
