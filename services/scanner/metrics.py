"""The scanner's domain metrics (OpenTelemetry instruments; served by the runtime, see
:mod:`clearframe_runtime.metrics`).

==========================================  ======================================================
``clearframe.scanner.scans``                scans finished, by ``verdict`` (``error`` for a failed scan),
                                            ``usage_intent`` and ``media_type``
``clearframe.inference.duration`` (ms)      one Triton request, by ``model`` and ``outcome``
``clearframe.inference.batch_size``         inputs per Triton request, by ``model``
``clearframe.review.queue.size``            open review cases, by ``priority``
``clearframe.review.queue.oldest_age`` (s)  age of the oldest open case, by ``priority`` (0 when none)
``clearframe.moderation.decisions``         decisions, by ``verdict`` and ``kind`` (``automated``, ``review``)
``clearframe.webhook.deliveries``           delivery attempts, by ``event`` and ``outcome``
                                            (``succeeded``, ``retrying``, ``failed``: given up)
==========================================  ======================================================
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

import structlog
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from services.scanner.domain.decision import Policy
from services.scanner.domain.model import Scan
from services.scanner.moderation.domain import PRIORITY_NORMAL, PRIORITY_URGENT, CaseFilter
from services.scanner.moderation.ports import ModerationStore

log = structlog.get_logger(__name__)
meter = metrics.get_meter("clearframe.scanner")

#: Inference latency bounds in ms (a CPU model answers in tens of ms, a cold one in seconds).
INFERENCE_BUCKETS_MS = (1, 2.5, 5, 10, 25, 50, 75, 100, 250, 500, 1000, 2500, 5000, 10000)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)

scans = meter.create_counter("clearframe.scanner.scans", unit="{scan}", description="Scans finished")
inference_duration = meter.create_histogram(
    "clearframe.inference.duration",
    unit="ms",
    description="Duration of one Triton inference request, retries included",
    explicit_bucket_boundaries_advisory=list(INFERENCE_BUCKETS_MS),
)
inference_batch_size = meter.create_histogram(
    "clearframe.inference.batch_size",
    unit="{input}",
    description="Inputs in one Triton inference request",
    explicit_bucket_boundaries_advisory=list(BATCH_BUCKETS),
)
decisions = meter.create_counter(
    "clearframe.moderation.decisions", unit="{decision}", description="Moderation decisions, by verdict and kind"
)
webhook_deliveries = meter.create_counter(
    "clearframe.webhook.deliveries", unit="{attempt}", description="Webhook delivery attempts, by outcome"
)


def record_scan(verdict: str, usage_intent: str, media_type: str) -> None:
    scans.add(1, {"verdict": verdict or "unknown", "usage_intent": usage_intent, "media_type": media_type})


def record_inference(model: str, outcome: str, duration_s: float, batch: int) -> None:
    inference_duration.record(duration_s * 1000.0, {"model": model, "outcome": outcome})
    inference_batch_size.record(batch, {"model": model})


def record_decision(verdict: str, *, automated: bool) -> None:
    decisions.add(1, {"verdict": verdict, "kind": "automated" if automated else "review"})


def record_webhook_attempt(event: str, state: str) -> None:
    outcome = {"SUCCEEDED": "succeeded", "PENDING": "retrying", "FAILED": "failed"}.get(state, state.lower())
    webhook_deliveries.add(1, {"event": event, "outcome": outcome})


class ReviewQueueGauge:
    """Samples the review queue every ``interval_s`` (a query per priority, off the scrape's thread) and
    serves the last sample as two gauges."""

    PRIORITIES = (PRIORITY_URGENT, PRIORITY_NORMAL)

    def __init__(self, store: ModerationStore, clock: Callable[[], datetime], interval_s: float = 5.0):
        self._store = store
        self._clock = clock
        self._interval_s = interval_s
        self._size: dict[str, int] = dict.fromkeys(self.PRIORITIES, 0)
        self._oldest_s: dict[str, float] = dict.fromkeys(self.PRIORITIES, 0.0)
        self._task: asyncio.Task[None] | None = None
        meter.create_observable_gauge(
            "clearframe.review.queue.size", [self._observe_size], unit="{case}", description="Open review cases"
        )
        meter.create_observable_gauge(
            "clearframe.review.queue.oldest_age",
            [self._observe_oldest],
            unit="s",
            description="Age of the oldest open review case (0 when the queue is empty)",
        )

    def _observe_size(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(n, {"priority": p}) for p, n in self._size.items()]

    def _observe_oldest(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(age, {"priority": p}) for p, age in self._oldest_s.items()]

    async def sample(self) -> None:
        now = self._clock()
        for priority in self.PRIORITIES:
            cases, total = await self._store.list_cases(CaseFilter(priority=priority), 0, 1)
            self._size[priority] = total
            self._oldest_s[priority] = max(0.0, (now - cases[0].created_at).total_seconds()) if cases else 0.0

    async def _run(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        while True:
            try:
                await self.sample()
            except Exception:  # the database is down: keep the last sample, try again
                log.warning("review_queue.sample_failed", exc_info=True)
            await sleep(self._interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(asyncio.sleep), name="review-queue-gauge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def on_scan_completed(scan: Scan, policy: Policy) -> None:
    """Scanner listener: count a finished scan."""
    record_scan(scan.verdict, scan.usage_intent, scan.media_type or "unknown")


async def on_scan_failed(scan: Scan) -> None:
    """Scanner failure listener: count a failed scan."""
    record_scan("error", scan.usage_intent, scan.media_type or "unknown")
