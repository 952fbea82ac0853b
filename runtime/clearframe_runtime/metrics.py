"""OpenTelemetry metrics of one service process, served to Prometheus and sent by OTLP when configured.

:func:`configure_metrics` (called by :func:`clearframe_runtime.observability.configure`, so before a
service's ``main()``) installs the process's ``MeterProvider``. Instruments are created anywhere with
``opentelemetry.metrics.get_meter(__name__)`` — at import time too: the API's proxy meters bind to the
provider once it is set, and in unit tests (no provider) they record nothing.

Two readers share the same instruments:

- a pull reader behind ``GET /metrics`` on ``CLEARFRAME_METRICS_HOST:CLEARFRAME_METRICS_PORT`` (started by
  :func:`clearframe_runtime.server.serve`). It answers the Prometheus text format (0.0.4), or OpenMetrics
  when the scraper asks for it (``Accept: application/openmetrics-text``, what Prometheus sends): only
  OpenMetrics carries *exemplars*, and every histogram bucket carries the trace id and span id of one
  recent measurement that fell into it (the SDK's trace-based exemplar filter: measurements made inside
  a sampled span);
- an OTLP/gRPC exporter every ``OTEL_METRIC_EXPORT_INTERVAL`` ms (60 s by default) when
  ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and
  ``OTEL_METRICS_EXPORTER`` is not ``none``.

Names follow the OpenTelemetry → Prometheus convention: dots become underscores, the unit becomes a
suffix (``rpc.server.duration`` in ``ms`` → ``rpc_server_duration_milliseconds``) and counters end in
``_total``. Resource attributes are served once, as ``target_info``.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import grpc
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    MetricExporter,
    MetricReader,
    MetricsData,
    NumberDataPoint,
    PeriodicExportingMetricReader,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar, Sample

_UNIT_SUFFIXES = {
    "ms": "milliseconds",
    "s": "seconds",
    "us": "microseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "%": "percent",
}
_INVALID = re.compile(r"[^a-zA-Z0-9_]")

_provider: MeterProvider | None = None
_reader: PullReader | None = None
_resource: Resource | None = None


def prometheus_name(name: str, unit: str = "") -> str:
    """The Prometheus name of an instrument (without a counter's ``_total``)."""
    base = _INVALID.sub("_", name)
    if unit and not unit.startswith("{"):
        suffix = _UNIT_SUFFIXES.get(unit, "" if unit == "1" else _INVALID.sub("_", unit))
        if suffix and not base.endswith(f"_{suffix}"):
            base = f"{base}_{suffix}"
    return base


def _label_name(key: str) -> str:
    return _INVALID.sub("_", key)


def _label_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _labels(attributes: Mapping[str, Any] | None) -> dict[str, str]:
    return {_label_name(k): _label_value(v) for k, v in (attributes or {}).items()}


class PullReader(MetricReader):
    """A metric reader that collects when asked (a scrape) and keeps the last result."""

    def __init__(self) -> None:
        super().__init__()
        self._latest: MetricsData | None = None
        self._lock = threading.Lock()

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        self._latest = metrics_data

    def snapshot(self) -> MetricsData | None:
        with self._lock:
            self._latest = None
            self.collect()
            return self._latest

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def _exemplar(exemplars: Iterable[Any], low: float, high: float) -> Exemplar | None:
    """The newest exemplar whose value falls in the bucket (low, high] with a trace id."""
    best = None
    for exemplar in exemplars:
        newer = best is None or exemplar.time_unix_nano > best.time_unix_nano
        if exemplar.trace_id and low < exemplar.value <= high and newer:
            best = exemplar
    if best is None:
        return None
    return Exemplar(
        {"trace_id": format(best.trace_id, "032x"), "span_id": format(best.span_id or 0, "016x")},
        best.value,
        best.time_unix_nano / 1e9,
    )


def _histogram_buckets(point: HistogramDataPoint) -> list[tuple[str, float, Exemplar | None]]:
    """Cumulative (le, count, exemplar) of each bucket, +Inf last."""
    buckets: list[tuple[str, float, Exemplar | None]] = []
    cumulative = 0
    low = float("-inf")
    bounds = [*point.explicit_bounds, float("inf")]
    for bound, count in zip(bounds, point.bucket_counts, strict=False):
        cumulative += count
        le = "+Inf" if bound == float("inf") else repr(float(bound))
        exemplar = _exemplar(point.exemplars or (), low, bound)
        buckets.append((le, float(cumulative), exemplar))
        low = bound
    return buckets


class OtelCollector(Collector):
    """Translates the pull reader's metrics into prometheus_client families at each scrape."""

    def __init__(self, reader: PullReader, resource: Resource):
        self._reader = reader
        self._resource = resource
        #: The SDK hands each exemplar to one collection only: each bucket keeps its latest one here, so
        #: every scrape (whichever scraper asked first) shows it until a newer one replaces it.
        self._exemplars: dict[tuple[str, tuple[tuple[str, str], ...]], Exemplar] = {}

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("target", "Target metadata")
        info.add_metric([], _labels(self._resource.attributes))
        yield info
        data = self._reader.snapshot()
        if data is None:
            return
        families: dict[str, Metric] = {}
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    self._translate(metric, families)
        yield from families.values()

    def _translate(self, metric: Any, families: dict[str, Metric]) -> None:
        name = prometheus_name(metric.name, metric.unit or "")
        description = metric.description or metric.name
        data = metric.data
        if isinstance(data, Histogram):
            family = families.get(name)
            if not isinstance(family, HistogramMetricFamily):
                family = families[name] = HistogramMetricFamily(name, description)
            for histogram_point in data.data_points:
                self._add_histogram(family, _labels(histogram_point.attributes), histogram_point)
            return
        points: list[NumberDataPoint] = list(data.data_points)
        if isinstance(data, Sum) and data.is_monotonic:
            family = families.get(name)
            if not isinstance(family, CounterMetricFamily):
                family = families[name] = CounterMetricFamily(name, description)
            for point in points:
                labels = _labels(point.attributes)
                family.samples.append(_sample(f"{name}_total", labels, point.value))
            return
        if isinstance(data, Sum | Gauge):
            family = families.get(name)
            if not isinstance(family, GaugeMetricFamily):
                family = families[name] = GaugeMetricFamily(name, description)
            for point in points:
                family.samples.append(_sample(name, _labels(point.attributes), point.value))

    def _add_histogram(self, family: HistogramMetricFamily, labels: dict[str, str], point: HistogramDataPoint) -> None:
        for le, count, fresh in _histogram_buckets(point):
            bucket = {**labels, "le": le}
            key = (family.name, tuple(sorted(bucket.items())))
            if fresh is not None:
                self._exemplars[key] = fresh
            exemplar = self._exemplars.get(key)
            family.samples.append(_sample(f"{family.name}_bucket", bucket, count, exemplar))
        family.samples.append(_sample(f"{family.name}_count", labels, point.count))
        family.samples.append(_sample(f"{family.name}_sum", labels, point.sum))


def _sample(name: str, labels: dict[str, str], value: float, exemplar: Exemplar | None = None) -> Sample:
    return Sample(name, labels, float(value), None, exemplar)


def _otlp_exporter() -> MetricExporter | None:
    if os.environ.get("OTEL_METRICS_EXPORTER", "").strip().lower() == "none":
        return None
    if not (os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        return None
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def configure_metrics(resource: Resource) -> MeterProvider:
    """Install the process's MeterProvider (idempotent): the pull reader, and OTLP when configured."""
    global _provider, _reader, _resource
    if _provider is not None:
        return _provider
    reader = PullReader()
    readers: list[MetricReader] = [reader]
    exporter = _otlp_exporter()
    if exporter is not None:
        readers.append(PeriodicExportingMetricReader(exporter))
    provider = MeterProvider(metric_readers=readers, resource=resource)
    metrics.set_meter_provider(provider)
    _provider, _reader, _resource = provider, reader, resource
    return provider


def registry() -> CollectorRegistry:
    """A prometheus_client registry that serves this process's OpenTelemetry metrics."""
    if _reader is None or _resource is None:
        raise RuntimeError("configure_metrics() has not run")
    result = CollectorRegistry(auto_describe=False)
    result.register(OtelCollector(_reader, _resource))
    return result


class MetricsServer:
    """``GET /metrics`` on its own port, in a thread (prometheus_client's server: content negotiation,
    gzip)."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from prometheus_client import start_http_server

        self._server, self._thread = start_http_server(self.port, addr=self.host, registry=registry())
        self.port = self._server.server_address[1]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def shutdown_metrics() -> None:
    """Send the last OTLP batch (at process exit)."""
    global _provider, _reader
    if _provider is not None:
        _provider.shutdown()
        _provider, _reader = None, None


def metrics_configured() -> bool:
    return _provider is not None


__all__ = [
    "MetricsInterceptor",
    "MetricsServer",
    "OtelCollector",
    "PullReader",
    "configure_metrics",
    "metrics_configured",
    "prometheus_name",
    "registry",
    "shutdown_metrics",
]


# --- RED metrics of every RPC a server answers ----------------------------------------------------------

#: Not measured: probes (load balancers, the launcher and /healthz ask many times a minute) and reflection.
UNMEASURED_SERVICES = frozenset({"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"})
#: rpc.server.duration's bucket bounds in ms (the semantic conventions' advice), up to a minute.
DURATION_BUCKETS_MS = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000, 30000, 60000)

_rpc_meter = metrics.get_meter("clearframe.rpc")
_rpc_duration = _rpc_meter.create_histogram(
    "rpc.server.duration",
    unit="ms",
    description="Duration of inbound RPCs (a stream: until it ends)",
    explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS_MS),
)
_rpc_requests = _rpc_meter.create_counter(
    "rpc.server.requests", unit="{request}", description="Inbound RPCs answered, by status code"
)
_rpc_errors = _rpc_meter.create_counter(
    "rpc.server.errors", unit="{request}", description="Inbound RPCs that ended with a status other than OK"
)


def split_method(full_method: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` → (``pkg.Service``, ``Method``)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


def _status_value(code: object, default: grpc.StatusCode) -> int:
    if isinstance(code, grpc.StatusCode):
        return int(code.value[0])
    if isinstance(code, int):
        return code
    return int(default.value[0])


def record_rpc(service: str, method: str, status_code: int, duration_s: float) -> None:
    attributes: dict[str, str | int] = {
        "rpc.system": "grpc",
        "rpc.service": service,
        "rpc.method": method,
        "rpc.grpc.status_code": status_code,
    }
    _rpc_duration.record(duration_s * 1000.0, attributes)
    _rpc_requests.add(1, attributes)
    if status_code != 0:
        _rpc_errors.add(1, attributes)


class MetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no type information
    """Times every unary and server-streaming RPC and counts it by status code.

    Sits outside the error interceptor, so a domain error is seen with the status it was mapped to; the
    tracing interceptor (installed by the instrumentation) is outside this one, so each measurement is
    made inside the RPC's span and its exemplar names the trace."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        service, method = split_method(handler_call_details.method)
        if handler is None or service in UNMEASURED_SERVICES:
            return handler
        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = time.perf_counter()
                code = _status_value(None, grpc.StatusCode.UNKNOWN)
                try:
                    result = await inner_uu(request, context)
                    code = _status_value(context.code(), grpc.StatusCode.OK)
                    return result
                except asyncio.CancelledError:
                    code = _status_value(None, grpc.StatusCode.CANCELLED)
                    raise
                except Exception:
                    code = _status_value(context.code(), grpc.StatusCode.UNKNOWN)
                    raise
                finally:
                    record_rpc(service, method, code, time.perf_counter() - started)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                started = time.perf_counter()
                code = _status_value(None, grpc.StatusCode.UNKNOWN)
                try:
                    async for item in inner_us(request, context):
                        yield item
                    code = _status_value(context.code(), grpc.StatusCode.OK)
                except (asyncio.CancelledError, GeneratorExit):
                    code = _status_value(None, grpc.StatusCode.CANCELLED)
                    raise
                except Exception:
                    code = _status_value(context.code(), grpc.StatusCode.UNKNOWN)
                    raise
                finally:
                    record_rpc(service, method, code, time.perf_counter() - started)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        return handler
