"""Background work a service repeats at an interval (sweeps, retention): a round that fails is logged and
the next one tries again, so one bad round never stops the work for good."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


async def every(
    interval_s: float,
    work: Callable[[], Awaitable[object]],
    name: str,
    *,
    at_once: bool = False,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Run ``work`` every ``interval_s`` seconds, the first time at once when ``at_once``, until cancelled."""
    if not at_once:
        await sleep(interval_s)
    while True:
        try:
            await work()
        except Exception as exc:  # a failed round is logged and tried again next time
            log.warning("periodic task failed", task=name, error=str(exc))
        await sleep(interval_s)
