"""Aggregated health: SERVING only when every service (and Triton, when configured) is."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clearframe.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from clearframe_runtime.errors import Unavailable

SERVING = "SERVING"
UNREACHABLE = "UNREACHABLE"


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(self, services: dict[str, str], triton_url: str, timeout_s: float):
        self._channels = {name: grpc.aio.insecure_channel(target) for name, target in services.items()}
        self._triton_url = triton_url
        self._timeout_s = timeout_s

    async def _service_status(self, name: str) -> gateway_pb2.ServiceHealth:
        stub = health_pb2_grpc.HealthStub(self._channels[name])
        try:
            answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=self._timeout_s)
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
        except grpc.aio.AioRpcError:
            status = UNREACHABLE
        return gateway_pb2.ServiceHealth(name=name, status=status)

    async def _triton_status(self) -> gateway_pb2.ServiceHealth:
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
        return gateway_pb2.ServiceHealth(name="triton", status=status)

    async def GetHealth(self, request: gateway_pb2.GetHealthRequest, context: grpc.aio.ServicerContext):
        checks = [self._service_status(name) for name in self._channels]
        if self._triton_url:
            checks.append(self._triton_status())
        services = list(await asyncio.gather(*checks))
        down = [s.name for s in services if s.status != SERVING]
        if down:
            raise Unavailable(
                "not serving: " + ", ".join(f"{s.name}={s.status}" for s in services if s.status != SERVING),
                reason="SERVICES_NOT_SERVING",
                metadata={"services": ",".join(down)},
            )
        return gateway_pb2.GetHealthResponse(status=SERVING, services=services)

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self._channels.values()))
