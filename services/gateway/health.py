"""Aggregated health: SERVING only when every service (and Triton, when configured) is.

Each service's ``grpc.health.v1`` answer reflects its hard dependencies (see
``clearframe_runtime.health``); a NOT_SERVING answer names the components that are down in its trailing
metadata, and ``/healthz`` passes them on: in the message (``scanner=NOT_SERVING (triton: …)``) and in the
error's ``ErrorInfo`` metadata (``services``: ``scanner``; ``components``: ``scanner/triton``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clearframe.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from clearframe_runtime.errors import Unavailable
from clearframe_runtime.health import DOWN_METADATA, parse_down

SERVING = "SERVING"
UNREACHABLE = "UNREACHABLE"


@dataclass(frozen=True)
class Answer:
    """One service's health: its status and, when not serving, the components it says are down."""

    name: str
    status: str
    down: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        reasons = "; ".join(f"{component}: {why}" for component, why in sorted(self.down.items()))
        return f"{self.name}={self.status}" + (f" ({reasons})" if reasons else "")


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(self, services: dict[str, str], triton_url: str, timeout_s: float):
        self._channels = {name: grpc.aio.insecure_channel(target) for name, target in services.items()}
        self._triton_url = triton_url
        self._timeout_s = timeout_s

    async def _service_status(self, name: str) -> Answer:
        stub = health_pb2_grpc.HealthStub(self._channels[name])
        call = stub.Check(health_pb2.HealthCheckRequest(), timeout=self._timeout_s)
        try:
            answer = await call
        except grpc.aio.AioRpcError:
            return Answer(name, UNREACHABLE)
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
        trailing = await call.trailing_metadata()
        down = next((str(v) for k, v in (trailing or ()) if k == DOWN_METADATA), "")
        return Answer(name, status, parse_down(down))

    async def _triton_status(self) -> Answer:
        from tritonclient.grpc.aio import InferenceServerClient
        from tritonclient.utils import InferenceServerException

        client = InferenceServerClient(self._triton_url)
        try:
            ready = await client.is_server_ready(client_timeout=self._timeout_s)
            status = SERVING if ready else "NOT_SERVING"
        except InferenceServerException:
            status = UNREACHABLE
        finally:
            await client.close()
        return Answer("triton", status)

    async def GetHealth(
        self, request: gateway_pb2.GetHealthRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.GetHealthResponse:
        checks = [self._service_status(name) for name in self._channels]
        if self._triton_url:
            checks.append(self._triton_status())
        answers = list(await asyncio.gather(*checks))
        down = [a for a in answers if a.status != SERVING]
        if down:
            raise Unavailable(
                "not serving: " + ", ".join(a.describe() for a in down),
                reason="SERVICES_NOT_SERVING",
                metadata={
                    "services": ",".join(a.name for a in down),
                    "components": ",".join(f"{a.name}/{c}" for a in down for c in sorted(a.down)),
                },
            )
        return gateway_pb2.GetHealthResponse(
            status=SERVING, services=[gateway_pb2.ServiceHealth(name=a.name, status=a.status) for a in answers]
        )

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self._channels.values()))
