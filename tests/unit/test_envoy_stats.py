"""Envoy's stats listener (Kubernetes): Prometheus reads /stats/prometheus through it while the admin
interface stays on loopback; nothing else of admin answers there. A real Envoy is started."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import envoy
import httpx
import pytest

from clearframe_mesh.launcher import SERVICES
from clearframe_mesh.process import free_ports
from services.gateway.envoy_config import ADMIN_CLUSTER, GatewayLayout, Upstream, kubernetes_layout, render, write


def _listener_names(layout: GatewayLayout) -> list[str]:
    return [listener["name"] for listener in render(layout)["static_resources"]["listeners"]]


def test_only_the_kubernetes_layout_has_a_stats_listener() -> None:
    local = GatewayLayout([Upstream(n, "127.0.0.1", 50000 + i) for i, n in enumerate(SERVICES)])
    assert "stats" not in _listener_names(local)
    assert "stats" in _listener_names(kubernetes_layout())


@pytest.fixture(scope="module")
def stats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    listen, admin, stats = free_ports(3)
    layout = GatewayLayout(
        [Upstream(n, "127.0.0.1", 1) for n in SERVICES], listen_port=listen, admin_port=admin, stats_port=stats
    )
    workdir = tmp_path_factory.mktemp("envoy-stats")
    config = write(layout, workdir / "envoy.json")
    log = (workdir / "envoy.log").open("wb")
    process = subprocess.Popen(
        [envoy.get_envoy_path(), "-c", str(config), "--use-dynamic-base-id"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{stats}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (workdir / "envoy.log").read_text()[-2000:]
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "envoy's stats listener not up in 30 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def test_prometheus_reads_envoys_stats(stats_url: str) -> None:
    answer = httpx.get(f"{stats_url}/stats/prometheus", timeout=5)
    assert answer.status_code == 200
    assert "envoy_server_live" in answer.text and f'envoy_cluster_name="{ADMIN_CLUSTER}"' in answer.text
    assert httpx.get(f"{stats_url}/stats/prometheus?usedonly", timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/config_dump"),
        ("POST", "/quitquitquit"),
        ("POST", "/healthcheck/fail"),
        ("GET", "/stats"),
        ("GET", "/stats/prometheus/../../config_dump"),
        ("POST", "/stats/prometheus"),
        ("GET", "/"),
    ],
)
def test_nothing_else_of_admin_answers(stats_url: str, method: str, path: str) -> None:
    answer = httpx.request(method, f"{stats_url}{path}", timeout=5)
    assert answer.status_code == 404, f"{method} {path}: {answer.status_code} {answer.text[:200]}"
    # Envoy is still there and still live (a /quitquitquit that got through would have stopped it).
    assert httpx.get(f"{stats_url}/stats/prometheus", timeout=5).status_code == 200


def test_the_production_config_routes_only_the_stats_path() -> None:
    config = render(kubernetes_layout())
    (stats,) = [listener for listener in config["static_resources"]["listeners"] if listener["name"] == "stats"]
    hcm = stats["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    forwarded = [r for r in routes if "route" in r]
    assert [r["match"]["path"] for r in forwarded] == ["/stats/prometheus"]
    assert all(r["route"]["cluster"] == ADMIN_CLUSTER for r in forwarded)
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
