"""ext_authz's part in the gateway's rate limits: identity headers for the limiter, failed
authentications counted, an address over the limit refused before its secret is checked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from clearframe_runtime.principal import RATE_LIMIT_API_KEY_HEADER, RATE_LIMIT_SUBJECT_HEADER, PrincipalCodec
from envoycompat import ext_authz_pb2
from services.auth.adapters.ratelimit import RememberedClear
from services.auth.api import ExtAuthzServicer
from services.auth.ports import FailedAuthLimit, RateLimited
from services.auth.tests.fakes import FakeClock, MemoryCredentialStore, Seconds
from services.auth.tests.test_domain import authority

ADMIN_SECRET = "cfk_" + "a" * 40
REFUSAL = RateLimited((("retry-after", "42"), ("ratelimit", '"failed-auth";r=0;t=42')), '{"error":"rate limited"}')


@dataclass
class FakeFailedAuthLimit:
    limit: int
    failures: list[str] = field(default_factory=list)
    asked: int = 0

    async def blocked(self, client_ip: str) -> RateLimited | None:
        self.asked += 1
        return REFUSAL if self.failures.count(client_ip) >= self.limit else None

    async def failed(self, client_ip: str) -> RateLimited | None:
        if self.failures.count(client_ip) >= self.limit:
            return REFUSAL
        self.failures.append(client_ip)
        return None


def check(secret: str, ip: str = "203.0.113.7") -> ext_authz_pb2.CheckRequest:
    request = ext_authz_pb2.CheckRequest()
    request.attributes.source.address.socket_address.address = ip
    http = request.attributes.request.http
    http.method, http.path = "GET", "/v1/caller"
    http.headers["authorization"] = f"Bearer {secret}"
    return request


async def servicer(limit: FailedAuthLimit) -> ExtAuthzServicer:
    auth = authority(MemoryCredentialStore(), FakeClock())
    await auth.bootstrap_admin_key(ADMIN_SECRET)
    return ExtAuthzServicer(auth, PrincipalCodec("s" * 32), failures=limit)


async def test_an_allowed_key_carries_its_principal_and_key_id_for_the_limiter() -> None:
    answer = await (await servicer(FakeFailedAuthLimit(3))).Check(check(ADMIN_SECRET), None)
    headers = {h.header.key: h.header.value for h in answer.ok_response.headers}
    assert headers[RATE_LIMIT_SUBJECT_HEADER].startswith("apikey:k_")
    assert headers[RATE_LIMIT_API_KEY_HEADER] == headers[RATE_LIMIT_SUBJECT_HEADER].removeprefix("apikey:")


async def test_failures_are_counted_then_the_address_waits_even_with_a_valid_key() -> None:
    limit = FakeFailedAuthLimit(2)
    authz = await servicer(limit)
    codes = [(await authz.Check(check("wrong"), None)).denied_response.status.code for _ in range(3)]
    assert codes == [401, 401, 429]
    assert limit.failures == ["203.0.113.7", "203.0.113.7"]
    blocked = await authz.Check(check(ADMIN_SECRET), None)
    assert blocked.denied_response.status.code == 429
    headers = {h.header.key: h.header.value for h in blocked.denied_response.headers}
    assert headers["retry-after"] == "42" and headers["content-type"] == "application/json"
    assert blocked.denied_response.body == '{"error":"rate limited"}'
    # Another address is not affected.
    assert (await authz.Check(check(ADMIN_SECRET, ip="198.51.100.1"), None)).HasField("ok_response")


async def test_a_clear_address_is_asked_about_once_a_second() -> None:
    limit, clock = FakeFailedAuthLimit(2), Seconds()
    authz = await servicer(RememberedClear(limit, ttl_s=1.0, monotonic=clock))
    for _ in range(5):
        assert (await authz.Check(check(ADMIN_SECRET), None)).HasField("ok_response")
    assert limit.asked == 1
    clock.now = 1.0
    assert (await authz.Check(check(ADMIN_SECRET), None)).HasField("ok_response")
    assert limit.asked == 2


async def test_a_remembered_clear_address_is_refused_from_the_failure_that_tips_it_over() -> None:
    limit = FakeFailedAuthLimit(2)
    authz = await servicer(RememberedClear(limit, ttl_s=60.0, monotonic=Seconds()))
    assert (await authz.Check(check(ADMIN_SECRET), None)).HasField("ok_response")  # remembered as clear
    codes = [(await authz.Check(check("wrong"), None)).denied_response.status.code for _ in range(3)]
    assert codes == [401, 401, 429]
    # The failures forgot the clear answer: guessing right does not pay off, well within the minute.
    assert (await authz.Check(check(ADMIN_SECRET), None)).denied_response.status.code == 429


async def test_failures_seen_by_another_replica_are_met_within_the_ttl() -> None:
    limit, clock = FakeFailedAuthLimit(2), Seconds()
    authz = await servicer(RememberedClear(limit, ttl_s=1.0, monotonic=clock))
    assert (await authz.Check(check(ADMIN_SECRET), None)).HasField("ok_response")
    limit.failures += ["203.0.113.7"] * 2  # counted through another auth replica
    clock.now = 0.5
    assert (await authz.Check(check(ADMIN_SECRET), None)).HasField("ok_response")
    clock.now = 1.0
    assert (await authz.Check(check(ADMIN_SECRET), None)).denied_response.status.code == 429


async def test_a_question_that_overlapped_a_failure_keeps_nothing() -> None:
    release = asyncio.Event()

    class Slow(FakeFailedAuthLimit):
        async def blocked(self, client_ip: str) -> RateLimited | None:
            self.asked += 1
            if self.asked == 1:
                await release.wait()  # answers as the address stood before the failure below
                return None
            return REFUSAL if self.failures.count(client_ip) >= self.limit else None

    limit = Slow(1)
    remembered = RememberedClear(limit, ttl_s=60.0, monotonic=Seconds())
    question = asyncio.create_task(remembered.blocked("203.0.113.7"))
    await asyncio.sleep(0)
    assert await remembered.failed("203.0.113.7") is None  # the address is at its limit now
    release.set()
    assert await question is None
    # That answer was not kept: the next question is asked, and meets the limit.
    assert await remembered.blocked("203.0.113.7") == REFUSAL
    assert limit.asked == 2
