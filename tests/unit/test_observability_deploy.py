"""deploy/otel-collector and deploy/kubernetes/observability: the collector's pipelines use only what they
define and listen where Envoy, the services and Triton send; the Kubernetes side mounts that very file
and ships the repository's own scrape configuration, rules and dashboards (no second copy to drift)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from services.gateway.envoy_config import PRODUCTION_OTLP
from tests.unit.test_deploy import assert_hardened, load_yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_CONFIG = ROOT / "deploy" / "otel-collector" / "config.yaml"
OBSERVABILITY = ROOT / "deploy" / "kubernetes" / "observability"
OTEL_COMPONENT = ROOT / "deploy" / "kubernetes" / "components" / "otel" / "kustomization.yaml"
KINDS = ("receivers", "processors", "exporters")


def collector() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(COLLECTOR_CONFIG.read_text())
    return config


def test_pipelines_use_only_defined_components() -> None:
    config = collector()
    pipelines = config["service"]["pipelines"]
    assert {"traces", "metrics"} <= set(pipelines)
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for name, pipeline in pipelines.items():
        assert pipeline["receivers"] and pipeline["exporters"], f"pipeline {name} has no way in or out"
        for kind in KINDS:
            undefined = set(pipeline.get(kind, [])) - set(config.get(kind) or {})
            assert not undefined, f"pipeline {name} names undefined {kind}: {undefined}"
            used[kind] |= set(pipeline.get(kind, []))
    for kind in KINDS:
        assert used[kind] == set(config[kind]), f"{kind} defined but in no pipeline: {set(config[kind]) - used[kind]}"
    assert set(config["service"].get("extensions", [])) <= set(config.get("extensions") or {})
    # memory_limiter first, as the collector's documentation asks.
    assert all(p["processors"][0] == "memory_limiter" for p in pipelines.values())


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def _triton_traces_url() -> str:
    (component,) = load_yaml(OTEL_COMPONENT)
    (patch,) = component["patches"]
    values = [str(op["value"]) for op in yaml.safe_load(patch["patch"])]
    (url,) = [value.split("url=", 1)[1] for value in values if "url=" in value]
    return url


def test_the_collector_listens_where_everything_sends() -> None:
    protocols = collector()["receivers"]["otlp"]["protocols"]
    envoy_and_services = urlparse(PRODUCTION_OTLP)
    triton = urlparse(_triton_traces_url())
    assert _port(protocols["grpc"]["endpoint"]) == envoy_and_services.port == 4317
    assert _port(protocols["http"]["endpoint"]) == triton.port == 4318 and triton.path == "/v1/traces"
    assert envoy_and_services.hostname == triton.hostname == "otel-collector.observability"
    (component,) = load_yaml(OTEL_COMPONENT)
    literals = dict(item.split("=", 1) for item in component["configMapGenerator"][0]["literals"])
    assert literals["OTEL_EXPORTER_OTLP_ENDPOINT"] == PRODUCTION_OTLP
    assert literals["OTEL_METRICS_EXPORTER"] == "none"  # scraped, not pushed twice

    objects = [doc for doc in load_yaml(OBSERVABILITY / "otel-collector.yaml")]
    (service,) = [o for o in objects if o["kind"] == "Service"]
    assert service["metadata"]["name"] == "otel-collector"
    assert {4317, 4318} <= {p["port"] for p in service["spec"]["ports"]}


def test_the_collector_mounts_its_configuration_and_is_hardened() -> None:
    (kustomization,) = load_yaml(OBSERVABILITY / "kustomization.yaml")
    assert kustomization["namespace"] == "observability"
    (generator,) = [g for g in kustomization["configMapGenerator"] if g["name"] == "otel-collector-config"]
    (source,) = generator["files"]
    key, path = source.split("=", 1)
    assert (OBSERVABILITY / path).resolve() == COLLECTOR_CONFIG
    (deployment,) = [o for o in load_yaml(OBSERVABILITY / "otel-collector.yaml") if o["kind"] == "Deployment"]
    assert_hardened(deployment)
    pod = deployment["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == "otel-collector-config"]
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert f"--config={mount['mountPath']}/{key}" in container["args"]


def test_kustomize_ships_the_repositorys_own_files() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the checks above cover the files without it")
    rendered = subprocess.run(
        [kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(OBSERVABILITY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rendered.returncode == 0, rendered.stderr
    objects = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    assert all(o["metadata"].get("namespace") == "observability" for o in objects if o["kind"] != "Namespace")
    maps = {o["metadata"]["name"].rsplit("-", 1)[0]: o for o in objects if o["kind"] == "ConfigMap"}
    assert maps["otel-collector-config"]["data"]["config.yaml"] == COLLECTOR_CONFIG.read_text()
    prometheus = maps["clearframe-prometheus"]["data"]
    assert prometheus["kubernetes.yml"] == (ROOT / "deploy" / "prometheus" / "kubernetes.yml").read_text()
    assert prometheus["clearframe.rules.yml"] == (ROOT / "deploy/prometheus/rules/clearframe.rules.yml").read_text()
    dashboards = maps["clearframe-dashboards"]
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert sorted(dashboards["data"]) == sorted(p.name for p in (ROOT / "deploy" / "grafana").glob("*.json"))
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert volumes[0]["configMap"]["name"] == maps["otel-collector-config"]["metadata"]["name"]
