"""Fixtures shared by the cross-service tests: one mesh per test session, booted like `make run`.

The mesh runs on free ports beside any `make run` mesh. Its database is SQLite unless
CLEARFRAME_TEST_POSTGRES_URL names a PostgreSQL server: then a fresh database is created there for the
session and dropped after (see clearframe_runtime.testing; in CI that server is required).
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from clearframe_mesh.launcher import Mesh, MeshOptions
from clearframe_mesh.process import free_port
from clearframe_mesh.traces import TraceKeeper, TraceStore, decode_http, spans_of
from clearframe_runtime.testing import PostgresRequired, postgres_url, temporary_postgres_database

ADMIN_KEY = "cfk_test-admin-" + secrets.token_urlsafe(24)
LEGACY_SUBJECT = "discord-bot@legacy.test"
LEGACY_BURST = 3
#: The gateway's rate limits in the test mesh: high enough for every other test (see the file).
TEST_RATELIMIT_RULES = Path(__file__).parent / "ratelimit_rules.yaml"


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the OTLP receiver got it (ids in hex; parent_span_id '' for a root)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    name: str
    kind: str  # SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_INTERNAL …
    attributes: dict[str, Any]


def _attribute_value(value: common_pb2.AnyValue) -> Any:
    which = value.WhichOneof("value")
    return getattr(value, which) if which in ("string_value", "int_value", "double_value", "bool_value") else str(value)


@dataclass
class MetricSink(metrics_service_pb2_grpc.MetricsServiceServicer):
    """The same local OTLP receiver's metrics side: the (service.name, metric name) pairs it was sent."""

    received: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def Export(
        self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        with self.lock:
            for resource_metrics in request.resource_metrics:
                service = next(
                    (a.value.string_value for a in resource_metrics.resource.attributes if a.key == "service.name"), ""
                )
                for scope in resource_metrics.scope_metrics:
                    self.received.update((service, metric.name) for metric in scope.metrics)
        return metrics_service_pb2.ExportMetricsServiceResponse()

    def names_of(self, service: str) -> set[str]:
        with self.lock:
            return {name for who, name in self.received if who == service}


@dataclass
class SpanSink(trace_service_pb2_grpc.TraceServiceServicer):
    """A local OTLP receiver: keeps every span it is sent, over OTLP/gRPC and OTLP/HTTP (Triton's)."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: OTLP/HTTP traces URL (``http://127.0.0.1:<port>/v1/traces``), set by the fixture.
    http_url: str = ""
    #: What the services export over OTLP/gRPC as metrics (every second in the test mesh).
    metrics: MetricSink = field(default_factory=MetricSink)
    #: Every span also goes to this trace keeper's store (what `make run`'s keeper holds), set by the fixture.
    keeper: TraceKeeper | None = None

    def keep_json(self, body: bytes) -> None:
        """OTLP/HTTP's JSON encoding (ids are hex strings there, not base64): what Triton sends."""
        if self.keeper is not None:
            self.keeper.store.add(decode_http(body, "application/json", ""))
        request = json.loads(body)
        received = []
        for resource_spans in request.get("resourceSpans", []):
            attributes = resource_spans.get("resource", {}).get("attributes", [])
            service = next((a["value"].get("stringValue", "") for a in attributes if a["key"] == "service.name"), "")
            for scope in resource_spans.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    kind = span.get("kind", 0)
                    received.append(
                        ReceivedSpan(
                            trace_id=span["traceId"].lower(),
                            span_id=span["spanId"].lower(),
                            parent_span_id=span.get("parentSpanId", "").lower(),
                            service=service,
                            name=span["name"],
                            kind=trace_pb2.Span.SpanKind.Name(kind) if isinstance(kind, int) else kind,
                            attributes={
                                a["key"]: next(iter(a["value"].values()), None) for a in span.get("attributes", [])
                            },
                        )
                    )
        with self.lock:
            self.spans += received

    def keep(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        if self.keeper is not None:
            self.keeper.store.add(spans_of(request))
        with self.lock:
            for resource_spans in request.resource_spans:
                service = next(
                    (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), ""
                )
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        self.spans.append(
                            ReceivedSpan(
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                                service=service,
                                name=span.name,
                                kind=trace_pb2.Span.SpanKind.Name(span.kind),
                                attributes={a.key: _attribute_value(a.value) for a in span.attributes},
                            )
                        )

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.keep(request)
        return trace_service_pb2.ExportTraceServiceResponse()

    def services_of(self, trace_id: str) -> set[str]:
        return {span.service for span in self.trace(trace_id)}

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]


def _otlp_http_handler(sink: SpanSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            if "json" in (self.headers.get("content-type") or ""):
                sink.keep_json(body)
            else:
                sink.keep(trace_service_pb2.ExportTraceServiceRequest.FromString(body))
            answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def span_sink() -> Iterator[tuple[SpanSink, str]]:
    """(the sink, its OTLP/gRPC endpoint); ``sink.http_url`` is its OTLP/HTTP traces URL."""
    sink = SpanSink(keeper=TraceKeeper(TraceStore(), grpc_port=0, http_port=0))
    assert sink.keeper is not None
    sink.keeper.start()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)  # type: ignore[no-untyped-call]
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(sink.metrics, server)  # type: ignore[no-untyped-call]
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    http_server = ThreadingHTTPServer(("127.0.0.1", 0), _otlp_http_handler(sink))
    sink.http_url = f"http://127.0.0.1:{http_server.server_address[1]}/v1/traces"
    http_thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    http_thread.start()
    yield sink, f"http://127.0.0.1:{port}"
    http_server.shutdown()
    http_server.server_close()
    http_thread.join()
    server.stop(0)
    sink.keeper.stop()


class PurgeSink:
    """A CDN purge hook: records the surrogate keys of each purge request; answers 503 ``failures`` times
    first (the service must retry)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.failures = 0
        self.url = ""
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with sink.lock:
                    failing = sink.failures > 0
                    if failing:
                        sink.failures -= 1
                    else:
                        sink.requests.append(
                            {"surrogate_key": self.headers.get("surrogate-key", ""), "body": json.loads(body or b"{}")}
                        )
                self.send_response(503 if failing else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                del format, args

        return Handler

    def purged_keys(self) -> list[str]:
        with self.lock:
            return [r["surrogate_key"] for r in self.requests]


@pytest.fixture(scope="session")
def purge_sink() -> Iterator[PurgeSink]:
    sink = PurgeSink()
    server = ThreadingHTTPServer(("127.0.0.1", 0), sink.handler())
    sink.url = f"http://127.0.0.1:{server.server_address[1]}/purge"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sink
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str | None]:
    """A fresh PostgreSQL database for the mesh, or None for SQLite files."""
    try:
        url = postgres_url()
    except PostgresRequired as exc:
        pytest.fail(str(exc))
    if url is None:
        yield None
        return
    with temporary_postgres_database(url) as database:
        yield database


@pytest.fixture(scope="session")
def mesh(
    tmp_path_factory: pytest.TempPathFactory,
    span_sink: tuple[SpanSink, str],
    database_url: str | None,
    purge_sink: PurgeSink,
) -> Iterator[Mesh]:
    workdir: Path = tmp_path_factory.mktemp("mesh")
    # The mesh's own copy of the test rules: tests/test_ratelimit.py edits it (hot reload).
    rules = workdir / "ratelimit_rules.yaml"
    rules.write_text(TEST_RATELIMIT_RULES.read_text())
    options = MeshOptions.free(
        workdir,
        database_url=database_url,
        otlp_endpoint=span_sink[1],
        triton_otlp_traces_url=span_sink[0].http_url,
        extra_env={
            "CLEARFRAME_ADMIN_KEY": ADMIN_KEY,
            "CLEARFRAME_AUTH_LEGACY_TOKEN_SUBJECTS": LEGACY_SUBJECT,
            "CLEARFRAME_AUTH_LEGACY_TOKEN_BURST": str(LEGACY_BURST),
            "CLEARFRAME_AUTH_LEGACY_TOKEN_WINDOW_S": "3600",
            "CLEARFRAME_PURGE_URL": purge_sink.url,
            # Purge retries back off from 1 s; renditions are retried quickly in tests.
            "CLEARFRAME_RENDITION_RETRY_S": "2",
            "CLEARFRAME_RATELIMIT_RULES": str(rules),
            "CLEARFRAME_RATELIMIT_RELOAD_S": "0.2",
            # OTLP metrics to the span sink every second (60 s by default).
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        },
    )
    running = Mesh(options)
    try:
        running.start()
        running.wait_ready(timeout=120)
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def http(mesh: Mesh) -> Iterator[httpx.Client]:
    """A plain HTTP client on the gateway (no credentials)."""
    with httpx.Client(base_url=mesh.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="session")
def gateway_channel(mesh: Mesh) -> Iterator[grpc.Channel]:
    """A native gRPC channel to the gateway (Envoy), the same port as REST."""
    with grpc.insecure_channel(mesh.gateway_target) as channel:
        yield channel


@pytest.fixture(scope="module")
def keys(http: httpx.Client, admin_headers: dict[str, str]) -> dict[str, str]:
    """API keys of the asset, share-link and review-page tests, made once per module (modules needing
    others define their own ``keys``): configuration, uploads, a moderation reader and a reviewer."""
    return {
        "config": make_key(http, admin_headers, "config.read", "config.write"),
        "assets": make_key(http, admin_headers, "assets.write"),
        "read": make_key(http, admin_headers, "moderation.read"),
        "review": make_key(http, admin_headers, "moderation.read", "moderation.review"),
    }


def h(key: str) -> dict[str, str]:
    """Headers presenting an API key."""
    return {"X-API-Key": key}


def make_key(http: httpx.Client, admin_headers: dict[str, str], *permissions: str) -> str:
    """Create an API key with these permissions through the gateway; returns its secret."""
    response = http.post(
        "/v1/apikeys",
        headers=admin_headers,
        json={"display_name": f"test {' '.join(permissions)}", "permissions": list(permissions)},
    )
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    return secret


def make_token(http: httpx.Client, admin_headers: dict[str, str], subject: str, **body: object) -> dict[str, Any]:
    response = http.post("/v1/tokens", headers=admin_headers, json={"subject": subject, **body})
    assert response.status_code == 200, response.text
    token: dict[str, Any] = response.json()
    return token
