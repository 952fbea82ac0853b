"""Who may call each RPC: one declarative table, checked in one place.

:data:`RULES` maps every RPC of every Clearframe contract (``/package.Service/Method``) to a
:class:`Rule`: the permissions that admit a caller (any one of them; ``admin`` implies all), or
"public" (no credentials), or "any authenticated caller". :class:`AccessInterceptor`, installed by
``serve()`` in every service, verifies the signed principal the gateway forwarded and applies the
rule before the servicer runs, so servicers hold no permission checks of their own. A method that is
served but has no rule is refused (fail closed); ``tests/unit/test_contracts.py`` checks that every
RPC has one and that the README lists exactly the permissions used here.

A rule also names the *dialect* its refusals speak, because two legacy clients read them:

- ``SEED_000`` (`/token`, `/check`, `/batch`, `/stats`): seed 000's bots renew their token on a 403
  and SuperVisOr retries on 401/403, so a refusal there is 403 ``{"error":"forbidden"}`` — at the
  gateway (ext_authz) and in the service, where it is the RPC's ``google.api.HttpBody`` answer with
  ``x-http-status: 403``, the way these RPCs give every answer.
- ``MUSENEST`` (`/api/v1/analysis/config/…`): MuseNest's envelope with ``MISSING_API_KEY`` /
  ``INVALID_API_KEY`` from ext_authz (the gateway's Lua filter wraps the service's own errors).

The auth service derives what it needs about REST paths from the same table and the contracts'
``google.api.http`` bindings (:func:`rest_routes`): which paths are public, which speak which dialect,
and which are unknown (those it lets through, so that the gateway answers 404).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from clearframe_runtime.errors import PermissionDenied, Unauthenticated
from clearframe_runtime.principal import PERMISSIONS, Principal, PrincipalCodec


class Dialect(Enum):
    """How refusals of an RPC are worded (see the module docstring)."""

    CLEARFRAME = "clearframe"
    SEED_000 = "seed-000"
    MUSENEST = "musenest"


@dataclass(frozen=True)
class Rule:
    """Who may call one RPC."""

    #: Any one of these admits the caller; empty with ``public=False`` means any authenticated caller.
    any_of: frozenset[str] = frozenset()
    #: No credentials needed (the servicer decides what an anonymous caller gets).
    public: bool = False
    dialect: Dialect = Dialect.CLEARFRAME

    def admits(self, principal: Principal | None) -> bool:
        if self.public:
            return True
        if principal is None or not principal.authenticated:
            return False
        return not self.any_of or any(principal.has(p) for p in self.any_of)

    def describe(self) -> str:
        if self.public:
            return "public"
        return " or ".join(sorted(self.any_of)) if self.any_of else "any authenticated caller"


def needs(*permissions: str, dialect: Dialect = Dialect.CLEARFRAME) -> Rule:
    unknown = set(permissions) - PERMISSIONS
    if unknown or not permissions:
        raise ValueError(f"unknown permissions {sorted(unknown)}")
    return Rule(any_of=frozenset(permissions), dialect=dialect)


PUBLIC = Rule(public=True)
AUTHENTICATED = Rule()

_SEED = Dialect.SEED_000
_MUSENEST = Dialect.MUSENEST


def _service(full_name: str, rules: Mapping[str, Rule]) -> dict[str, Rule]:
    return {f"/{full_name}/{method}": rule for method, rule in rules.items()}


#: RPC (``/package.Service/Method``) → who may call it. The one place permissions are decided.
RULES: Mapping[str, Rule] = {
    **_service(
        "clearframe.auth.v1.AuthService",
        {
            "IssueToken": needs("tokens.issue"),
            "ListTokens": needs("tokens.issue"),
            "RevokeToken": needs("tokens.issue"),
            "RenewToken": needs("tokens.issue"),
            "ValidateToken": needs("tokens.issue"),
            "CreateApiKey": needs("admin"),
            "GetApiKey": needs("admin"),
            "ListApiKeys": needs("admin"),
            "RevokeApiKey": needs("admin"),
            "RotateApiKey": needs("admin"),
            "GetCaller": AUTHENTICATED,
            # Anyone may ask; the auth service answers by its own policy (key holder or migration list).
            "LegacyGetToken": Rule(public=True, dialect=_SEED),
            # The review page: a session from a moderation credential, and the page's static files.
            "CreateReviewSession": needs("moderation.read"),
            "GetReviewSession": needs("moderation.read"),
            "DeleteReviewSession": AUTHENTICATED,
            "GetReviewPageFile": PUBLIC,
        },
    ),
    # Envoy's ext_authz calls this directly, before there is a principal.
    **_service("envoy.service.auth.v3.Authorization", {"Check": PUBLIC}),
    **_service("clearframe.gateway.v1.GatewayService", {"GetHealth": PUBLIC}),
    # Envoy's rate limit filter calls this directly (the gateway routes no client to it); so does the auth
    # service, to count failed authentications.
    **_service("envoy.service.ratelimit.v3.RateLimitService", {"ShouldRateLimit": PUBLIC}),
    **_service(
        "clearframe.gateway.v1.RateLimitAdminService",
        {
            "CheckRateLimit": needs("admin"),
            "ResetRateLimits": needs("admin"),
            "ClearRateLimits": needs("admin"),
            "GetRateLimitStatus": needs("admin"),
        },
    ),
    **_service(
        "clearframe.scanner.v1.ScannerService",
        {
            "CreateScan": needs("scans.create"),
            "GetScan": needs("moderation.read"),
            "ListScans": needs("moderation.read"),
            "ListTagStats": needs("moderation.read"),
            "LegacyCheck": needs("scans.create", dialect=_SEED),
            "LegacyBatch": needs("scans.create", dialect=_SEED),
            # The bot's health check uses its token (scans.create); dashboards read it with moderation.read.
            "LegacyStats": needs("scans.create", "moderation.read", dialect=_SEED),
        },
    ),
    **_service(
        "clearframe.scanner.v1.ModerationService",
        {
            "CreateDecision": needs("moderation.review"),
            "GetDecision": needs("moderation.read"),
            "ListDecisions": needs("moderation.read"),
            "WatchDecisions": needs("moderation.read"),
            "ListReviewCases": needs("moderation.read"),
            "GetReviewCase": needs("moderation.read"),
            "DecideReviewCase": needs("moderation.review"),
            "ListAuditEntries": needs("moderation.read"),
            "ExportAuditEntries": needs("moderation.read"),
            "ClearAuditEntries": needs("admin"),
            "GetModerationStats": needs("moderation.read"),
            # Webhooks are configuration: their URLs and secrets decide where decisions go.
            "CreateWebhook": needs("config.write"),
            "GetWebhook": needs("config.write"),
            "ListWebhooks": needs("config.write"),
            "UpdateWebhook": needs("config.write"),
            "DeleteWebhook": needs("config.write"),
            "ListWebhookDeliveries": needs("moderation.read"),
            "ReplayWebhookDelivery": needs("config.write"),
        },
    ),
    # The scanner calls frames with the caller's principal, so a scan needs nothing more than scans.create.
    **_service(
        "clearframe.frames.v1.FramesService",
        {"ProbeMedia": needs("scans.create"), "ExtractFrames": needs("scans.create")},
    ),
    **_service(
        "clearframe.config.v1.AnalysisConfigService",
        {
            "GetAnalysisConfig": needs("config.read", dialect=_MUSENEST),
            "UpdateAnalysisConfig": needs("config.write", dialect=_MUSENEST),
            "DeleteAnalysisConfig": needs("config.delete", dialect=_MUSENEST),
            "ListAnalysisConfigAudit": needs("config.read", dialect=_MUSENEST),
            "ValidateAnalysisConfig": needs("config.read", dialect=_MUSENEST),
            "ClearAnalysisConfigCache": needs("config.write", dialect=_MUSENEST),
            "ResolveAnalysisConfig": needs("config.read"),
            "WatchAnalysisConfigs": needs("config.read"),
        },
    ),
    **_service(
        "clearframe.sharelinks.v1.AssetService",
        {
            "CreateAsset": needs("assets.write"),
            "GetAsset": needs("assets.write", "moderation.read"),
            "ListAssets": needs("assets.write", "moderation.read"),
            "UpdateAsset": needs("assets.write"),
            "DeleteAsset": needs("assets.write"),
            # Public delivery `/a/{asset_id}`; private assets check the URL's signature themselves.
            "DownloadAsset": PUBLIC,
            "SignAssetUrl": needs("assets.write"),
            "VerifySignedUrl": needs("assets.write"),
            "RescanAsset": needs("assets.write"),
            # The blurred still of media under review: reviewers only, never public.
            "GetAssetPreview": needs("moderation.read"),
            # The same media unblurred, frame by frame: review sessions only (the servicer checks the kind).
            "GetAssetReviewFrame": needs("moderation.read"),
        },
    ),
    **_service(
        "clearframe.sharelinks.v1.ShareLinkService",
        {
            "CreateShareLink": needs("assets.write"),
            "GetShareLink": needs("assets.write", "analytics.read"),
            "ListShareLinks": needs("assets.write", "analytics.read"),
            "DeleteShareLink": needs("assets.write"),
            "ResolveShareLink": PUBLIC,
            "VisitShareLink": PUBLIC,
            "GetShareCard": PUBLIC,
            "GetShareLinkQrCode": PUBLIC,
            "UpdateShareLink": needs("assets.write"),
            "BatchCreateShareLinks": needs("assets.write"),
            "GetShareMetadata": needs("assets.write", "analytics.read"),
        },
    ),
    **_service(
        "clearframe.analytics.v1.AnalyticsService",
        {
            "RecordEvent": needs("analytics.write"),
            "BatchRecordEvents": needs("analytics.write"),
            "StreamRecordEvents": needs("analytics.write"),
            # A tracking pixel: anyone may load it; the servicer limits it per client address.
            "Pingback": PUBLIC,
            "ListEvents": needs("analytics.read"),
            "GetAssetMetrics": needs("analytics.read"),
            "GetPlatformMetrics": needs("analytics.read"),
            "GetShortLinkMetrics": needs("analytics.read"),
            "ListTopAssets": needs("analytics.read"),
            "GetAssetTimeSeries": needs("analytics.read"),
            "PurgeEvents": needs("admin"),
        },
    ),
}

#: Standard services every server carries; open to anyone who can reach the service.
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/", "/grpc.reflection.v1.")
#: Packages whose generated modules hold the contracts above.
CONTRACT_PACKAGES = ("clearframe", "envoycompat")


def rule_for(method: str) -> Rule | None:
    """The rule of a gRPC method path; None when there is none (refused)."""
    if method.startswith(OPEN_PREFIXES):
        return PUBLIC
    return RULES.get(method)


def used_permissions() -> frozenset[str]:
    """Every permission some rule names, plus ``admin`` (which every rule admits)."""
    return frozenset({"admin", *(p for rule in RULES.values() for p in rule.any_of)})


# --- the contracts --------------------------------------------------------------------------------------


def contract_services() -> list[ServiceDescriptor]:
    """Every service of every generated contract module, sorted by name."""
    services: dict[str, ServiceDescriptor] = {}
    for package_name in CONTRACT_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if info.name.endswith("_pb2"):
                module = importlib.import_module(info.name)
                services.update({s.full_name: s for s in module.DESCRIPTOR.services_by_name.values()})
    return [services[name] for name in sorted(services)]


def contract_methods(services: Iterable[ServiceDescriptor]) -> Iterator[MethodDescriptor]:
    for service in services:
        yield from service.methods


@dataclass(frozen=True)
class RestRoute:
    """One ``google.api.http`` binding of an RPC and the rule of that RPC."""

    verb: str
    template: str
    method: str
    rule: Rule
    pattern: re.Pattern[str]
    #: Fewer variables first: `/config/{intent}/audit` is tried before `/config/{intent}/{model_id}`.
    variables: int


_VARIABLE = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")


def template_pattern(template: str) -> re.Pattern[str]:
    """A regular expression for a google.api.http path template (``{var}``, ``{var=**}``, ``*``, ``**``)."""
    out, position = [], 0
    for match in _VARIABLE.finditer(template):
        out.append(_literal(template[position : match.start()]))
        sub = match.group(2)
        out.append(".+" if sub and "**" in sub else "[^/]+")
        position = match.end()
    out.append(_literal(template[position:]))
    # The transcoder also accepts the path with one trailing slash (`/v1/caller/`).
    return re.compile("^" + "".join(out) + "/?$")


def _literal(text: str) -> str:
    return re.escape(text).replace(r"\*\*", ".*").replace(r"\*", "[^/]+")


def rest_routes(services: Iterable[ServiceDescriptor] | None = None) -> list[RestRoute]:
    """Every REST binding of every contract, with the rule of its RPC."""
    from google.api import annotations_pb2

    routes: list[RestRoute] = []
    for method in contract_methods(contract_services() if services is None else services):
        path = f"/{method.containing_service.full_name}/{method.name}"
        rule = RULES.get(path)
        if rule is None:
            continue
        http = method.GetOptions().Extensions[annotations_pb2.http]
        for binding in (http, *http.additional_bindings):
            verb = binding.WhichOneof("pattern")
            if verb is None:
                continue
            # A custom pattern (HEAD on the delivery routes) names its method itself.
            method_name, template = (
                (binding.custom.kind, binding.custom.path)
                if verb == "custom"
                else (verb.upper(), getattr(binding, verb))
            )
            routes.append(
                RestRoute(
                    method_name, template, path, rule, template_pattern(template), len(_VARIABLE.findall(template))
                )
            )
    return sorted(routes, key=lambda r: (r.variables, r.template))


class RestRouter:
    """Finds the RPC a REST request goes to, as the gateway's transcoder will."""

    def __init__(self, routes: Iterable[RestRoute]):
        self._routes = list(routes)

    def match(self, verb: str, path: str) -> RestRoute | None:
        """The binding for this method and (normalized, query-less) path; HEAD matches nothing, as there."""
        verb = verb.upper()
        return next((r for r in self._routes if r.verb == verb and r.pattern.match(path)), None)


