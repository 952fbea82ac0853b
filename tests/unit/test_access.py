"""The one permission check: a real gRPC server with the runtime's interceptors, the real auth servicer
on in-memory fakes, and a seed-000 servicer, called with signed, forged and missing principals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest
from google.api import httpbody_pb2

from clearframe.auth.v1 import auth_pb2, auth_pb2_grpc
from clearframe.frames.v1 import frames_service_pb2 as frames_pb2
from clearframe.frames.v1 import frames_service_pb2_grpc as frames_grpc
from clearframe.scanner.v1 import scanner_service_pb2 as scanner_pb2
from clearframe.scanner.v1 import scanner_service_pb2_grpc as scanner_grpc
from clearframe_runtime.access import AccessInterceptor, RestRouter, rest_routes, template_pattern
from clearframe_runtime.principal import (
    KIND_API_KEY,
    KIND_TOKEN,
    PRINCIPAL_HEADER,
    SIGNATURE_HEADER,
    Principal,
    PrincipalCodec,
)
from clearframe_runtime.status import ErrorInterceptor, error_info
from services.auth.api import AuthServicer
from services.auth.domain import Authority, LegacyTokenPolicy, TokenBucket
from services.auth.tests.fakes import FakeClock, MemoryCredentialStore

SECRET = "unit-test-internal-secret"
CODEC = PrincipalCodec(SECRET)


class SeedScanner(scanner_grpc.ScannerServiceServicer):
    """Answers /stats as the seed does, with no permission check of its own."""

    async def LegacyStats(
        self, request: scanner_pb2.LegacyStatsRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        await context.send_initial_metadata((("x-http-status", "200"),))
        return httpbody_pb2.HttpBody(content_type="application/json", data=b'{"count":0,"top_tags":[]}')


class OneFrame(frames_grpc.FramesServiceServicer):
    """A server stream with no permission check of its own."""

    async def ExtractFrames(
        self, request: frames_pb2.ExtractFramesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[frames_pb2.ExtractFramesResponse]:
        yield frames_pb2.ExtractFramesResponse()


def _unruled(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return b"served"


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    authority = Authority(
        MemoryCredentialStore(),
        token_ttl=timedelta(days=30),
        token_key=b"k" * 32,
        legacy_policy=LegacyTokenPolicy.parse("", ""),
        legacy_bucket=TokenBucket(5, 60),
        clock=FakeClock(),
    )
    server = grpc.aio.server(interceptors=[ErrorInterceptor(), AccessInterceptor(CODEC)])
    auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(authority, CODEC), server)
    scanner_grpc.add_ScannerServiceServicer_to_server(SeedScanner(), server)
    frames_grpc.add_FramesServiceServicer_to_server(OneFrame(), server)
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "clearframe.unruled.v1.Service",
                {"Do": grpc.unary_unary_rpc_method_handler(_unruled)},
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as open_channel:
        yield open_channel
    await server.stop(None)


def signed(*permissions: str, kind: str = KIND_API_KEY, codec: PrincipalCodec = CODEC) -> list[tuple[str, str]]:
    value, signature = codec.encode(Principal("apikey:k_unit", kind, frozenset(permissions), "127.0.0.1"))
    return [(PRINCIPAL_HEADER, value), (SIGNATURE_HEADER, signature)]


async def test_no_principal_is_unauthenticated(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await auth_pb2_grpc.AuthServiceStub(channel).ListApiKeys(auth_pb2.ListApiKeysRequest())
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(failure.value)
    assert info is not None and info.reason == "MISSING_CREDENTIALS"


async def test_a_forged_principal_counts_as_none(channel: grpc.aio.Channel) -> None:
    forged = signed("admin", codec=PrincipalCodec("the-attacker-s-own-secret"))
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await auth_pb2_grpc.AuthServiceStub(channel).ListApiKeys(auth_pb2.ListApiKeysRequest(), metadata=forged)
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_caller_without_the_permission_is_refused_naming_it(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await auth_pb2_grpc.AuthServiceStub(channel).ListApiKeys(
            auth_pb2.ListApiKeysRequest(), metadata=signed("config.read")
        )
    assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
    info = error_info(failure.value)
    assert info is not None and info.reason == "INSUFFICIENT_PERMISSIONS" and info.metadata["permission"] == "admin"


async def test_the_permission_admits_and_admin_implies_every_permission(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    issued = await stub.IssueToken(auth_pb2.IssueTokenRequest(subject="bot@x"), metadata=signed("tokens.issue"))
    assert len(issued.token) == 32
    listed = await stub.ListTokens(auth_pb2.ListTokensRequest(), metadata=signed("admin"))
    assert [t.subject for t in listed.tokens] == ["bot@x"]


async def test_get_caller_needs_any_authenticated_caller(channel: grpc.aio.Channel) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(channel)
    answer = await stub.GetCaller(auth_pb2.GetCallerRequest(), metadata=signed("analytics.read"))
    assert answer.caller.permissions == ["analytics.read"]
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await stub.GetCaller(auth_pb2.GetCallerRequest())
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_public_rpc_runs_without_a_principal(channel: grpc.aio.Channel) -> None:
    call = auth_pb2_grpc.AuthServiceStub(channel).LegacyGetToken(auth_pb2.LegacyGetTokenRequest(email="x@y"))
    body = await call
    # The servicer itself answered, by its own policy: nobody is on the migration list here.
    assert (await call.initial_metadata())["x-http-status"] == "403"
    assert json.loads(body.data) == {"error": "forbidden"}


async def test_seed_000_refusals_are_the_rpc_s_own_403_answer(channel: grpc.aio.Channel) -> None:
    stub = scanner_grpc.ScannerServiceStub(channel)
    for metadata in ([], signed("config.read")):
        call = stub.LegacyStats(scanner_pb2.LegacyStatsRequest(), metadata=metadata)
        body = await call
        assert (await call.initial_metadata())["x-http-status"] == "403"
        assert (body.content_type, body.data) == ("application/json", b'{"error":"forbidden"}')
    # Either of the rule's permissions admits: a token (scans.create) or a dashboard key (moderation.read).
    for metadata in (signed("scans.create", kind=KIND_TOKEN), signed("moderation.read")):
        call = stub.LegacyStats(scanner_pb2.LegacyStatsRequest(), metadata=metadata)
        assert json.loads((await call).data) == {"count": 0, "top_tags": []}


async def test_server_streams_are_checked_before_the_first_message(channel: grpc.aio.Channel) -> None:
    stub = frames_grpc.FramesServiceStub(channel)
    for metadata, code in ((signed(), grpc.StatusCode.PERMISSION_DENIED), ([], grpc.StatusCode.UNAUTHENTICATED)):
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            [m async for m in stub.ExtractFrames(frames_pb2.ExtractFramesRequest(), metadata=metadata)]
        assert failure.value.code() == code
    frames = [m async for m in stub.ExtractFrames(frames_pb2.ExtractFramesRequest(), metadata=signed("scans.create"))]
    assert len(frames) == 1


async def test_a_method_without_a_rule_is_refused(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary("/clearframe.unruled.v1.Service/Do")
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await call(b"", metadata=signed("admin"))
    assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
    info = error_info(failure.value)
    assert info is not None and info.reason == "NO_ACCESS_RULE"


@pytest.mark.parametrize(
    ("template", "path", "matches"),
    [
        ("/v1/tokens/{token_id}:revoke", "/v1/tokens/abc:revoke", True),
        ("/v1/tokens/{token_id}:revoke", "/v1/tokens/abc:renew", False),
        ("/v1/tokens/{token_id}:revoke", "/v1/tokens/a/b:revoke", False),
        ("/v1/tokens", "/v1/tokens/x", False),
        ("/v1/tokens", "/v1/tokens/", True),
        ("/v1/tokens", "/v1/tokens//", False),
        ("/v1/webhooks/{webhook.webhook_id}", "/v1/webhooks/w1", True),
        ("/v1/{name=files/**}", "/v1/files/a/b", True),
        ("/v1/*/x", "/v1/any/x", True),
        ("/v1/*/x", "/v1/a/b/x", False),
    ],
)
def test_http_templates(template: str, path: str, matches: bool) -> None:
    assert bool(template_pattern(template).match(path)) is matches


def test_rest_router_finds_each_binding_as_the_transcoder_does() -> None:
    router = RestRouter(rest_routes())

    def found(verb: str, path: str) -> str | None:
        route = router.match(verb, path)
        return route.method.rsplit("/", 1)[1] if route else None

    assert found("GET", "/token") == "LegacyGetToken"
    assert found("HEAD", "/stats") is None  # the transcoder maps no HEAD either
    assert found("GET", "/stats/") == "LegacyStats"  # … but does accept one trailing slash
    assert found("GET", "/api/v1/analysis/config/paysite/") == "GetAnalysisConfig"
    assert found("POST", "/check") == "LegacyCheck"
    assert found("GET", "/check") is None
    assert found("POST", "/v1/tokens:validate") == "ValidateToken"
    assert found("POST", "/v1/tokens") == "IssueToken"
    assert found("GET", "/api/v1/analysis/config/paysite/audit") == "ListAnalysisConfigAudit"
    assert found("GET", "/api/v1/analysis/config/paysite/model-7") == "GetAnalysisConfig"
    assert found("POST", "/no/such/path") is None
    assert found("POST", "/scan") is None
