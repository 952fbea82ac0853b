"""The port map has one definition (clearframe_runtime.topology); everything else agrees with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clearframe_mesh.launcher import DATABASE_SERVICES, SERVICES, MeshOptions
from clearframe_runtime import topology
from clearframe_runtime.settings import DatabaseSettings, ServiceSettings, load_settings
from services.auth.settings import AuthSettings
from services.config.settings import ConfigSettings
from services.frames.settings import FramesSettings
from services.gateway.envoy_config import MESH_NAMES, GatewayLayout, kubernetes_layout
from services.gateway.settings import GatewaySettings
from services.scanner.moderation.settings import ModerationSettings
from services.scanner.settings import ScannerSettings

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "a-secret-of-enough-length"


def readme_address_table() -> dict[str, str]:
    """The README's table of service addresses: first cell → second cell."""
    text = README.read_text()
    header = text.index("| service | default gRPC port | state |")
    rows: dict[str, str] = {}
    for line in text[header:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1]
    return rows


def numbers(cell: str) -> set[int]:
    return {int(n) for n in re.findall(r"\b\d{4,5}\b", cell)}


def test_the_readme_table_names_every_service_with_its_port() -> None:
    rows = readme_address_table()
    by_service = {}
    for first, port in rows.items():
        if first.startswith("gateway companion"):
            by_service["gateway"] = port
        elif first in topology.PORTS:
            by_service[first] = port
    assert by_service == {name: str(port) for name, port in topology.PORTS.items()}
    assert numbers(rows["gateway (Envoy)"]) == {topology.ENVOY_PORT, topology.ENVOY_ADMIN_PORT}
    assert numbers(rows["Triton"]) == {topology.TRITON.http, topology.TRITON.grpc, topology.TRITON.metrics}
    assert len(rows) == len(topology.PORTS) + 2, f"rows the port map does not know: {sorted(rows)}"


def test_ports_are_distinct() -> None:
    every = [*topology.PORTS.values(), topology.ENVOY_PORT, topology.ENVOY_ADMIN_PORT, *vars(topology.TRITON).values()]
    assert len(every) == len(set(every))


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A shell with only the required secret set."""
    for name in ("LISTEN", "MESH_SERVICES", "FRAMES_URL", "CONFIG_URL", "TRITON_URL"):
        monkeypatch.delenv(f"CLEARFRAME_{name}", raising=False)
    monkeypatch.setenv("CLEARFRAME_INTERNAL_SECRET", SECRET)
    return monkeypatch


@pytest.mark.parametrize(
    ("service", "settings_class"),
    [
        ("auth", AuthSettings),
        ("config", ConfigSettings),
        ("frames", FramesSettings),
        ("gateway", GatewaySettings),
        ("scanner", ScannerSettings),
        ("sharelinks", ServiceSettings),
        ("analytics", ServiceSettings),
    ],
)
def test_each_service_listens_on_its_port_by_default(
    environment: pytest.MonkeyPatch, service: str, settings_class: type[ServiceSettings]
) -> None:
    assert load_settings(service, settings_class).listen == f"127.0.0.1:{topology.PORTS[service]}"
    environment.setenv("CLEARFRAME_LISTEN", "0.0.0.0:7000")
    assert load_settings(service, settings_class).listen == "0.0.0.0:7000"


@pytest.mark.parametrize(
    ("service", "settings_class"),
    [
        ("auth", AuthSettings),
        ("config", ConfigSettings),
        ("frames", FramesSettings),
        ("gateway", GatewaySettings),
        ("scanner", ScannerSettings),
    ],
)
def test_a_service_class_built_directly_has_its_port_too(
    environment: pytest.MonkeyPatch, service: str, settings_class: type[ServiceSettings]
) -> None:
    assert settings_class().listen == topology.local_address(service)


def test_the_scanner_and_the_gateway_find_the_others_by_default(environment: pytest.MonkeyPatch) -> None:
    scanner = load_settings("scanner", ScannerSettings)
    assert (scanner.frames_url, scanner.config_url) == ("127.0.0.1:50053", "127.0.0.1:50055")
    assert scanner.triton_url == f"127.0.0.1:{topology.TRITON.grpc}"
    health = load_settings("gateway", GatewaySettings).services()
    assert health == {name: f"127.0.0.1:{port}" for name, port in topology.PORTS.items() if name != "gateway"}


def test_the_launcher_and_the_envoy_renderer_use_the_port_map() -> None:
    assert dict(topology.PORTS) == SERVICES
    assert set(DATABASE_SERVICES) == {"auth", "scanner", "sharelinks", "config", "analytics"}
    options = MeshOptions()
    assert (options.envoy_port, options.envoy_admin_port, options.triton_ports.grpc) == (8080, 9901, 8001)
    assert tuple(topology.PORTS) == MESH_NAMES
    assert {u.port for u in kubernetes_layout().upstreams} == {topology.CLUSTER_PORT}
    layout = GatewayLayout([])
    assert (layout.listen_port, layout.admin_port) == (topology.ENVOY_PORT, topology.ENVOY_ADMIN_PORT)


def test_mesh_services_lists_every_service_but_the_gateway_on_given_ports() -> None:
    ports = {name: 40000 + i for i, name in enumerate(topology.PORTS)}
    assert topology.mesh_services(ports, "10.0.0.1").split(",") == [
        f"{name}=10.0.0.1:{ports[name]}" for name in topology.PORTS if name != "gateway"
    ]
    with pytest.raises(KeyError, match="unknown service 'billing'"):
        topology.local_address("billing")


def test_missing_secret_stops_the_service_naming_it_and_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLEARFRAME_INTERNAL_SECRET", raising=False)
    with pytest.raises(SystemExit) as stopped:
        load_settings("config", ConfigSettings, DatabaseSettings)
    assert str(stopped.value).startswith("config: invalid settings: CLEARFRAME_INTERNAL_SECRET: ")


def test_invalid_value_is_named_with_its_own_prefix(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("CLEARFRAME_MODERATION_WEBHOOK_TIMEOUT_S", "soon")
    with pytest.raises(SystemExit) as stopped:
        load_settings("scanner", ScannerSettings, DatabaseSettings, ModerationSettings)
    assert "scanner: invalid settings: CLEARFRAME_MODERATION_WEBHOOK_TIMEOUT_S: " in str(stopped.value)


def test_several_classes_come_back_in_order(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    settings, database = load_settings("auth", AuthSettings, DatabaseSettings)
    assert isinstance(settings, AuthSettings) and settings.listen == "127.0.0.1:50051"
    assert database.database_url == "sqlite:///elsewhere.db"
