"""The scanner on its own, beside the mesh: early exit, Triton outages, hot-reloaded analyzers.

Each test starts its own scanner process (and, for the outage, its own Triton) with settings the mesh's
scanner does not have, and talks to it over native gRPC with a principal signed like the gateway's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.api import httpbody_pb2

from clearframe.scanner.v1 import scanner_service_pb2 as pb
from clearframe.scanner.v1 import scanner_service_pb2_grpc as pb_grpc
from clearframe.scanner.v1 import types_pb2 as types
from clearframe_mesh.launcher import Mesh
from clearframe_mesh.process import free_port
from clearframe_mesh.triton import LocalTriton, TritonPorts
from clearframe_runtime.principal import PRINCIPAL_HEADER, SIGNATURE_HEADER, Principal, PrincipalCodec
from tests.media_samples import animated_gif, encoded, video

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
    """A scanner process of its own, beside the mesh, on a database and folders in the test's tmp_path."""

    def __init__(self, mesh: Mesh, workdir: Path, triton_url: str, **env: str):
        self.port = free_port()
        self.codec = PrincipalCodec(mesh.secret)
        environment = {
            **os.environ,
            "CLEARFRAME_LISTEN": f"127.0.0.1:{self.port}",
            "CLEARFRAME_METRICS_PORT": "0",  # the mesh's scanner has the port map's metrics port
            "CLEARFRAME_INTERNAL_SECRET": mesh.secret,
            "CLEARFRAME_TRITON_URL": triton_url,
            "CLEARFRAME_FRAMES_URL": mesh.service_target("frames"),
            "CLEARFRAME_CONFIG_URL": mesh.service_target("config"),
            "DATABASE_URL": f"sqlite:///{workdir / 'scanner.db'}",
            "CLEARFRAME_SCANNER_IMAGE_STORE": str(workdir / "images"),
            "CLEARFRAME_SCANNER_HASH_BANKS": str(workdir / "banks"),
            **env,
        }
        self.log = (workdir / "scanner.log").open("ab")
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

    def scan(self, data: bytes, content_type: str, timeout: float = 60, background: bool = False) -> pb.Scan:
        request = pb.CreateScanRequest(
            body=httpbody_pb2.HttpBody(content_type=content_type, data=data), return_immediately=background
        )
        scan: pb.Scan = self.stub.CreateScan(request, metadata=self.metadata(), timeout=timeout).scan
        return scan

    def get(self, scan_id: str) -> pb.Scan:
        scan: pb.Scan = self.stub.GetScan(pb.GetScanRequest(scan_id=scan_id), metadata=self.metadata(), timeout=10).scan
        return scan

    def signal_and_wait(self, kill: bool, timeout: float = 90) -> int:
        """SIGKILL (no chance to drain) or SIGTERM (drain), then wait for the process to end."""
        self.channel.close()
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        return self.process.wait(timeout=timeout)

    def check(self, image: bytes) -> dict[str, Any]:
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
        body_json: dict[str, Any] = json.loads(answer.data)
        return body_json

    def stop(self) -> None:
        self.channel.close()
        if self.process.poll() is not None:
            self.log.close()
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


StartScanner = Callable[..., Scanner]


@pytest.fixture
def start_scanner(mesh: Mesh, tmp_path: Path) -> Iterator[StartScanner]:
    started: list[Scanner] = []

    def start(triton_url: str | None = None, **env: str) -> Scanner:
        scanner = Scanner(mesh, tmp_path, triton_url or mesh.triton.grpc_url, **env)
        started.append(scanner)
        return scanner

    yield start
    for scanner in started:
        scanner.stop()


def test_early_exit_stops_at_the_hard_limit(start_scanner: StartScanner) -> None:
    # Every frame's risk is ≥ 0, so with the hard limit at 0 the first batch ends the scan.
    scanner = start_scanner(
        CLEARFRAME_SCANNER_HARD_LIMIT="0", CLEARFRAME_SCANNER_GIF_STEP="1", CLEARFRAME_SCANNER_BATCH_SIZE="2"
    )
    scan = scanner.scan(animated_gif(40), "image/gif")
    assert scan.state == pb.SCAN_STATE_SUCCEEDED
    assert 1 <= scan.result.frames_analyzed <= 2 < 40
    full = start_scanner(CLEARFRAME_SCANNER_GIF_STEP="1", CLEARFRAME_SCANNER_BATCH_SIZE="2")
    assert full.scan(animated_gif(40), "image/gif").result.frames_analyzed == 40


