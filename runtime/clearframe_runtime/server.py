"""Run a Clearframe service: the one way every service starts.

``run_service(name, main)`` is every ``services/<name>/__main__.py``'s last line. It configures logs and
tracing *before* ``main()`` runs, so every channel and client ``main()`` builds is instrumented, then
runs ``main()`` and flushes the spans left at exit.

``serve()`` builds a ``grpc.aio`` server with the metrics and error-mapping interceptors, standard health
(``grpc.health.v1``, per component: see :mod:`clearframe_runtime.health`), reflection and the Prometheus
endpoint (``CLEARFRAME_METRICS_PORT``, see :mod:`clearframe_runtime.metrics`), and runs until
SIGTERM or SIGINT. On a signal every service turns NOT_SERVING at once (so load balancers and the
gateway's /healthz stop sending), then after ``drain_delay_s`` the server stops accepting calls and gives
in-flight ones ``shutdown_grace_s`` to finish.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from clearframe_runtime import topology
from clearframe_runtime.access import AccessInterceptor
from clearframe_runtime.errors import Unimplemented
from clearframe_runtime.health import Component, ComponentHealth, ComponentHealthServicer
from clearframe_runtime.metrics import MetricsInterceptor, MetricsServer
from clearframe_runtime.observability import ObservabilitySettings, configure, shutdown_tracing, tracing_configured
from clearframe_runtime.principal import PrincipalCodec
from clearframe_runtime.settings import ServiceSettings, load_settings
from clearframe_runtime.status import ErrorInterceptor

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Servicer:
    """One gRPC service to serve: the implementation, its generated ``add_…_to_server`` and descriptor."""

    implementation: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    descriptor: ServiceDescriptor


def unimplemented_servicer(
    base: type,
    descriptor: ServiceDescriptor,
    add_to_server: Callable[[Any, grpc.aio.Server], None],
    note: str,
) -> Servicer:
    """A servicer whose every RPC answers UNIMPLEMENTED with ``note`` — honest, never fake data.

    For services whose contract is written but whose implementation belongs to a later issue.
    """

    def make(method_name: str, streaming: bool) -> Callable[..., Any]:
        message = f"{descriptor.full_name}/{method_name} is not implemented yet ({note})"
        if streaming:

            async def stream(self: Any, request: Any, context: Any) -> AsyncIterator[Any]:
                raise Unimplemented(message)
                yield  # pragma: no cover - makes this an async generator

            return stream

        async def unary(self: Any, request: Any, context: Any) -> Any:
            raise Unimplemented(message)

        return unary

    methods = {m.name: make(m.name, m.server_streaming) for m in descriptor.methods}
    implementation = type(f"Unimplemented{descriptor.name}", (base,), methods)()
    return Servicer(implementation, add_to_server, descriptor)


def client_channel(target: str, max_message_bytes: int) -> grpc.aio.Channel:
    """A channel to another service that carries messages as large as the servers accept (uploads travel
    as one message).

    Reconnect backoff is capped at one second (gRPC's default grows to two minutes): a peer that is
    still starting, or restarting, is reached again as soon as it listens, not minutes later."""
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
        ],
    )


def server_options(settings: ServiceSettings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]


def run_service(name: str, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Configure logs and tracing for service ``name``, then run ``main()`` to its end.

    Tracing must exist before any gRPC channel, server or HTTP client does (the instrumentation patches
    their constructors), so this is the first thing a service process does, in one place for all.
    """
    configure(name)
    try:
        asyncio.run(main())
    finally:
        shutdown_tracing()


async def serve(
    name: str,
    settings: ServiceSettings,
    servicers: Sequence[Servicer],
    *,
    on_start: Callable[[], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
    drain_delay_s: float = 0.0,
    reflection_names: Sequence[str] = (),
    components: Sequence[Component] = (),
    health_interval_s: float = 5.0,
) -> None:
    """Run the servicers until SIGTERM/SIGINT, then drain.

    ``components`` are the service's dependencies (see :mod:`clearframe_runtime.health`): checked once
    before the service reports SERVING, then every ``health_interval_s``.
    """
    if not tracing_configured():
        # Channels built before tracing carry no trace context: refuse rather than break traces quietly.
        raise RuntimeError(f"{name}: start the service with clearframe_runtime.server.run_service(name, main)")
    if on_start is not None:
        await on_start()

    # Metrics outermost (inside the tracing interceptor the instrumentation adds), so each call is counted
    # with the status it ended with; then errors, so the access check's refusals get their status; then the
    # one permission check.
    access = AccessInterceptor(PrincipalCodec(settings.internal_secret.get_secret_value()))
    server = grpc.aio.server(
        interceptors=[MetricsInterceptor(), ErrorInterceptor(), access], options=server_options(settings)
    )
    health_servicer = ComponentHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [s.descriptor.full_name for s in servicers]
    for servicer in servicers:
        servicer.add_to_server(servicer.implementation, server)
    reflection.enable_server_reflection(
        [
            *names,
            *reflection_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    if server.add_insecure_port(settings.listen) == 0:
        raise SystemExit(f"{name}: cannot bind {settings.listen}")
    await server.start()
    metrics_server = _metrics_server(name)
    component_health = ComponentHealth(health_servicer, components, names, interval_s=health_interval_s)
    await component_health.check_once()
    component_health.start()
    log.info(
        "server.started",
        listen=settings.listen,
        metrics=f"http://{metrics_server.host}:{metrics_server.port}/metrics" if metrics_server else None,
        services=names,
        components=[c.name for c in components],
    )

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()

    log.info("server.draining", grace_s=settings.shutdown_grace_s)
    await component_health.stop()
    await health_servicer.enter_graceful_shutdown()
    if drain_delay_s:
        await asyncio.sleep(drain_delay_s)
    await server.stop(settings.shutdown_grace_s)
    if on_stop is not None:
        await on_stop()
    if metrics_server is not None:
        metrics_server.stop()
    log.info("server.stopped")


def _metrics_server(name: str) -> MetricsServer | None:
    """The service's Prometheus endpoint, started (``CLEARFRAME_METRICS_PORT=0``: none).

    A port set explicitly must be free (the service exits otherwise, like for its gRPC address); the
    port map's default is best effort: a second copy of a service on one machine (beside `make run`, in
    a test) runs without an endpoint and says so in its log."""
    observability = ObservabilitySettings()
    port = observability.metrics_port
    explicit = port is not None
    if port is None:
        port = topology.METRICS_PORTS.get(name, 0)
    if port == 0:
        return None
    metrics_server = MetricsServer(observability.metrics_host, port)
    where = f"{observability.metrics_host}:{port}"
    try:
        metrics_server.start()
    except OSError as exc:
        if explicit:
            raise SystemExit(f"{name}: cannot bind the metrics endpoint {where}: {exc}") from exc
        log.warning("metrics.unavailable", address=where, error=str(exc), hint="set CLEARFRAME_METRICS_PORT")
        return None
    return metrics_server


async def serve_unimplemented(name: str, modules: Sequence[tuple[Any, Any]], *, note: str) -> None:
    """Serve every service of the given generated (pb2, pb2_grpc) modules, each RPC UNIMPLEMENTED.

    Used by services whose contract exists but whose implementation belongs to an issue not yet landed.
    """
    settings = load_settings(name, ServiceSettings)
    servicers = [
        unimplemented_servicer(
            getattr(grpc_module, f"{service.name}Servicer"),
            service,
            getattr(grpc_module, f"add_{service.name}Servicer_to_server"),
            note,
        )
        for pb2_module, grpc_module in modules
        for service in pb2_module.DESCRIPTOR.services_by_name.values()
    ]
    await serve(name, settings, servicers)
