"""The shipped Prometheus files: promtool validates the rules (and their unit tests) and the scrape
configurations; every alert has a runbook; the local configuration names every part of the mesh at its
default port. promtool is required (Debian: ``apt-get install prometheus``; .ci/run installs it): these
tests fail, never skip, without it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from clearframe_mesh import prometheus as prometheus_config
from clearframe_runtime import topology

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules" / "clearframe.rules.yml"
RULE_TESTS = PROMETHEUS / "rules" / "clearframe.rules.test.yml"
RUNBOOKS = ROOT / "docs" / "runbooks"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, cwd=PROMETHEUS, check=False)


def alerts() -> list[dict[str, object]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_checks_the_rules() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_runs_the_rules_unit_tests() -> None:
    tested = promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_promtool_checks_the_local_scrape_configuration() -> None:
    checked = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_checks_the_kubernetes_scrape_configuration(tmp_path: Path) -> None:
    """Debian's Prometheus is built without Kubernetes service discovery, so its promtool refuses
    ``kubernetes_sd_configs``: the discovery is swapped for a static target and everything else (the
    relabelling that makes ``job`` and ``service``) is checked as shipped."""
    config = yaml.safe_load((PROMETHEUS / "kubernetes.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["clearframe"]}}]
    del job["kubernetes_sd_configs"]
    job["static_configs"] = [{"targets": ["127.0.0.1:9464"]}]
    config["rule_files"] = [str(PROMETHEUS / path) for path in config["rule_files"]]
    (tmp_path / "kubernetes.yml").write_text(yaml.safe_dump(config))
    checked = promtool("check", "config", str(tmp_path / "kubernetes.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    targets = {t["target_label"] for t in job["relabel_configs"] if "target_label" in t}
    assert {"job", "service", "__address__", "__metrics_path__"} <= targets


def test_every_python_pod_is_annotated_for_scraping() -> None:
    for name in [*topology.PORTS, "triton"]:
        (deployment, *_) = [
            d
            for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "base" / f"{name}.yaml").read_text())
            if d and d.get("kind") == "Deployment"
        ]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        port = "8002" if name == "triton" else str(topology.CLUSTER_METRICS_PORT)
        wanted = {"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics"}
        assert annotations == wanted, name
        ports = {p["containerPort"] for c in deployment["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        assert int(port) in ports, name


def test_envoy_is_scraped_on_its_stats_listener() -> None:
    """The pod's annotation names the port of deploy/envoy/envoy.json's stats listener, the one
    Kubernetes-reachable listener that serves /stats/prometheus (admin stays on loopback)."""
    (deployment,) = [
        d
        for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "base" / "envoy.yaml").read_text())
        if d and d.get("kind") == "Deployment"
    ]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    config = json.loads((ROOT / "deploy" / "envoy" / "envoy.json").read_text())
    (stats,) = [item for item in config["static_resources"]["listeners"] if item["name"] == "stats"]
    port = stats["address"]["socket_address"]["port_value"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/stats/prometheus",
    }
    ports = {p["containerPort"] for c in deployment["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
    assert port in ports


def test_every_alert_has_a_runbook_and_a_severity() -> None:
    names = set()
    for alert in alerts():
        annotations = alert["annotations"]
        assert isinstance(annotations, dict) and isinstance(alert["labels"], dict)
        runbook = ROOT / str(annotations["runbook_url"])
        assert runbook.is_file(), f"{alert['alert']}: {runbook} is missing"
        assert alert["labels"]["severity"] in ("page", "ticket")
        names.add(str(alert["alert"]))
    pages = {path.stem for path in RUNBOOKS.glob("*.md") if path.stem != "README"}
    assert names == pages, "one runbook page per alert, named after it"


def test_the_local_scrape_configuration_names_every_part_at_its_default_port() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = {
        (job["job_name"], static["labels"]["service"]): static["targets"]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
    }
    for name, port in topology.METRICS_PORTS.items():
        assert targets[("clearframe", name)] == [f"{topology.LOCAL_HOST}:{port}"]
    assert targets[("envoy", "envoy")] == [f"127.0.0.1:{topology.ENVOY_ADMIN_PORT}"]
    assert targets[("triton", "triton")] == [f"127.0.0.1:{topology.TRITON.metrics}"]


def test_rendering_for_a_mesh_rewrites_only_the_targets() -> None:
    endpoints = {
        "services": {
            name: {"metrics": f"http://127.0.0.1:{20000 + i}/metrics"} for i, name in enumerate(topology.PORTS)
        },
        "envoy_admin": {"metrics": "http://127.0.0.1:19901/stats/prometheus"},
        "triton": {"metrics": "http://127.0.0.1:18002/metrics"},
    }
    rendered = prometheus_config.render(endpoints, scrape_interval="1s")
    jobs = {job["job_name"]: job for job in rendered["scrape_configs"]}
    scanner = next(s for s in jobs["clearframe"]["static_configs"] if s["labels"]["service"] == "scanner")
    assert scanner["targets"] == [f"127.0.0.1:{20000 + list(topology.PORTS).index('scanner')}"]
    assert jobs["envoy"]["metrics_path"] == "/stats/prometheus"
    assert jobs["envoy"]["static_configs"][0]["targets"] == ["127.0.0.1:19901"]
    assert rendered["global"]["scrape_interval"] == "1s"
    assert all(Path(path).is_file() for path in rendered["rule_files"])