def test_triton_down_gives_unavailable_quickly_and_scanning_recovers(
    start_scanner: StartScanner, tmp_path: Path
) -> None:
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


def test_hot_reload_adds_and_removes_an_analyzer(start_scanner: StartScanner, tmp_path: Path) -> None:
    config = tmp_path / "modules.cfg"
    config.write_text("nudenet\nopennsfw\n")
    scanner = start_scanner(CLEARFRAME_SCANNER_MODULES_CFG=str(config))
    image = encoded("coffee")
    assert "modules.echo" not in scanner.check(image)

    (tmp_path / "echo.py").write_text(ECHO_PLUGIN)
    (tmp_path / "broken.py").write_text("def create(:\n")
    config.write_text("nudenet\nopennsfw\necho.py\nbroken.py\n")

    def wait_for(condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
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


# Background scans and process ends: every frame of the clip analyzed (video step 1) takes seconds, so the
# signal surely arrives mid-scan. The restarted scanner has the same instance name and database.
SLOW_VIDEO = {"CLEARFRAME_SCANNER_VIDEO_STEP": "1", "CLEARFRAME_SCANNER_INSTANCE": "resilience-scanner"}


def _background_video_scan(scanner: Scanner, tmp_path: Path) -> str:
    clip = video(tmp_path / "clip.mp4", frames=45)
    scan = scanner.scan(clip, "video/mp4", background=True)
    assert scan.state == pb.SCAN_STATE_RUNNING
    assert scanner.get(scan.scan_id).state == pb.SCAN_STATE_RUNNING
    return scan.scan_id


def test_sigterm_drains_a_background_scan_within_the_grace_period(start_scanner: StartScanner, tmp_path: Path) -> None:
    scanner = start_scanner(**SLOW_VIDEO, CLEARFRAME_SHUTDOWN_GRACE_S="120")
    scan_id = _background_video_scan(scanner, tmp_path)
    assert scanner.signal_and_wait(kill=False) == 0
    scan = start_scanner(**SLOW_VIDEO).get(scan_id)
    assert scan.state == pb.SCAN_STATE_SUCCEEDED, scan.error
    assert scan.result.frames_analyzed == 45 and scan.media_type == types.MEDIA_TYPE_VIDEO


def test_sigterm_past_the_grace_period_finishes_the_scan_failed(start_scanner: StartScanner, tmp_path: Path) -> None:
    scanner = start_scanner(**SLOW_VIDEO, CLEARFRAME_SHUTDOWN_GRACE_S="0.2")
    scan_id = _background_video_scan(scanner, tmp_path)
    assert scanner.signal_and_wait(kill=False) == 0
    scan = start_scanner(**SLOW_VIDEO).get(scan_id)
    assert scan.state == pb.SCAN_STATE_FAILED
    assert scan.error.code == grpc.StatusCode.ABORTED.value[0]
    assert "shut down before this scan finished" in scan.error.message and "submit it again" in scan.error.message


def test_a_killed_scanner_finishes_its_running_scans_failed_on_restart(
    start_scanner: StartScanner, tmp_path: Path
) -> None:
    scanner = start_scanner(**SLOW_VIDEO)
    scan_id = _background_video_scan(scanner, tmp_path)
    assert scanner.signal_and_wait(kill=True) != 0
    restarted = start_scanner(**SLOW_VIDEO)
    scan = restarted.get(scan_id)
    assert scan.state == pb.SCAN_STATE_FAILED
    assert scan.error.code == grpc.StatusCode.ABORTED.value[0]
    assert "stopped before this scan finished" in scan.error.message
    assert scan.HasField("complete_time") and not scan.HasField("result")
    # The restarted scanner scans as usual.
    assert restarted.scan(encoded("coffee"), "image/png").state == pb.SCAN_STATE_SUCCEEDED