# --- the one check --------------------------------------------------------------------------------------

_FORBIDDEN = json.dumps({"error": "forbidden"}, separators=(",", ":")).encode()


def refusal(rule: Rule, principal: Principal | None, method: str) -> Unauthenticated | PermissionDenied:
    if principal is None or not principal.authenticated:
        return Unauthenticated("credentials are required", reason="MISSING_CREDENTIALS")
    return PermissionDenied(
        f"{method} needs the permission {rule.describe()}", metadata={"permission": rule.describe()}
    )


class AccessInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no type hints
    """Applies :data:`RULES` to every call before its servicer runs."""

    def __init__(self, codec: PrincipalCodec):
        self._codec = codec

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method: str = handler_call_details.method
        rule = rule_for(method)
        if rule is not None and rule.public:
            return handler
        codec = self._codec

        def check(context: grpc.aio.ServicerContext) -> Exception | None:
            if rule is None:
                return PermissionDenied(f"{method} has no access rule", reason="NO_ACCESS_RULE")
            principal = codec.from_metadata(context.invocation_metadata())
            return None if rule.admits(principal) else refusal(rule, principal, method)

        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                denied = check(context)
                if denied is None:
                    return await inner_uu(request, context)
                if rule is not None and rule.dialect is Dialect.SEED_000:
                    return await _seed_forbidden(context)
                raise denied

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                denied = check(context)
                if denied is not None:
                    raise denied
                async for item in inner_us(request, context):
                    yield item

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            inner_su = handler.stream_unary

            async def stream_unary(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
                denied = check(context)
                if denied is not None:
                    raise denied
                return await inner_su(requests, context)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, handler.request_deserializer, handler.response_serializer
            )
        # No Clearframe contract has bidirectional RPCs; refuse rather than serve one unchecked.
        return _refusing_handler(handler, method)


async def _seed_forbidden(context: grpc.aio.ServicerContext) -> Any:
    """Seed 000's refusal as the RPC's own answer: HttpBody 403 {"error":"forbidden"}."""
    from google.api import httpbody_pb2

    await context.send_initial_metadata((("x-http-status", "403"),))
    return httpbody_pb2.HttpBody(content_type="application/json", data=_FORBIDDEN)


def _refusing_handler(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
        raise PermissionDenied(
            f"{method}: bidirectional streaming is not covered by the access rules", reason="NO_ACCESS_RULE"
        )

    return grpc.stream_stream_rpc_method_handler(refuse, handler.request_deserializer, handler.response_serializer)


__all__ = [
    "AUTHENTICATED",
    "PUBLIC",
    "RULES",
    "AccessInterceptor",
    "Dialect",
    "RestRoute",
    "RestRouter",
    "Rule",
    "contract_services",
    "needs",
    "rest_routes",
    "rule_for",
    "used_permissions",
]
