"""gRPC faces of the limiter: Envoy's ``RateLimitService`` and the admin ``RateLimitAdminService``.

Envoy sends the request's descriptor entries (services/gateway/envoy_config.py: client address, method,
path, and the principal and API key id that ext_authz put on the request); the answer carries the
headers of draft-ietf-httpapi-ratelimit-headers-10 (``RateLimit-Policy``, ``RateLimit``) and the
``X-RateLimit-Limit/Remaining/Reset`` trio on every limited route's response, and on a refusal
``Retry-After`` and a JSON body; Envoy turns the refusal into HTTP 429, or RESOURCE_EXHAUSTED for
native gRPC.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2

from clearframe.gateway.v1 import ratelimit_service_pb2 as admin_pb2
from clearframe.gateway.v1 import ratelimit_service_pb2_grpc as admin_pb2_grpc
from clearframe_runtime.access import RestRouter, rest_routes
from clearframe_runtime.errors import InvalidArgument
from envoycompat import ratelimit_pb2, ratelimit_pb2_grpc
from services.gateway.ratelimit.domain import attributes_of
from services.gateway.ratelimit.limiter import Outcome, RateLimiter, Verdict

Response = ratelimit_pb2.RateLimitResponse
#: A descriptor entry that makes ShouldRateLimit only ask (the auth service's check before it authenticates).
CHECK_ONLY_ENTRY = ("mode", "check")
UNITS = {
    1.0: Response.RateLimit.SECOND,
    60.0: Response.RateLimit.MINUTE,
    3600.0: Response.RateLimit.HOUR,
    86400.0: Response.RateLimit.DAY,
}


def rpc_resolver(router: RestRouter | None = None) -> Callable[[str, str], str | None]:
    """(method, path) → the RPC's gRPC path: a REST binding's, or the path itself for native gRPC."""
    routes = router or RestRouter(rest_routes())

    def resolve(method: str, path: str) -> str | None:
        route = routes.match(method, path)
        if route is not None:
            return route.method
        parts = path.split("/")
        if len(parts) == 3 and not parts[0] and "." in parts[1] and parts[2]:
            return path
        return None

    return resolve


def _seconds(value: float) -> int:
    return max(0, math.ceil(value - 1e-9))


def _window(outcome: Outcome) -> int:
    return max(1, round(outcome.rule.limit.window_s))


def response_headers(verdict: Verdict) -> list[tuple[str, str]]:
    """RateLimit-Policy/RateLimit (draft 10) for every enforced rule, X-RateLimit-* for the binding one,
    Retry-After on a refusal."""
    enforced = [o for o in verdict.enforced if o.decision is not None]
    binding = verdict.binding()
    if not enforced or binding is None or binding.decision is None:
        return []
    policy = ", ".join(f'"{o.rule.name}";q={o.rule.limit.limit};w={_window(o)}' for o in enforced)
    state = ", ".join(
        f'"{o.rule.name}";r={o.decision.remaining};t={_seconds(o.decision.reset_s)}' for o in enforced if o.decision
    )
    decision = binding.decision
    headers = [
        ("ratelimit-policy", policy),
        ("ratelimit", state),
        ("x-ratelimit-limit", f"{decision.limit}, {decision.limit};w={_window(binding)}"),
        ("x-ratelimit-remaining", str(decision.remaining)),
        ("x-ratelimit-reset", str(_seconds(decision.reset_s if verdict.allowed else decision.retry_after_s))),
    ]
    if not verdict.allowed:
        headers += [("retry-after", str(verdict.retry_after_s)), ("content-type", "application/json")]
    return headers


def refusal_body(verdict: Verdict) -> bytes:
    binding = verdict.binding()
    rule = binding.rule.name if binding is not None else ""
    message = f"rate limit exceeded ({rule}); retry after {verdict.retry_after_s} s"
    body = {
        "code": code_pb2.RESOURCE_EXHAUSTED,
        "error": "rate limited",
        "message": message,
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMITED",
                "domain": "clearframe",
                "metadata": {"rule": rule, "retry_after_s": str(verdict.retry_after_s)},
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retry_delay": f"{verdict.retry_after_s}s"},
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _status(verdict: Verdict) -> Response.DescriptorStatus:
    binding = verdict.binding()
    code = Response.OK if verdict.allowed else Response.OVER_LIMIT
    if binding is None or binding.decision is None:
        return Response.DescriptorStatus(code=code)
    decision = binding.decision
    return Response.DescriptorStatus(
        code=code,
        current_limit=Response.RateLimit(
            name=binding.rule.name,
            requests_per_unit=decision.limit,
            unit=UNITS.get(binding.rule.limit.window_s, Response.RateLimit.UNKNOWN),
        ),
        limit_remaining=decision.remaining,
        duration_until_reset=_duration(decision.reset_s),
    )


def _duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromMilliseconds(max(0, round(seconds * 1000)))
    return duration


class RateLimitServicer(ratelimit_pb2_grpc.RateLimitServiceServicer):
    """Envoy's ShouldRateLimit: every descriptor entry becomes an attribute the rules match on."""

    def __init__(self, limiter: RateLimiter, resolve: Callable[[str, str], str | None]):
        self._limiter = limiter
        self._resolve = resolve

    async def ShouldRateLimit(
        self, request: ratelimit_pb2.RateLimitRequest, context: grpc.aio.ServicerContext
    ) -> ratelimit_pb2.RateLimitResponse:
        entries = [(e.key, e.value) for d in request.descriptors for e in d.entries]
        # Internal callers (the auth service) may ask without counting; Envoy never sends this entry.
        consume = CHECK_ONLY_ENTRY not in entries
        entries = [e for e in entries if e != CHECK_ONLY_ENTRY]
        # A costly route's descriptor carries its weight (hits_addend); the heaviest one counts.
        weights = [d.hits_addend.value for d in request.descriptors if d.HasField("hits_addend")]
        hits = max(weights) if weights else (request.hits_addend or 1)
        verdict = await self._limiter.decide(
            attributes_of([e for e in entries if e[0] != "weight"], self._resolve), int(hits), consume=consume
        )
        status = _status(verdict)
        return Response(
            overall_code=status.code,
            statuses=[status] * max(1, len(request.descriptors)),
            response_headers_to_add=[
                ratelimit_pb2.RateLimitHeaderValue(key=k, value=v) for k, v in response_headers(verdict)
            ],
            raw_body=b"" if verdict.allowed else refusal_body(verdict),
        )


