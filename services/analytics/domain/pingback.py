"""The tracking pixel's guard: a fixed window per client address (per replica), so that one address cannot
flood the public route. Allowed when ``count + 1 ≤ limit`` in the current window; refused loads are not
counted; a window resets once ``window`` has passed since it began (seed 002's fixed window)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from clearframe_runtime.clock import Clock
from clearframe_runtime.errors import ResourceExhausted

#: Addresses remembered at most; the oldest windows are forgotten first beyond it.
MAX_ADDRESSES = 100_000


@dataclass
class _Window:
    start: datetime
    count: int


class PingbackLimiter:
    def __init__(self, limit: int, *, clock: Clock, window: timedelta = timedelta(minutes=1)):
        if limit < 1:
            raise ValueError("the limit must be at least 1")
        self._limit = limit
        self._clock = clock
        self._window = window
        self._windows: dict[str, _Window] = {}

    def admit(self, address: str) -> None:
        """Count one load from ``address``, or raise RESOURCE_EXHAUSTED (RATE_LIMITED, ``retry_after_ms``)."""
        now = self._clock()
        window = self._windows.get(address)
        if window is None or now - window.start >= self._window:
            window = _Window(now, 0)
            self._windows.pop(address, None)
            self._windows[address] = window
            while len(self._windows) > MAX_ADDRESSES:
                del self._windows[next(iter(self._windows))]
        if window.count + 1 > self._limit:
            wait = window.start + self._window - now
            raise ResourceExhausted(
                f"at most {self._limit} pingbacks per {self._window.total_seconds():g} s from one address",
                metadata={"retry_after_ms": str(max(1, int(wait / timedelta(milliseconds=1))))},
            )
        window.count += 1
