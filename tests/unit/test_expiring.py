"""The services' short-lived cache: entries expire at their TTL, the oldest go beyond the bound, TTL 0
keeps nothing, an update keeps each entry's expiry."""

from __future__ import annotations

import pytest

from clearframe_runtime.expiring import Expiring


class Seconds:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_at_their_ttl_and_updates_keep_the_expiry() -> None:
    clock = Seconds()
    cache: Expiring[int] = Expiring(2.0, clock, 10)
    cache.keep("a", 1)
    clock.now = 1.0
    cache.keep("b", 2)
    cache.update(lambda v: v * 10)
    assert (cache.get("a"), cache.get("b")) == (10, 20)
    clock.now = 2.0
    assert cache.get("a") is None and cache.get("b") == 20
    clock.now = 3.0
    assert cache.get("b") is None and len(cache) == 0


def test_bounded_oldest_first_zero_ttl_keeps_nothing_and_bad_settings_are_refused() -> None:
    cache: Expiring[str] = Expiring(60.0, Seconds(), 2)
    for key in "abc":
        cache.keep(key, key)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, "b", "c")
    cache.drop("b")
    cache.clear()
    assert len(cache) == 0
    off: Expiring[str] = Expiring(0.0, Seconds(), 2)
    off.keep("a", "a")
    assert off.get("a") is None
    with pytest.raises(ValueError, match="ttl_s"):
        Expiring(-1.0, Seconds(), 2)
    with pytest.raises(ValueError, match="max_entries"):
        Expiring(1.0, Seconds(), 0)


def test_drop_where_drops_the_matching_entries() -> None:
    cache: Expiring[int] = Expiring(60.0, Seconds(), 10)
    for i, key in enumerate("abcd"):
        cache.keep(key, i)
    cache.drop_where(lambda v: v % 2 == 0)
    assert [cache.get(k) for k in "abcd"] == [None, 1, None, 3]