def _quota(outcome: Outcome) -> admin_pb2.RuleQuota:
    rule, decision = outcome.rule, outcome.decision
    quota = admin_pb2.RuleQuota(
        rule=rule.name,
        strategy=rule.limit.strategy.value,
        limit=rule.limit.limit,
        window=_duration(rule.limit.window_s),
        shadow=rule.shadow,
        store_failed=outcome.store_failed,
        allowed=decision is None or decision.allowed,
    )
    if decision is not None:
        quota.remaining = decision.remaining
        quota.reset.CopyFrom(_duration(decision.reset_s))
        quota.retry_after.CopyFrom(_duration(decision.retry_after_s))
    return quota


class RateLimitAdminServicer(admin_pb2_grpc.RateLimitAdminServiceServicer):
    """Seed 002's admin calls: check (without consuming), reset per address/principal, clear all, status."""

    def __init__(
        self,
        limiter: RateLimiter,
        resolve: Callable[[str, str], str | None],
        store_name: str,
        reload_error: Callable[[], str] = lambda: "",
    ):
        self._limiter = limiter
        self._resolve = resolve
        self._store_name = store_name
        self._reload_error = reload_error

    async def CheckRateLimit(
        self, request: admin_pb2.CheckRateLimitRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.CheckRateLimitResponse:
        a = request.attributes
        entries = [
            (k, getattr(a, k))
            for k in ("remote_address", "principal", "api_key", "method", "path", "rpc", "event")
            if getattr(a, k)
        ]
        verdict = await self._limiter.decide(attributes_of(entries, self._resolve), request.hits or 1, consume=False)
        return admin_pb2.CheckRateLimitResponse(allowed=verdict.allowed, rules=[_quota(o) for o in verdict.outcomes])

    async def ResetRateLimits(
        self, request: admin_pb2.ResetRateLimitsRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ResetRateLimitsResponse:
        if not request.remote_address and not request.principal:
            raise InvalidArgument(
                "name a remote_address, a principal or both", field="remote_address", reason="MISSING_CLIENT"
            )
        removed = 0
        if request.remote_address:
            removed += await self._limiter.reset(f"|remote_address={request.remote_address}|")
        if request.principal:
            removed += await self._limiter.reset(f"|principal={request.principal}|")
        return admin_pb2.ResetRateLimitsResponse(removed=removed)

    async def ClearRateLimits(
        self, request: admin_pb2.ClearRateLimitsRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ClearRateLimitsResponse:
        return admin_pb2.ClearRateLimitsResponse(removed=await self._limiter.clear())

    async def GetRateLimitStatus(
        self, request: admin_pb2.GetRateLimitStatusRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.GetRateLimitStatusResponse:
        rules = self._limiter.rules
        return admin_pb2.GetRateLimitStatusResponse(
            rules_source=rules.source,
            rules=[
                admin_pb2.RateLimitRule(
                    name=r.name,
                    strategy=r.limit.strategy.value,
                    limit=r.limit.limit,
                    window=_duration(r.limit.window_s),
                    cost=r.cost,
                    shadow=r.shadow,
                    fail_mode=r.fail_mode.value,
                    key=list(r.key),
                )
                for r in rules.rules
            ],
            store=self._store_name,
            store_available=self._limiter.store_available,
            counts=dict(self._limiter.counts),
            last_reload_error=self._reload_error(),
        )


__all__ = ["RateLimitAdminServicer", "RateLimitServicer", "refusal_body", "response_headers", "rpc_resolver"]
