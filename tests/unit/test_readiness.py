"""wait_serving: the one wait-until-SERVING loop, against a real gRPC health server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from clearframe_mesh.process import free_port
from clearframe_mesh.readiness import NotServing, wait_serving

Status = health_pb2.HealthCheckResponse


@pytest.fixture
def health_server() -> Iterator[tuple[str, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    target = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(target)
    server.start()
    try:
        yield target, servicer
    finally:
        server.stop(None).wait()


def test_returns_once_serving(health_server: tuple[str, health.HealthServicer]) -> None:
    target, servicer = health_server
    servicer.set("", Status.SERVING)
    started = time.monotonic()
    wait_serving(target, timeout_s=5)
    assert time.monotonic() - started < 2


def test_gives_up_on_a_server_that_stays_not_serving(health_server: tuple[str, health.HealthServicer]) -> None:
    target, servicer = health_server
    servicer.set("", Status.NOT_SERVING)
    started = time.monotonic()
    with pytest.raises(NotServing, match=r"did not become SERVING in time \(last: NOT_SERVING\)"):
        wait_serving(target, timeout_s=0.5)
    assert time.monotonic() - started < 3


def test_waits_for_a_server_that_turns_serving(health_server: tuple[str, health.HealthServicer]) -> None:
    target, servicer = health_server
    servicer.set("", Status.NOT_SERVING)
    timer = threading.Timer(0.3, servicer.set, ("", Status.SERVING))
    timer.start()
    try:
        wait_serving(target, timeout_s=10, poll_s=0.05)
    finally:
        timer.cancel()


def test_asks_for_the_named_service(health_server: tuple[str, health.HealthServicer]) -> None:
    target, servicer = health_server
    servicer.set("", Status.SERVING)
    with pytest.raises(NotServing, match=r"last: NOT_FOUND"):
        wait_serving(target, service="clearframe.auth.v1.AuthService", timeout_s=0.3)
    servicer.set("clearframe.auth.v1.AuthService", Status.SERVING)
    wait_serving(target, service="clearframe.auth.v1.AuthService", timeout_s=5)


def test_nothing_listening_names_the_transport_error() -> None:
    with pytest.raises(NotServing, match=r"last: (UNAVAILABLE|DEADLINE_EXCEEDED)"):
        wait_serving(f"127.0.0.1:{free_port()}", timeout_s=0.3)


def test_stops_at_once_when_the_process_exited() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait(timeout=30)
    started = time.monotonic()
    with pytest.raises(NotServing, match="exited with code 3"):
        wait_serving(f"127.0.0.1:{free_port()}", timeout_s=30, process=process)
    assert time.monotonic() - started < 2


def test_an_explicit_deadline_of_the_given_clock() -> None:
    now = [100.0]
    with pytest.raises(NotServing):
        wait_serving(f"127.0.0.1:{free_port()}", deadline=99.0, clock=lambda: now[0])
