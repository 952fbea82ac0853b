"""What the limiter needs from a counter store (in memory or Redis)."""

from __future__ import annotations

from typing import Protocol

from services.gateway.ratelimit.domain import Decision, Limit


class CounterStore(Protocol):
    """Counters by identity. Each ``hit`` is atomic: concurrent hits never admit beyond the limit."""

    async def hit(self, counter: str, limit: Limit, cost: int, now: float, *, consume: bool = True) -> Decision:
        """Count ``cost`` against the counter if it allows (``consume``), and answer; ``consume=False``
        only asks (the admin's check and remaining)."""
        ...

    async def reset(self, fragment: str) -> int:
        """Drop every counter whose identity contains ``fragment`` (e.g. ``remote_address=10.0.0.1``);
        the number dropped."""
        ...

    async def clear(self) -> int:
        """Drop every counter."""
        ...

    async def close(self) -> None: ...


__all__ = ["CounterStore"]
