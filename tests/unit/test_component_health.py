"""Per-component health: a service is SERVING only while its hard dependencies are, and says which are not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clearframe_mesh.process import free_port
from clearframe_runtime.health import (
    COMPONENT_PREFIX,
    DOWN_METADATA,
    Component,
    ComponentHealth,
    ComponentHealthServicer,
    format_down,
    parse_down,
)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Switch:
    """A dependency the test turns on and off."""

    def __init__(self) -> None:
        self.up = True
        self.error = "connection refused"

    async def check(self) -> bool:
        if not self.up:
            raise ConnectionError(self.error)
        return True


class Health:
    """A real grpc.aio server with the component health servicer, and a client of it."""

    def __init__(self, servicer: ComponentHealthServicer, channel: grpc.aio.Channel) -> None:
        self.servicer = servicer
        self.stub = health_pb2_grpc.HealthStub(channel)

    async def check(self, service: str = "") -> tuple[int, str]:
        call = self.stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        answer = await call
        trailing = await call.trailing_metadata()
        return answer.status, next((str(v) for k, v in (trailing or ()) if k == DOWN_METADATA), "")


@pytest.fixture
async def health() -> AsyncIterator[Health]:
    server = grpc.aio.server()
    servicer = ComponentHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Health(servicer, channel)
    await server.stop(0)


async def test_a_hard_component_down_makes_every_served_name_not_serving_and_is_named(health: Health) -> None:
    triton, database = Switch(), Switch()
    monitor = ComponentHealth(
        health.servicer,
        [Component("triton", triton.check), Component("database", database.check)],
        ["clearframe.scanner.v1.ScannerService"],
    )
    assert await monitor.check_once() == {}
    assert await health.check() == (SERVING, "")
    assert await health.check("clearframe.scanner.v1.ScannerService") == (SERVING, "")

    triton.up = False
    assert await monitor.check_once() == {"triton": "ConnectionError: connection refused"}
    for name in ("", "clearframe.scanner.v1.ScannerService"):
        status, down = await health.check(name)
        assert status == NOT_SERVING
        assert parse_down(down) == {"triton": "ConnectionError: connection refused"}
    assert (await health.check(COMPONENT_PREFIX + "triton"))[0] == NOT_SERVING
    assert (await health.check(COMPONENT_PREFIX + "database"))[0] == SERVING

    triton.up = True
    await monitor.check_once()
    assert await health.check() == (SERVING, "")
    assert (await health.check(COMPONENT_PREFIX + "triton"))[0] == SERVING


async def test_a_soft_component_down_is_reported_but_the_service_keeps_serving(health: Health) -> None:
    cache = Switch()
    cache.up = False
    monitor = ComponentHealth(health.servicer, [Component("cache", cache.check, hard=False)], [])
    assert await monitor.check_once() == {"cache": "ConnectionError: connection refused"}
    assert (await health.check())[0] == SERVING
    assert (await health.check(COMPONENT_PREFIX + "cache"))[0] == NOT_SERVING


async def test_a_check_that_hangs_or_says_false_counts_as_down(health: Health) -> None:
    never = asyncio.Event()

    async def hangs() -> bool:
        await never.wait()
        return True

    async def not_ready() -> bool:
        return False

    monitor = ComponentHealth(
        health.servicer, [Component("frames", hangs), Component("triton", not_ready)], [], timeout_s=0.05
    )
    assert await monitor.check_once() == {"frames": "no answer within 0.05 s", "triton": "not ready"}
    assert (await health.check())[0] == NOT_SERVING


async def test_after_graceful_shutdown_a_recovered_component_cannot_turn_it_serving_again(health: Health) -> None:
    triton = Switch()
    monitor = ComponentHealth(health.servicer, [Component("triton", triton.check)], [])
    await monitor.check_once()
    await health.servicer.enter_graceful_shutdown()
    await monitor.check_once()
    assert (await health.check())[0] == NOT_SERVING


async def test_components_are_closed_when_the_monitor_stops(health: Health) -> None:
    closed: list[str] = []

    async def close() -> None:
        closed.append("frames")

    monitor = ComponentHealth(health.servicer, [Component("frames", Switch().check, close=close)], [])
    monitor.start()
    await monitor.stop()
    assert closed == ["frames"]


def test_down_components_survive_the_metadata_round_trip_in_ascii() -> None:
    down = {"triton": "Triton at 127.0.0.1:1 is unavailable (connexion refusée)\nretry", "database": "locked"}
    text = format_down(down)
    assert text.isascii() and "\n" not in text
    assert parse_down(text) == {
        "database": "locked",
        "triton": "Triton at 127.0.0.1:1 is unavailable (connexion refus?e) retry",
    }


async def test_not_serving_before_the_first_checks_have_run(health: Health) -> None:
    assert (await health.check())[0] == NOT_SERVING
    await ComponentHealth(health.servicer, [], []).check_once()
    assert (await health.check())[0] == SERVING
