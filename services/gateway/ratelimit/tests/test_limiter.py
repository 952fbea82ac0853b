"""The limiter: every matching rule must allow, costs, shadow rules, and a store that fails or is slow
(fail open by default, fail closed per rule, bounded time, recovery without restart), including a real
Redis server this test starts and stops itself (never the shared one)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.gateway.ratelimit.adapters.memory import MemoryCounterStore
from services.gateway.ratelimit.adapters.redis_store import RedisCounterStore, connect
from services.gateway.ratelimit.api import refusal_body, response_headers
from services.gateway.ratelimit.domain import Decision, FailMode, Limit, Rule, RuleSet, Strategy
from services.gateway.ratelimit.limiter import RateLimiter

T0 = 1_800_000_000.0
ADDRESS = {"remote_address": "10.0.0.1", "principal": "bot@example.org", "rpc": "/x.v1.S/Scan"}


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rule(name: str, limit: int, **kwargs: object) -> Rule:
    defaults: dict[str, object] = {"key": ("remote_address",), "limit": Limit(Strategy.FIXED_WINDOW, limit, 60.0)}
    defaults.update(kwargs)
    return Rule(name=name, **defaults)  # type: ignore[arg-type]


def limiter_of(*rules: Rule, store: object | None = None, **kwargs: object) -> RateLimiter:
    return RateLimiter(
        store if store is not None else MemoryCounterStore(),  # type: ignore[arg-type]
        lambda: RuleSet(tuple(rules)),
        Clock(),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_every_matching_rule_must_allow() -> None:
    limiter = limiter_of(rule("per-address", 5), rule("per-principal", 2, key=("principal",)))
    verdicts = [await limiter.decide(ADDRESS) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    refused = verdicts[-1]
    assert refused.binding() is not None and refused.binding().rule.name == "per-principal"  # type: ignore[union-attr]
    # Anonymous requests skip the per-principal rule and only meet the per-address one.
    anonymous = {k: v for k, v in ADDRESS.items() if k != "principal"}
    assert (await limiter.decide(anonymous)).allowed
    assert limiter.counts["limited"] == 1 and limiter.counts["limited:per-principal"] == 1


async def test_cost_and_hits_addend_multiply() -> None:
    limiter = limiter_of(rule("scans", 10, cost=3))
    assert (await limiter.decide(ADDRESS)).allowed  # 3
    assert (await limiter.decide(ADDRESS, hits=2)).allowed  # 9
    assert not (await limiter.decide(ADDRESS)).allowed  # 12 > 10


async def test_a_shadow_rule_counts_but_never_refuses() -> None:
    limiter = limiter_of(rule("watch", 1, shadow=True))
    assert all([(await limiter.decide(ADDRESS)).allowed for _ in range(3)])
    assert limiter.counts["shadow_limited:watch"] == 2
    assert response_headers(await limiter.decide(ADDRESS)) == []  # shadow rules write no headers


async def test_headers_and_body_of_a_refusal() -> None:
    limiter = limiter_of(rule("burst", 2))
    allowed = dict(response_headers(await limiter.decide(ADDRESS)))
    assert allowed["ratelimit-policy"] == '"burst";q=2;w=60'
    assert allowed["ratelimit"] == '"burst";r=1;t=60'
    assert allowed["x-ratelimit-remaining"] == "1" and "retry-after" not in allowed
    await limiter.decide(ADDRESS)
    verdict = await limiter.decide(ADDRESS)
    refused = dict(response_headers(verdict))
    assert refused["retry-after"] == "60" and refused["content-type"] == "application/json"
    assert refused["x-ratelimit-reset"] == "60"
    assert b'"reason":"RATE_LIMITED"' in refusal_body(verdict)


class BrokenStore(MemoryCounterStore):
    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.calls = 0
        self.broken = True

    async def hit(self, counter: str, limit: Limit, cost: int, now: float, *, consume: bool = True) -> Decision:
        self.calls += 1
        if self.broken:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            raise ConnectionError("store down")
        return await super().hit(counter, limit, cost, now, consume=consume)


async def test_a_failing_store_fails_open_by_default_closed_per_rule_and_recovers() -> None:
    store = BrokenStore()
    now = [0.0]
    limiter = limiter_of(
        rule("open", 1),
        rule("closed", 1, fail_mode=FailMode.CLOSED, key=("principal",)),
        store=store,
        retry_store_after_s=1.0,
        monotonic=lambda: now[0],
    )
    verdict = await limiter.decide(ADDRESS)
    assert not verdict.allowed and verdict.retry_after_s == 1
    assert {o.rule.name: o.store_failed for o in verdict.outcomes} == {"open": True, "closed": True}
    anonymous = {k: v for k, v in ADDRESS.items() if k != "principal"}
    assert (await limiter.decide(anonymous)).allowed  # only the fail-open rule applies
    assert store.calls == 2  # the second decision did not wait for the store again
    assert limiter.counts["failed_open"] == 2 and limiter.counts["failed_closed"] == 1
    assert not limiter.store_available
    store.broken = False
    now[0] = 1.5
    assert (await limiter.decide(anonymous)).allowed
    assert limiter.store_available
    assert not (await limiter.decide(anonymous)).allowed  # counting again: the limit is 1


async def test_a_slow_store_costs_at_most_the_timeout() -> None:
    limiter = limiter_of(rule("open", 1), store=BrokenStore(delay_s=5.0), timeout_s=0.05)
    started = time.monotonic()
    verdict = await limiter.decide(ADDRESS)
    assert verdict.allowed
    assert time.monotonic() - started < 0.5
    assert limiter.counts["store_errors"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OwnRedis:
    """A redis-server of this test's own, on a free port, with no persistence."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (the Redis failure tests start their own)")
        self.binary, self.directory, self.port = binary, directory, _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_redis_stopped_then_restarted(own_redis: OwnRedis) -> None:
    # Timeouts generous enough for a loaded machine: a stopped server refuses connections at once.
    store = RedisCounterStore(connect(own_redis.url, timeout_s=2.0))
    now = [0.0]
    limiter = limiter_of(
        rule("open", 2),
        rule("closed", 2, fail_mode=FailMode.CLOSED, key=("principal",)),
        store=store,
        timeout_s=2.0,
        retry_store_after_s=0.5,
        monotonic=lambda: now[0],
    )
    try:
        assert (await limiter.decide(ADDRESS)).allowed
        own_redis.stop()
        started = time.monotonic()
        refused = await limiter.decide(ADDRESS)
        assert time.monotonic() - started < 10  # answered by the fail mode, not left hanging
        assert not refused.allowed  # the closed rule refuses
        assert [o.rule.name for o in refused.outcomes if o.refuses] == ["closed"]
        anonymous = {k: v for k, v in ADDRESS.items() if k != "principal"}
        assert (await limiter.decide(anonymous)).allowed  # fail open
        assert limiter.counts["store_errors"] >= 1 and not limiter.store_available
        own_redis.start()
        now[0] = 1.0
        # Asked again after the pause: the counters are gone with the old server, so a fresh count.
        assert (await limiter.decide(ADDRESS)).allowed
        assert limiter.store_available
        assert (await limiter.decide(ADDRESS)).allowed
        assert not (await limiter.decide(ADDRESS)).allowed
    finally:
        await store.close()


