"""Fixtures shared by the cross-service tests: one mesh per test session, booted like `make run`.

The mesh runs on free ports beside any `make run` mesh. Its database is SQLite unless
CLEARFRAME_TEST_POSTGRES_URL names a PostgreSQL server: then a fresh database is created there for the
session and dropped after (see clearframe_runtime.testing; in CI that server is required).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from clearframe_mesh.launcher import Mesh, MeshOptions
from clearframe_mesh.process import free_port
from clearframe_runtime.testing import PostgresRequired, postgres_url, temporary_postgres_database

ADMIN_KEY = "cfk_test-admin-" + secrets.token_urlsafe(24)
LEGACY_SUBJECT = "discord-bot@legacy.test"
LEGACY_BURST = 3


@dataclass
class SpanSink(trace_service_pb2_grpc.TraceServiceServicer):
    """A local OTLP/gRPC receiver: keeps every span it is sent."""

    spans: list[tuple[str, str, str]] = field(default_factory=list)  # (trace id hex, service, span name)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def Export(self, request, context):
        with self.lock:
            for resource_spans in request.resource_spans:
                service = next(
                    (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), ""
                )
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        self.spans.append((span.trace_id.hex(), service, span.name))
        return trace_service_pb2.ExportTraceServiceResponse()

    def services_of(self, trace_id: str) -> set[str]:
        with self.lock:
            return {service for tid, service, _ in self.spans if tid == trace_id}


@pytest.fixture(scope="session")
def span_sink() -> Iterator[tuple[SpanSink, str]]:
    sink = SpanSink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    yield sink, f"http://127.0.0.1:{port}"
    server.stop(0)


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
def mesh(tmp_path_factory: pytest.TempPathFactory, span_sink, database_url) -> Iterator[Mesh]:
    workdir: Path = tmp_path_factory.mktemp("mesh")
    options = MeshOptions.free(
        workdir,
        database_url=database_url,
        otlp_endpoint=span_sink[1],
        extra_env={
            "CLEARFRAME_ADMIN_KEY": ADMIN_KEY,
            "CLEARFRAME_AUTH_LEGACY_TOKEN_SUBJECTS": LEGACY_SUBJECT,
            "CLEARFRAME_AUTH_LEGACY_TOKEN_BURST": str(LEGACY_BURST),
            "CLEARFRAME_AUTH_LEGACY_TOKEN_WINDOW_S": "3600",
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


def make_key(http: httpx.Client, admin_headers: dict[str, str], *permissions: str) -> str:
    """Create an API key with these permissions through the gateway; returns its secret."""
    response = http.post(
        "/v1/apikeys",
        headers=admin_headers,
        json={"display_name": f"test {' '.join(permissions)}", "permissions": list(permissions)},
    )
    assert response.status_code == 200, response.text
    return response.json()["secret"]


def make_token(http: httpx.Client, admin_headers: dict[str, str], subject: str, **body: object) -> dict:
    response = http.post("/v1/tokens", headers=admin_headers, json={"subject": subject, **body})
    assert response.status_code == 200, response.text
    return response.json()
