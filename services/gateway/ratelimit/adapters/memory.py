"""Counters in this process's memory: the default without Redis, and the fake of the unit tests.

A hit runs without awaiting anything, so on one event loop it is atomic. Counters that are back to a
fresh state are dropped on a sweep every ``sweep_every`` hits, so memory follows the active clients.
"""

from __future__ import annotations

from services.gateway.ratelimit.domain import STRATEGIES, Decision, Limit, State, state_ttl


class MemoryCounterStore:
    def __init__(self, *, sweep_every: int = 10_000) -> None:
        self._states: dict[str, tuple[State, float]] = {}
        self._sweep_every = sweep_every
        self._hits = 0

    async def hit(self, counter: str, limit: Limit, cost: int, now: float, *, consume: bool = True) -> Decision:
        stored = self._states.get(counter)
        state = stored[0] if stored is not None and stored[1] > now else None
        new_state, decision = STRATEGIES[limit.strategy](state, limit, cost, now, consume)
        if consume:
            self._states[counter] = (new_state, now + state_ttl(new_state, limit, now))
        self._hits += 1
        if self._hits % self._sweep_every == 0:
            self._sweep(now)
        return decision

    def _sweep(self, now: float) -> None:
        for counter in [c for c, (_, expires) in self._states.items() if expires <= now]:
            del self._states[counter]

    async def reset(self, fragment: str) -> int:
        doomed = [c for c in self._states if fragment in c]
        for counter in doomed:
            del self._states[counter]
        return len(doomed)

    async def clear(self) -> int:
        count = len(self._states)
        self._states.clear()
        return count

    async def close(self) -> None:
        return None

    @property
    def size(self) -> int:
        return len(self._states)


__all__ = ["MemoryCounterStore"]
