"""The scanner on its own, beside the mesh: early exit, Triton outages, hot-reloaded analyzers.

Each test starts its own scanner process (and, for the outage, its own Triton) with settings the mesh's
scanner does not have, and talks to it over native gRPC with a principal signed like the gateway's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.api import httpbody_pb2

from clearframe.scanner.v1 import scanner_service_pb2 as pb
from clearframe.scanner.v1 import scanner_service_pb2_grpc as pb_grpc
from clearframe_mesh.launcher import Mesh
from clearframe_mesh.process import free_port
from clearframe_mesh.triton import LocalTriton, TritonPorts
from clearframe_runtime.principal import PRINCIPAL_HEADER, SIGNATURE_HEADER, Principal, PrincipalCodec
from tests.media_samples import animated_gif, encoded

ECHO_PLUGIN = '''
"""A plug-in analyzer for the hot-reload test: reports the frame sizes it saw."""
from services.scanner.analyzers.base import FrameOutput


class Echo:
    name = "echo"
    scope = "frame"
    requires = ()
    version = "echo/1"

    async def analyze(self, frames, context):
        return [FrameOutput(scores={"width": float(f.image.width)}) for f in frames]

    async def close(self):
        pass


def create(settings, triton):
    return Echo()
'''


class Scanner:
    def __init__(self, mesh: Mesh, workdir: Path, triton_url: str, **env: str):
        self.port = free_port()
        self.codec = PrincipalCodec(mesh.secret)
        environment = {
            **os.environ,
            "CLEARFRAME_LISTEN": f"127.0.0.1:{self.port}",
            "CLEARFRAME_INTERNAL_SECRET": mesh.secret,
            "CLEARFRAME_TRITON_URL": triton_url,
            "CLEARFRAME_FRAMES_URL": mesh.service_target("frames"),
            "CLEARFRAME_CONFIG_URL": mesh.service_target("config"),
            "DATABASE_URL": f"sqlite:///{workdir / 'scanner.db'}",
            "CLEARFRAME_SCANNER_IMAGE_STORE": str(workdir / "images"),
            "CLEARFRAME_SCANNER_HASH_BANKS": str(workdir / "banks"),
            **env,
        }
        self.log = (workdir / "scanner.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.scanner"], env=environment, stdout=self.log, stderr=self.log
        )
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{self.port}", options=[("grpc.max_receive_message_length", 64 << 20)]
        )
        self.stub = pb_grpc.ScannerServiceStub(self.channel)
        grpc.channel_ready_future(self.channel).result(timeout=60)

    def metadata(self) -> list[tuple[str, str]]:
        value, signature = self.codec.encode(
            Principal("resilience-test", "api_key", frozenset({"scans.create", "moderation.read"}), "127.0.0.1")
        )
        return [(PRINCIPAL_HEADER, value), (SIGNATURE_HEADER, signature)]

    def scan(self, data: bytes, content_type: str, timeout: float = 60) -> pb.Scan:
        request = pb.CreateScanRequest(body=httpbody_pb2.HttpBody(content_type=content_type, data=data))
        return self.stub.CreateScan(request, metadata=self.metadata(), timeout=timeout).scan

    def check(self, image: bytes) -> dict:
        import json

        boundary = "clearframe-test-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
                f"Content-Type: image/png\r\n\r\n"
            ).encode()
            + image
            + f"\r\n--{boundary}--\r\n".encode()
        )
        answer = self.stub.LegacyCheck(
            pb.LegacyCheckRequest(
                body=httpbody_pb2.HttpBody(content_type=f"multipart/form-data; boundary={boundary}", data=body)
            ),
            metadata=self.metadata(),
            timeout=60,
        )
        return json.loads(answer.data)

    def stop(self) -> None:
        self.channel.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture
def start_scanner(mesh: Mesh, tmp_path: Path) -> Iterator:
    started: list[Scanner] = []

    def start(triton_url: str | None = None, **env: str) -> Scanner:
        scanner = Scanner(mesh, tmp_path, triton_url or mesh.triton.grpc_url, **env)
        started.append(scanner)
        return scanner

    yield start
    for scanner in started:
        scanner.stop()


def test_early_exit_stops_at_the_hard_limit(start_scanner) -> None:
    # Every frame's risk is ≥ 0, so with the hard limit at 0 the first batch ends the scan.
    scanner = start_scanner(
        CLEARFRAME_SCANNER_HARD_LIMIT="0", CLEARFRAME_SCANNER_GIF_STEP="1", CLEARFRAME_SCANNER_BATCH_SIZE="2"
    )
    scan = scanner.scan(animated_gif(40), "image/gif")
    assert scan.state == pb.SCAN_STATE_SUCCEEDED
    assert 1 <= scan.result.frames_analyzed <= 2 < 40
    full = start_scanner(CLEARFRAME_SCANNER_GIF_STEP="1", CLEARFRAME_SCANNER_BATCH_SIZE="2")
    assert full.scan(animated_gif(40), "image/gif").result.frames_analyzed == 40


def test_triton_down_gives_unavailable_quickly_and_scanning_recovers(start_scanner, tmp_path) -> None:
    ports = TritonPorts(free_port(), free_port(), free_port())
    triton = LocalTriton(ports, tmp_path / "triton")
    triton.start()
    try:
        triton.wait_ready(timeout=90)
        scanner = start_scanner(triton_url=triton.grpc_url, CLEARFRAME_TRITON_RETRIES="1")
        assert scanner.scan(encoded("coffee"), "image/png").state == pb.SCAN_STATE_SUCCEEDED
        triton.stop()
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as failure:
            scanner.scan(encoded("coffee"), "image/png", timeout=30)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - started < 5
        triton = LocalTriton(ports, tmp_path / "triton-again")
        triton.start()
        triton.wait_ready(timeout=90)
        deadline = time.monotonic() + 30
        while True:
            try:
                assert scanner.scan(encoded("coffee"), "image/png").state == pb.SCAN_STATE_SUCCEEDED
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline, "scanning did not recover after Triton came back"
                time.sleep(0.5)
    finally:
        triton.stop()


def test_hot_reload_adds_and_removes_an_analyzer(start_scanner, tmp_path) -> None:
    config = tmp_path / "modules.cfg"
    config.write_text("nudenet\nopennsfw\n")
    scanner = start_scanner(CLEARFRAME_SCANNER_MODULES_CFG=str(config))
    image = encoded("coffee")
    assert "modules.echo" not in scanner.check(image)

    (tmp_path / "echo.py").write_text(ECHO_PLUGIN)
    (tmp_path / "broken.py").write_text("def create(:\n")
    config.write_text("nudenet\nopennsfw\necho.py\nbroken.py\n")

    def wait_for(condition) -> dict:
        deadline = time.monotonic() + 20
        while True:
            body = scanner.check(image)
            if condition(body):
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.3)

    body = wait_for(lambda b: "modules.echo" in b)
    assert body["modules.echo"]["scores"]["width"] == 600.0  # coffee is 600×400
    assert "error" in body["modules.broken"]
    assert "error" not in body["modules.nsfw_scanner"]

    config.write_text("nudenet\nopennsfw\n")
    wait_for(lambda b: "modules.echo" not in b and "modules.broken" not in b)
