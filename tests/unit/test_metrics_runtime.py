"""The runtime's metrics: OpenTelemetry → Prometheus names and exposition (text and OpenMetrics with
exemplars), and the RED interceptor on a real in-process grpc.aio server."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from clearframe_runtime import metrics as runtime_metrics
from clearframe_runtime.errors import NotFound
from clearframe_runtime.metrics import MetricsInterceptor, OtelCollector, PullReader, prometheus_name
from clearframe_runtime.status import ErrorInterceptor


def test_prometheus_names_follow_the_otel_convention() -> None:
    assert prometheus_name("rpc.server.duration", "ms") == "rpc_server_duration_milliseconds"
    assert prometheus_name("clearframe.review.queue.oldest_age", "s") == "clearframe_review_queue_oldest_age_seconds"
    assert prometheus_name("rpc.server.requests", "{request}") == "rpc_server_requests"
    assert prometheus_name("x.ratio", "1") == "x_ratio"


def _local() -> tuple[MeterProvider, CollectorRegistry]:
    reader = PullReader()
    resource = Resource.create({"service.name": "clearframe-test"})
    provider = MeterProvider(metric_readers=[reader], resource=resource)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OtelCollector(reader, resource))
    return provider, registry


def test_exposition_parses_and_histograms_carry_the_trace_id_as_exemplar() -> None:
    provider, registry = _local()
    meter = provider.get_meter("test")
    histogram = meter.create_histogram("work.duration", unit="ms", explicit_bucket_boundaries_advisory=[10, 100])
    counter = meter.create_counter("work.done", unit="{item}")
    gauge = meter.create_up_down_counter("work.open", unit="{item}")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("slow") as span:
        histogram.record(50, {"kind": "a"})
    histogram.record(5, {"kind": "a"})
    counter.add(3, {"kind": "a"})
    gauge.add(2)

    text = generate_latest(registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    histogram_samples = families["work_duration_milliseconds"].samples
    buckets = {s.labels["le"]: s.value for s in histogram_samples if s.name.endswith("_bucket")}
    assert buckets == {"10.0": 1.0, "100.0": 2.0, "+Inf": 2.0}
    done = [s for f in families.values() for s in f.samples if s.name == "work_done_total"]
    assert [(s.labels, s.value) for s in done] == [({"kind": "a"}, 3.0)]
    assert [s.value for s in families["work_open"].samples] == [2.0]
    info = [s for f in families.values() for s in f.samples if s.name == "target_info"]
    assert info[0].labels["service_name"] == "clearframe-test"

    openmetrics = generate_openmetrics(registry).decode()  # type: ignore[no-untyped-call]
    om = {f.name: f for f in parse_openmetrics(openmetrics)}  # type: ignore[no-untyped-call]
    exemplars = [s.exemplar for s in om["work_duration_milliseconds"].samples if s.exemplar is not None]
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert trace_id in {e.labels["trace_id"] for e in exemplars}
    assert any(e.value == 50 for e in exemplars)


async def _ok(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return b"ok"


async def _missing(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise NotFound("no such thing")


async def test_interceptor_counts_each_rpc_by_status_code(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime_metrics.configure_metrics(Resource.create({"service.name": "clearframe-unit"}))
    server = grpc.aio.server(interceptors=[MetricsInterceptor(), ErrorInterceptor()])
    handlers: dict[str, Any] = {
        "Ok": grpc.unary_unary_rpc_method_handler(_ok),
        "Missing": grpc.unary_unary_rpc_method_handler(_missing),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.v1.Things", handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            assert await channel.unary_unary("/test.v1.Things/Ok")(b"") == b"ok"
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await channel.unary_unary("/test.v1.Things/Missing")(b"")
            assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await server.stop(0)

    text = generate_latest(runtime_metrics.registry()).decode()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]

    def value(name: str, method: str, code: str) -> float:
        return sum(
            s.value
            for s in samples
            if s.name == name
            and s.labels.get("rpc_service") == "test.v1.Things"
            and s.labels.get("rpc_method") == method
            and s.labels.get("rpc_grpc_status_code") == code
        )

    assert value("rpc_server_requests_total", "Ok", "0") >= 1
    assert value("rpc_server_requests_total", "Missing", "5") >= 1
    assert value("rpc_server_errors_total", "Missing", "5") >= 1
    assert value("rpc_server_errors_total", "Ok", "0") == 0
    assert value("rpc_server_duration_milliseconds_count", "Ok", "0") >= 1
    assert all(s.labels.get("rpc_system") == "grpc" for s in samples if s.name.startswith("rpc_server_requests"))


def test_the_metrics_endpoint_binds_strictly_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from clearframe_runtime.server import _metrics_server

    runtime_metrics.configure_metrics(Resource.create({"service.name": "clearframe-unit"}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr("clearframe_runtime.topology.METRICS_PORTS", {"unit": port})
        assert _metrics_server("unit") is None  # the port map's default, taken: no endpoint, a warning
        monkeypatch.setenv("CLEARFRAME_METRICS_PORT", str(port))
        with pytest.raises(SystemExit, match="cannot bind the metrics endpoint"):
            _metrics_server("unit")
    monkeypatch.setenv("CLEARFRAME_METRICS_PORT", "0")
    assert _metrics_server("unit") is None
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    free_port = free.getsockname()[1]
    free.close()
    monkeypatch.setenv("CLEARFRAME_METRICS_PORT", str(free_port))
    server = _metrics_server("unit")
    assert server is not None
    try:
        response = httpx.get(f"http://127.0.0.1:{free_port}/metrics", timeout=5)
        assert response.status_code == 200 and "target_info" in response.text
    finally:
        server.stop()
