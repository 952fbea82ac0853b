"""Entries that expire a fixed time after they were kept: the short-lived caches of the services (delivery
rows in sharelinks, credential lookups in auth) share this one.

Bounded: beyond ``max_entries`` the oldest kept go first. ``ttl_s = 0`` keeps nothing. The clock is
injected (a monotonic one: seconds, only differences matter).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

Monotonic = Callable[[], float]
V = TypeVar("V")


class Expiring(Generic[V]):
    """Entries that expire ``ttl_s`` after they were kept; the oldest go first beyond ``max_entries``."""

    def __init__(self, ttl_s: float, monotonic: Monotonic, max_entries: int):
        if ttl_s < 0 or max_entries < 1:
            raise ValueError(f"ttl_s ({ttl_s}) must be >= 0 and max_entries ({max_entries}) >= 1")
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def keep(self, key: str, value: V) -> None:
        if self._ttl_s <= 0:
            return
        self._entries[key] = (self._monotonic() + self._ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def drop_where(self, condition: Callable[[V], bool]) -> None:
        """Drop every entry whose value meets ``condition``."""
        for key in [k for k, (_, value) in self._entries.items() if condition(value)]:
            del self._entries[key]

    def update(self, change: Callable[[V], V]) -> None:
        """Every entry's value replaced by ``change(value)``, each keeping its expiry."""
        for key, (expires, value) in list(self._entries.items()):
            self._entries[key] = (expires, change(value))