async def test_should_rate_limit_answers_envoy_and_asks_without_counting_in_check_mode() -> None:
    from envoycompat import ratelimit_pb2
    from services.gateway.ratelimit.api import RateLimitServicer, rpc_resolver

    limiter = limiter_of(rule("failed-auth", 1, match={"event": ("auth_failure",)}))
    servicer = RateLimitServicer(limiter, rpc_resolver())
    Entry = ratelimit_pb2.RateLimitDescriptor.Entry

    def request(*extra: tuple[str, str]) -> ratelimit_pb2.RateLimitRequest:
        entries = [Entry(key="event", value="auth_failure"), Entry(key="remote_address", value="10.0.0.9")]
        entries += [Entry(key=k, value=v) for k, v in extra]
        return ratelimit_pb2.RateLimitRequest(
            domain="clearframe", descriptors=[ratelimit_pb2.RateLimitDescriptor(entries=entries)]
        )

    OK, OVER = ratelimit_pb2.RateLimitResponse.OK, ratelimit_pb2.RateLimitResponse.OVER_LIMIT
    for _ in range(3):
        assert (await servicer.ShouldRateLimit(request(("mode", "check")), None)).overall_code == OK
    counted = await servicer.ShouldRateLimit(request(), None)
    assert counted.overall_code == OK and counted.statuses[0].limit_remaining == 0
    refused = await servicer.ShouldRateLimit(request(("mode", "check")), None)
    assert refused.overall_code == OVER
    assert refused.statuses[0].current_limit.name == "failed-auth"
    assert b'"rule":"failed-auth"' in refused.raw_body
    assert ("retry-after", "60") in [(h.key, h.value) for h in refused.response_headers_to_add]
    # Requests no rule matches: OK, no headers.
    other = ratelimit_pb2.RateLimitRequest(
        descriptors=[ratelimit_pb2.RateLimitDescriptor(entries=[Entry(key="remote_address", value="10.0.0.9")])]
    )
    answer = await servicer.ShouldRateLimit(other, None)
    assert answer.overall_code == OK and not answer.response_headers_to_add


async def test_a_weighted_descriptor_sets_the_hits_of_the_whole_request() -> None:
    from envoycompat import ratelimit_pb2
    from services.gateway.ratelimit.api import RateLimitServicer, rpc_resolver

    limiter = limiter_of(rule("units", 25))
    servicer = RateLimitServicer(limiter, rpc_resolver())
    Entry = ratelimit_pb2.RateLimitDescriptor.Entry
    request = ratelimit_pb2.RateLimitRequest(
        descriptors=[
            ratelimit_pb2.RateLimitDescriptor(entries=[Entry(key="remote_address", value="10.0.0.1")]),
            ratelimit_pb2.RateLimitDescriptor(entries=[Entry(key="weight", value="/x.v1.S/Scan")]),
        ]
    )
    request.descriptors[1].hits_addend.value = 10
    remaining = [(await servicer.ShouldRateLimit(request, None)).statuses[0].limit_remaining for _ in range(2)]
    assert remaining == [15, 5]
    third = await servicer.ShouldRateLimit(request, None)
    assert third.overall_code == ratelimit_pb2.RateLimitResponse.OVER_LIMIT and len(third.statuses) == 2
