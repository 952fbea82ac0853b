"""Settings of the gateway companion service (environment, prefix CLEARFRAME_)."""

from __future__ import annotations

from clearframe_runtime import topology
from clearframe_runtime.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    listen: str = topology.local_address("gateway")
    #: The services /healthz asks: "name=host:port,name=host:port".
    mesh_services: str = topology.mesh_services()
    #: Triton's gRPC address; /healthz also needs Triton ready when set.
    triton_url: str = ""
    #: How long /healthz waits for each answer.
    health_timeout_s: float = 1.0

    def services(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.mesh_services.split(",") if item.strip())
        return {name.strip(): target.strip() for name, target in pairs}
