"""The gateway's rate limit service as the auth service's failed-authentication limit.

Failures are reported with the descriptor ``{event: auth_failure, remote_address: <ip>}``; before a
secret is checked the same descriptor is asked with ``mode: check`` (nothing counted). Any error or a
slow answer lets the request through (fail open, logged at most once per ``log_every_s``): the limit
protects against guessing, it must not take authentication down with it.

:class:`RememberedClear` keeps, per address, a "not over the limit" answer for a second, so that the
calls of a busy client with a valid key do not each cost the limiter a call; see its docstring for why
that does not reopen guessing.
"""

from __future__ import annotations

import time

import grpc
import structlog

from clearframe_runtime.expiring import Expiring, Monotonic
from clearframe_runtime.server import client_channel
from envoycompat import ratelimit_pb2, ratelimit_pb2_grpc
from services.auth.ports import FailedAuthLimit, RateLimited

log = structlog.get_logger(__name__)
Entry = ratelimit_pb2.RateLimitDescriptor.Entry


class GatewayFailedAuthLimit:
    def __init__(self, target: str, *, timeout_s: float = 0.2, log_every_s: float = 30.0) -> None:
        self._channel = client_channel(target, 1024 * 1024)
        self._stub = ratelimit_pb2_grpc.RateLimitServiceStub(self._channel)
        self._timeout_s = timeout_s
        self._log_every_s = log_every_s
        self._last_log = 0.0

    async def _ask(self, client_ip: str, check_only: bool) -> RateLimited | None:
        entries = [Entry(key="event", value="auth_failure"), Entry(key="remote_address", value=client_ip or "unknown")]
        if check_only:
            entries.append(Entry(key="mode", value="check"))
        request = ratelimit_pb2.RateLimitRequest(
            domain="clearframe", descriptors=[ratelimit_pb2.RateLimitDescriptor(entries=entries)]
        )
        try:
            answer = await self._stub.ShouldRateLimit(request, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as exc:
            now = time.monotonic()
            if now - self._last_log >= self._log_every_s:
                self._last_log = now
                log.warning("auth.failure_limit_unavailable", code=exc.code().name, detail=exc.details())
            return None
        if answer.overall_code != ratelimit_pb2.RateLimitResponse.OVER_LIMIT:
            return None
        return RateLimited(
            tuple((h.key, h.value) for h in answer.response_headers_to_add), answer.raw_body.decode(errors="replace")
        )

    async def blocked(self, client_ip: str) -> RateLimited | None:
        return await self._ask(client_ip, check_only=True)

    async def failed(self, client_ip: str) -> RateLimited | None:
        return await self._ask(client_ip, check_only=False)

    async def close(self) -> None:
        await self._channel.close()


#: Addresses remembered at most (the oldest go first): bounded memory whatever callers send.
MAX_ADDRESSES = 10_000


class RememberedClear:
    """A :class:`FailedAuthLimit` that remembers an address found not over the limit for ``ttl_s``.

    Only that answer is kept, and only while the address does nothing that could change it here: any
    failure from it forgets it (and the failure itself is asked, so the one that tips the address over
    the limit is refused as before), and a question that overlapped a failure from anywhere keeps nothing.
    An address put over the limit by failures seen elsewhere (another auth replica) is refused at the
    latest ``ttl_s`` later, or at its first failure here; reloaded, stricter rules apply within ``ttl_s``.
    ``ttl_s = 0`` asks every time.
    """

    def __init__(self, limit: FailedAuthLimit, *, ttl_s: float, monotonic: Monotonic = time.monotonic) -> None:
        self._limit = limit
        self._clear: Expiring[bool] = Expiring(ttl_s, monotonic, MAX_ADDRESSES)
        #: Failures so far: a question that overlapped one does not keep its answer.
        self._failures = 0

    async def blocked(self, client_ip: str) -> RateLimited | None:
        if self._clear.get(client_ip):
            return None
        failures = self._failures
        answer = await self._limit.blocked(client_ip)
        if answer is None and failures == self._failures:
            self._clear.keep(client_ip, True)
        return answer

    async def failed(self, client_ip: str) -> RateLimited | None:
        self._failures += 1
        self._clear.drop(client_ip)
        return await self._limit.failed(client_ip)


__all__ = ["GatewayFailedAuthLimit", "RememberedClear"]
