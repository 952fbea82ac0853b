"""`make run`: start the whole mesh in the foreground; Ctrl-C or SIGTERM stops everything."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from clearframe_mesh.launcher import REPO_ROOT, SERVICES, Mesh, MeshError, MeshOptions


def options_from_environment() -> MeshOptions:
    """`make run`'s layout; CLEARFRAME_MESH_DIR moves its state, CLEARFRAME_MESH_FREE_PORTS=1 runs a second
    mesh beside the first on free ports, CLEARFRAME_GATEWAY_PORT moves Envoy."""
    directory = os.environ.get("CLEARFRAME_MESH_DIR")
    if os.environ.get("CLEARFRAME_MESH_FREE_PORTS") == "1":
        options = MeshOptions.free(Path(directory) if directory else REPO_ROOT / "var" / "mesh-free")
    elif directory:
        options = MeshOptions(workdir=Path(directory), data_dir=Path(directory) / "data")
    else:
        options = MeshOptions()
    options.database_url = os.environ.get("DATABASE_URL") or None
    options.internal_secret = os.environ.get("CLEARFRAME_INTERNAL_SECRET", "")
    options.otlp_endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    options.triton_otlp_traces_url = os.environ.get("CLEARFRAME_TRITON_OTLP_TRACES_URL", "")
    options.console_services = ("auth",)
    if port := os.environ.get("CLEARFRAME_GATEWAY_PORT"):
        options.envoy_port = int(port)
    return options


def main() -> int:
    options = options_from_environment()
    mesh = Mesh(options)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print("clearframe: starting Triton, services and Envoy …", flush=True)
    try:
        mesh.start()
        mesh.wait_ready()
    except MeshError as exc:
        print(f"clearframe: failed to start: {exc}", file=sys.stderr, flush=True)
        mesh.stop()
        return 1
    print(
        f"\nclearframe: ready.\n"
        f"  gateway (REST + gRPC)  {mesh.gateway_url}    health: {mesh.gateway_url}/healthz\n"
        f"  envoy admin            http://127.0.0.1:{options.envoy_admin_port}\n"
        f"  triton                 grpc {mesh.triton.grpc_url}   http {mesh.triton.http_url}\n"
        f"  triton metrics         http://127.0.0.1:{options.triton_ports.metrics}/metrics\n"
        + "".join(
            f"  {name:<22} grpc {mesh.service_target(name)}   metrics {mesh.metrics_url(name)}\n" for name in SERVICES
        )
        + (
            f"  traces                 python -m clearframe_mesh.trace <x-trace-id> (or --last)   "
            f"keeper {mesh.traces_url}/api/traces   OTLP {mesh.otlp_endpoint}\n"
            if mesh.keeps_traces
            else f"  traces                 exported to {mesh.otlp_endpoint}\n"
            if mesh.otlp_endpoint
            else ""
        )
        + f"  envoy metrics          http://127.0.0.1:{options.envoy_admin_port}/stats/prometheus\n"
        f"  endpoint map (JSON)    {mesh.endpoints_path}\n"
        f"  logs                   {mesh.log_dir}\n"
        f"  databases              {mesh.database_url('auth') if options.database_url else options.data_dir}\n"
        "Ctrl-C stops everything.",
        flush=True,
    )
    while not stopping:
        dead = mesh.exited()
        if dead:
            print(f"clearframe: stopped unexpectedly: {dead}; see {mesh.log_dir}", file=sys.stderr, flush=True)
            mesh.stop()
            return 1
        time.sleep(0.5)
    print("\nclearframe: stopping …", flush=True)
    mesh.stop()
    print("clearframe: stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
