"""The port map: where each part of Clearframe listens by default, and which services own tables.

This is the one definition. The services' default listen addresses, the addresses the scanner and the
gateway's /healthz use to reach the others, the local Envoy configuration, `make run`'s launcher and the
README's table of service addresses all come from (or are tested against) these values.

On one machine (`make run`, a developer's shell) every service listens on its own port of 127.0.0.1; in
Kubernetes each service has its own address and all of them listen on :data:`CLUSTER_PORT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

#: The host every default address binds or dials on one machine.
LOCAL_HOST = "127.0.0.1"
#: The port every service listens on in a cluster (Kubernetes Deployments, the Docker image, deploy/envoy).
CLUSTER_PORT = 50051
#: Envoy: REST + gRPC for clients, and its admin interface (local only).
ENVOY_PORT = 8080
ENVOY_ADMIN_PORT = 9901
#: Kubernetes only: Envoy's listener for Prometheus, answering nothing but /stats/prometheus.
ENVOY_STATS_PORT = 9902


@dataclass(frozen=True)
class TritonDefaults:
    """Triton's three listeners."""

    http: int = 8000
    grpc: int = 8001
    metrics: int = 8002


TRITON = TritonDefaults()


@dataclass(frozen=True)
class Service:
    """One gRPC service of the mesh."""

    name: str
    #: Its default gRPC port on one machine.
    port: int
    #: Whether it owns tables (and so gets a database URL).
    owns_tables: bool


#: Every service, in start order (the gateway companion first, as in the README's table).
SERVICES: tuple[Service, ...] = (
    Service("gateway", 50050, owns_tables=False),
    Service("auth", 50051, owns_tables=True),
    Service("scanner", 50052, owns_tables=True),
    Service("frames", 50053, owns_tables=False),
    Service("sharelinks", 50054, owns_tables=True),
    Service("config", 50055, owns_tables=True),
    Service("analytics", 50056, owns_tables=True),
)

#: Service name → default gRPC port on one machine.
PORTS: Mapping[str, int] = MappingProxyType({service.name: service.port for service in SERVICES})
#: Service name → default port of its Prometheus endpoint (``/metrics``) on one machine.
METRICS_PORTS: Mapping[str, int] = MappingProxyType({service.name: 9450 + i for i, service in enumerate(SERVICES)})
#: The port every service serves ``/metrics`` on in a cluster (the OpenTelemetry Prometheus default).
CLUSTER_METRICS_PORT = 9464
#: The services that own tables.
DATABASE_SERVICES: tuple[str, ...] = tuple(service.name for service in SERVICES if service.owns_tables)
#: The services behind the gateway companion: the ones its /healthz asks.
HEALTH_CHECKED: tuple[str, ...] = tuple(service.name for service in SERVICES if service.name != "gateway")


def local_address(name: str, ports: Mapping[str, int] = PORTS, host: str = LOCAL_HOST) -> str:
    """``host:port`` of service ``name`` on one machine (its default listen address)."""
    if name not in ports:
        raise KeyError(f"unknown service {name!r}; known: {', '.join(ports)}")
    return f"{host}:{ports[name]}"


def triton_grpc_address(host: str = LOCAL_HOST) -> str:
    return f"{host}:{TRITON.grpc}"


def mesh_services(ports: Mapping[str, int] = PORTS, host: str = LOCAL_HOST) -> str:
    """The ``name=host:port,…`` list the gateway companion's /healthz asks (every service but itself)."""
    return ",".join(f"{name}={local_address(name, ports, host)}" for name in HEALTH_CHECKED)


__all__ = [
    "CLUSTER_METRICS_PORT",
    "CLUSTER_PORT",
    "DATABASE_SERVICES",
    "ENVOY_ADMIN_PORT",
    "ENVOY_PORT",
    "ENVOY_STATS_PORT",
    "HEALTH_CHECKED",
    "LOCAL_HOST",
    "METRICS_PORTS",
    "PORTS",
    "SERVICES",
    "TRITON",
    "Service",
    "TritonDefaults",
    "local_address",
    "mesh_services",
    "triton_grpc_address",
]
