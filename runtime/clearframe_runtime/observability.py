"""structlog JSON logs and OpenTelemetry tracing, set up once per process, before anything else.

:func:`clearframe_runtime.server.run_service` calls :func:`configure` first thing, before a service's
``main()`` builds a single channel or client: the gRPC instrumentation patches the channel and server
constructors, so a channel created earlier would carry no trace context.

Every log line carries ``trace_id`` and ``span_id`` of the current span, so a log line can be found
from a trace and the other way round. Spans are exported over OTLP/gRPC when
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, the standard
OpenTelemetry variables; otherwise context still propagates (W3C ``traceparent``) but nothing is exported.
Metrics are set up here too (:mod:`clearframe_runtime.metrics`); ``serve()`` opens their endpoint.

Health probes (``grpc.health.v1.Health``) are not traced on the server side: load balancers and the
launcher ask many times a second and each would start a trace of its own.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic_settings import BaseSettings, SettingsConfigDict

from clearframe_runtime.metrics import configure_metrics, shutdown_metrics

HEALTH_SERVICE = "grpc.health.v1.Health"
_configured: TracerProvider | None = None


class ObservabilitySettings(BaseSettings):
    """The settings needed before a service's own settings are read (they may be invalid)."""

    model_config = SettingsConfigDict(env_prefix="CLEARFRAME_", extra="ignore", frozen=True)

    #: structlog level name.
    log_level: str = "INFO"
    #: Port of the Prometheus endpoint (``GET /metrics``); unset: the service's port in the port map
    #: (:data:`clearframe_runtime.topology.METRICS_PORTS`), 0: no endpoint.
    metrics_port: int | None = None
    #: Address the Prometheus endpoint binds (``0.0.0.0`` in a container).
    metrics_host: str = "127.0.0.1"


def service_resource_name(service: str) -> str:
    """The ``service.name`` of a Clearframe service's spans, e.g. ``clearframe-scanner``."""
    return f"clearframe-{service}"


def _add_trace_context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict["trace_id"] = format(span_context.trace_id, "032x")
        event_dict["span_id"] = format(span_context.span_id, "016x")
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stderr: timestamp, level, service, event, trace context and the event's fields."""
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_context,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def service_resource(service: str) -> Resource:
    """The OpenTelemetry resource of a service's spans and metrics."""
    return Resource.create({"service.name": service_resource_name(service)})


def configure_tracing(service: str) -> TracerProvider:
    """Install the tracer provider and the grpc.aio instrumentation (server and client side).

    Idempotent. Must run before the first ``grpc.aio.server()`` or channel is created.
    """
    global _configured
    if _configured is not None:
        return _configured
    provider = TracerProvider(resource=service_resource(service))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=500))
    trace.set_tracer_provider(provider)

    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient, GrpcAioInstrumentorServer, filters

    server = GrpcAioInstrumentorServer(filter_=filters.negate(filters.service_name(HEALTH_SERVICE)))  # type: ignore[no-untyped-call]
    server.instrument()
    GrpcAioInstrumentorClient().instrument()  # type: ignore[no-untyped-call]
    _configured = provider
    return provider


def configure(service: str) -> None:
    """Logs, tracing and metrics of one service process (``run_service`` calls it before ``main()``)."""
    configure_logging(service, ObservabilitySettings().log_level)
    configure_tracing(service)
    configure_metrics(service_resource(service))


def tracing_configured() -> bool:
    return _configured is not None


def shutdown_tracing() -> None:
    """Export the spans still buffered, and the last metrics when OTLP is configured (at process exit)."""
    global _configured
    shutdown_metrics()
    if _configured is not None:
        _configured.shutdown()
        _configured = None


@contextmanager
def untraced() -> Iterator[None]:
    """Calls made inside start no spans and send no trace context (periodic probes, not requests)."""
    with suppress_instrumentation():
        yield


def inject_context() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``, ``tracestate``): to store or send."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def attached(carrier: MutableMapping[str, str] | None) -> Iterator[None]:
    """Make the trace context stored in ``carrier`` (see :func:`inject_context`) the current one."""
    if not carrier:
        yield
        return
    token = otel_context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        otel_context.detach(token)
