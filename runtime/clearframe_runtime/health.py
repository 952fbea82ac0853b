"""Health per component: a service is SERVING only while every hard dependency answers its check.

Modelled on envoyproxy/ratelimit's health checker: each component (Triton, the database, another
service) has a check; the service's overall ``grpc.health.v1`` status is NOT_SERVING as soon as one
hard component fails, and SERVING again once all pass. :func:`clearframe_runtime.server.serve` runs the
checks once before it reports SERVING and then every ``interval_s``.

What a caller sees:

- ``Check("")`` and ``Check(<each served service>)``: SERVING or NOT_SERVING; when NOT_SERVING the
  response's trailing metadata ``clearframe-health-down`` names the failing components
  (``triton: connection refused; database: …``), which is how the gateway's ``/healthz`` names them;
- ``Check("component/<name>")``: each component's own status.

Checks run untraced (they are probes, not requests) and each is bounded by ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from clearframe_runtime.observability import untraced

log = structlog.get_logger(__name__)

#: Trailing metadata key of a NOT_SERVING answer: "component: reason; component: reason".
DOWN_METADATA = "clearframe-health-down"
COMPONENT_PREFIX = "component/"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

#: A check returns normally when the component is usable; it raises (or returns False) when not.
HealthCheck = Callable[[], Awaitable[bool | None]]


@dataclass(frozen=True)
class Component:
    """One dependency of a service. A soft one is reported but does not make the service NOT_SERVING.

    ``close`` releases what the check holds (a channel of its own), when the service stops.
    """

    name: str
    check: HealthCheck
    hard: bool = True
    close: Callable[[], Awaitable[None]] | None = None


class ComponentHealthServicer(health.aio.HealthServicer):  # type: ignore[misc]
    """``grpc.health.v1`` whose NOT_SERVING answers say which components are down."""

    def __init__(self) -> None:
        super().__init__()
        # NOT_SERVING until the first round of checks has run (the base class starts out SERVING).
        self._server_status[""] = NOT_SERVING
        self.down: dict[str, str] = {}

    async def Check(self, request: health_pb2.HealthCheckRequest, context: Any) -> Any:
        answer = await super().Check(request, context)
        if answer is not None and answer.status != SERVING and self.down:
            context.set_trailing_metadata(((DOWN_METADATA, format_down(self.down)),))
        return answer


def format_down(down: Mapping[str, str]) -> str:
    """``name: reason; name: reason`` in ASCII (gRPC metadata values are ASCII), reasons shortened."""
    text = "; ".join(f"{name}: {reason}" for name, reason in sorted(down.items()))
    return text.encode("ascii", "replace").decode().replace("\n", " ")[:900]


def parse_down(value: str) -> dict[str, str]:
    """The inverse of :func:`format_down`."""
    down: dict[str, str] = {}
    for part in value.split("; "):
        name, _, reason = part.partition(": ")
        if name:
            down[name] = reason
    return down


class ComponentHealth:
    """Runs the components' checks and keeps the health servicer's statuses in line with them."""

    def __init__(
        self,
        servicer: ComponentHealthServicer,
        components: Iterable[Component],
        served: Iterable[str],
        *,
        interval_s: float = 5.0,
        timeout_s: float = 2.0,
        down_interval_s: float = 1.0,
    ) -> None:
        """Checks run every ``interval_s``, and every ``down_interval_s`` while a component is down (so
        the service is SERVING again soon after it recovers)."""
        self._servicer = servicer
        self._components = list(components)
        self._served = ["", *served]
        self._interval_s = interval_s
        self._down_interval_s = min(down_interval_s, interval_s)
        self._timeout_s = timeout_s
        self._task: asyncio.Task[None] | None = None

    async def _run_check(self, component: Component) -> str:
        """'' when the component is usable, else why not."""
        try:
            with untraced():
                healthy = await asyncio.wait_for(component.check(), timeout=self._timeout_s)
        except TimeoutError:
            return f"no answer within {self._timeout_s:g} s"
        except Exception as exc:  # a check's failure is the component's state, never the service's crash
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return "" if healthy is None or healthy else "not ready"

    async def check_once(self) -> dict[str, str]:
        """Run every check now, publish the statuses; returns the components that are down."""
        results = await asyncio.gather(*(self._run_check(c) for c in self._components))
        down: dict[str, str] = {}
        hard_down = False
        for component, reason in zip(self._components, results, strict=True):
            await self._servicer.set(COMPONENT_PREFIX + component.name, NOT_SERVING if reason else SERVING)
            if reason:
                down[component.name] = reason
                hard_down = hard_down or component.hard
        for name in set(down) - set(self._servicer.down):
            log.warning("health.component_down", component=name, reason=down[name])
        for name in set(self._servicer.down) - set(down):
            log.info("health.component_up", component=name)
        self._servicer.down = down
        for service in self._served:
            await self._servicer.set(service, NOT_SERVING if hard_down else SERVING)
        return down

    def start(self) -> None:
        if self._components:
            self._task = asyncio.create_task(self._loop(), name="component-health")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._down_interval_s if self._servicer.down else self._interval_s)
            await self.check_once()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for component in self._components:
            if component.close is not None:
                await component.close()


def grpc_service_component(name: str, target: str, service: str = "", *, hard: bool = True) -> Component:
    """Another gRPC service as a component: healthy while it answers SERVING (on a channel of its own)."""
    channel = grpc.aio.insecure_channel(target)
    stub = health_pb2_grpc.HealthStub(channel)

    async def check() -> bool:
        try:
            answer = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        except grpc.aio.AioRpcError as exc:
            raise ConnectionError(f"{target}: {exc.code().name} {exc.details() or ''}".strip()) from exc
        if answer.status != SERVING:
            raise ConnectionError(f"{target}: {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}")
        return True

    async def close() -> None:
        await channel.close()

    return Component(name, check, hard=hard, close=close)


def database_component(engine: AsyncEngine, name: str = "database") -> Component:
    """The service's database as a component: healthy while it answers ``SELECT 1``."""

    async def check() -> bool:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    return Component(name, check)
