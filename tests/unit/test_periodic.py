"""clearframe_runtime.periodic.every: the interval between rounds, the first round at once or after an
interval, and a failing round that does not end the work."""

from __future__ import annotations

import asyncio

import pytest

from clearframe_runtime.periodic import every


class Rounds:
    """Work that fails in its second round, and a sleep that ends the loop at its ``stop_after``-th call."""

    def __init__(self, stop_after: int):
        self.log: list[str] = []
        self.stop_after = stop_after
        self.sleeps = 0

    async def work(self) -> None:
        self.log.append("work")
        if self.log.count("work") == 2:
            raise RuntimeError("a bad round")

    async def sleep(self, seconds: float) -> None:
        self.log.append(f"sleep {seconds:g}")
        self.sleeps += 1
        if self.sleeps == self.stop_after:
            raise asyncio.CancelledError


async def test_at_once_works_first_and_a_failed_round_is_followed_by_the_next() -> None:
    rounds = Rounds(stop_after=3)
    with pytest.raises(asyncio.CancelledError):
        await every(60, rounds.work, "test", at_once=True, sleep=rounds.sleep)
    assert rounds.log == ["work", "sleep 60", "work", "sleep 60", "work", "sleep 60"]


async def test_by_default_the_first_round_waits_an_interval() -> None:
    rounds = Rounds(stop_after=2)
    with pytest.raises(asyncio.CancelledError):
        await every(5, rounds.work, "test", sleep=rounds.sleep)
    assert rounds.log == ["sleep 5", "work", "sleep 5"]
