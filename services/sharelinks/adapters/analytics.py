"""Usage events (CLICK, VIEW) for the analytics service, sent in batches off the request's path.

``record`` only appends to a bounded buffer; a background task sends what has gathered every
``interval_s`` (or as soon as a batch is full) through BatchRecordEvents, and keeps what could not be sent
for the next round while analytics is down, overloaded or not deployed yet (UNIMPLEMENTED). Events carry
their own ids, so a batch sent twice (a lost answer) is counted once. A batch analytics refuses as invalid is
dropped and logged (sending it again would block every later event). Beyond ``max_buffer`` the oldest
events are dropped, counted and logged; ``close`` sends what is left (SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import grpc
import structlog

from clearframe.analytics.v1 import analytics_service_pb2 as pb
from clearframe.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from clearframe_runtime.protoconv import timestamp
from clearframe_runtime.server import client_channel
from services.sharelinks.adapters.identity import ServiceIdentity
from services.sharelinks.domain.events import UsageEvent

log = structlog.get_logger(__name__)

_PLATFORMS = {
    "web": pb.PLATFORM_WEB,
    "slack": pb.PLATFORM_SLACK,
    "discord": pb.PLATFORM_DISCORD,
    "teams": pb.PLATFORM_TEAMS,
    "twitter": pb.PLATFORM_TWITTER,
    "facebook": pb.PLATFORM_FACEBOOK,
    "other": pb.PLATFORM_OTHER,
}
_KINDS = {"CLICK": pb.EVENT_TYPE_CLICK, "VIEW": pb.EVENT_TYPE_VIEW}
BATCH = 500
#: Answers that say the batch itself is wrong (retrying cannot help); any other failure is retried.
_REFUSED = frozenset(
    {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.OUT_OF_RANGE}
)
#: Messages to analytics are batches of small events: far below this.
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def _attributes(event: UsageEvent) -> dict[str, str]:
    attributes = {"user_agent": event.user_agent} if event.user_agent else {}
    if event.rendition:
        attributes["rendition"] = event.rendition
    return attributes


class BufferedEventSender:
    def __init__(
        self,
        target: str,
        identity: ServiceIdentity,
        *,
        max_buffer: int = 100_000,
        interval_s: float = 0.5,
        timeout_s: float = 5.0,
    ):
        self._channel = client_channel(target, _MAX_MESSAGE_BYTES)
        self._stub = pb_grpc.AnalyticsServiceStub(self._channel)
        self._identity = identity
        self._buffer: deque[UsageEvent] = deque()
        self._max_buffer = max_buffer
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._wake = asyncio.Event()
        #: The last send failed: wait out the backoff before the next.
        self._failing = False
        #: Since start: events dropped because the buffer was full, events sent, events analytics refused.
        self.dropped = 0
        self.sent = 0
        self.rejected = 0

    def record(self, event: UsageEvent) -> None:
        if len(self._buffer) >= self._max_buffer:
            self._buffer.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("event buffer full: oldest events dropped", dropped=self.dropped, buffer=self._max_buffer)
        self._buffer.append(event)
        if len(self._buffer) >= BATCH and not self._failing:
            self._wake.set()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    async def _send(self) -> bool:
        """Send one batch; False when analytics could not take it (it stays buffered)."""
        batch = [self._buffer[i] for i in range(min(BATCH, len(self._buffer)))]
        if not batch:
            return True
        request = pb.BatchRecordEventsRequest(
            events=[
                pb.Event(
                    event_id=event.event_id,
                    asset_id=event.asset_id,
                    event_type=_KINDS[event.kind],
                    platform=_PLATFORMS.get(event.platform, pb.PLATFORM_OTHER),
                    short_code=event.code,
                    event_time=timestamp(event.at),
                    attributes=_attributes(event),
                )
                for event in batch
            ]
        )
        try:
            await self._stub.BatchRecordEvents(request, timeout=self._timeout_s, metadata=self._identity.metadata())
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in _REFUSED:
                log.warning("usage events not sent yet; kept", buffered=len(self._buffer), code=exc.code().name)
                return False
            # Sending the same batch again would be refused again: it would block every later event.
            self.rejected += len(batch)
            log.error("analytics refused a batch of usage events; dropped", count=len(batch), error=exc.details())
        else:
            self.sent += len(batch)
        for _ in batch:
            self._buffer.popleft()
        return True

    async def run(self) -> None:
        backoff = self._interval_s
        while True:
            if self._failing:
                # While analytics fails, only the backoff wakes the sender: a full batch must not (every
                # click would otherwise build and send a batch that fails again, on the redirect's CPU).
                await asyncio.sleep(backoff)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), backoff)
            self._wake.clear()
            self._failing = False
            while self._buffer:
                if not await self._send():
                    self._failing = True
                    backoff = min(backoff * 2, 30.0)
                    break
            else:
                backoff = self._interval_s

    async def close(self) -> None:
        """Send what is buffered (bounded by the timeout per batch), then close."""
        while self._buffer and await self._send():
            pass
        if self._buffer:
            log.warning("usage events left unsent at shutdown", count=len(self._buffer))
        await self._channel.close()
