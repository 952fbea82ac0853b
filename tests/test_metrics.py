"""Metrics on the running mesh: real traffic through the gateway, then every part's Prometheus endpoint
scraped and parsed (prometheus_client's parsers), and a real Prometheus with the shipped scrape
configuration and rules asked, through its HTTP API, for every rule's and dashboard panel's query."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from clearframe_mesh import prometheus as prometheus_config
from clearframe_mesh.launcher import SERVICES, Mesh
from clearframe_mesh.process import free_port
from tests.conftest import SpanSink, make_key
from tests.media_samples import animated_gif
from tests.test_moderation import Receiver, h, models, scan

REPO_ROOT = Path(__file__).resolve().parents[1]
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules" / "clearframe.rules.yml"
DASHBOARDS = sorted((REPO_ROOT / "deploy" / "grafana").glob("*.json"))
#: `<left side> <op> <number>`: what an alert compares (see the rules file's header).
THRESHOLD = re.compile(r"^(?P<left>.*\S)\s*(>=|<=|==|!=|>|<)\s*[-+0-9.e]+\s*$", re.DOTALL)


def samples_of(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def scrape(url: str, **headers: str) -> str:
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:300]}"
    return response.text


def matching(samples: list[Sample], name: str, **labels: str) -> list[Sample]:
    return [s for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in matching(samples, name, **labels))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    hook = Receiver(fail_first=1)
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture(scope="module")
def traffic(mesh: Mesh, http: httpx.Client, admin_headers: dict[str, str], receiver: Receiver) -> dict[str, Any]:
    """Scans (an image flagged into the review queue, a GIF through frames), a configuration change, a
    webhook that fails once then succeeds, and a NOT_FOUND — all through the gateway."""
    keys = {
        "config": make_key(http, admin_headers, "config.read", "config.write"),
        "scan": make_key(http, admin_headers, "scans.create"),
        "read": make_key(http, admin_headers, "moderation.read"),
    }
    created = http.post(
        "/v1/webhooks",
        headers=h(keys["config"]),
        json={"url": receiver.url, "enabled": True, "event_types": ["WEBHOOK_EVENT_TYPE_DECISION_CREATED"]},
    )
    assert created.status_code == 201, created.text
    (strict,) = models(http, keys, 100, webhooks=True)
    flagged = scan(http, keys, strict)
    gif = http.post(
        "/v1/scans",
        params={"usage_intent": "store", "model_id": strict},
        headers={**h(keys["scan"]), "content-type": "image/gif"},
        content=animated_gif(4),
    )
    assert gif.status_code == 201, gif.text
    missing = http.get(f"/v1/scans/{uuid.uuid4().hex}", headers=h(keys["read"]))
    assert missing.status_code == 404, missing.text
    receiver.wait_for(2)  # the first attempt fails (503), the retry succeeds
    webhook_id = created.json()["webhook"]["webhook_id"]
    return {"flagged": flagged, "model": strict, "keys": keys, "webhook_id": webhook_id}


def test_endpoints_json_lists_every_part(mesh: Mesh) -> None:
    endpoints = json.loads(mesh.endpoints_path.read_text())
    assert set(endpoints["services"]) == set(SERVICES)
    for name in SERVICES:
        assert endpoints["services"][name]["grpc"] == mesh.service_target(name)
        assert endpoints["services"][name]["metrics"] == mesh.metrics_url(name)
    assert endpoints["gateway"]["http"] == mesh.gateway_url
    assert endpoints["envoy_admin"]["metrics"].endswith("/stats/prometheus")
    assert endpoints["triton"]["metrics"].endswith("/metrics")


def test_every_service_serves_its_metrics(mesh: Mesh, traffic: dict[str, Any]) -> None:
    for name in SERVICES:
        samples = samples_of(scrape(mesh.metrics_url(name)))
        (info,) = matching(samples, "target_info")
        assert info.labels["service_name"] == f"clearframe-{name}", name
    envoy = samples_of(scrape(json.loads(mesh.endpoints_path.read_text())["envoy_admin"]["metrics"]))
    assert any(s.name.startswith("envoy_cluster_upstream_rq") for s in envoy)
    triton = samples_of(scrape(json.loads(mesh.endpoints_path.read_text())["triton"]["metrics"]))
    # Triton's counters have no _total suffix; prometheus_client's parser adds one to counter samples.
    assert total(triton, "nv_inference_request_success") + total(triton, "nv_inference_request_success_total") > 0


def test_red_metrics_move_with_the_right_labels(mesh: Mesh, traffic: dict[str, Any]) -> None:
    scanner = samples_of(scrape(mesh.metrics_url("scanner")))
    create = {"rpc_service": "clearframe.scanner.v1.ScannerService", "rpc_method": "CreateScan", "rpc_system": "grpc"}
    assert total(scanner, "rpc_server_requests_total", **create, rpc_grpc_status_code="0") >= 2
    assert total(scanner, "rpc_server_duration_milliseconds_count", **create, rpc_grpc_status_code="0") >= 2
    inf = matching(scanner, "rpc_server_duration_milliseconds_bucket", **create, rpc_grpc_status_code="0", le="+Inf")
    assert inf and inf[0].value >= 2
    get = {"rpc_service": "clearframe.scanner.v1.ScannerService", "rpc_method": "GetScan"}
    assert total(scanner, "rpc_server_errors_total", **get, rpc_grpc_status_code="5") >= 1
    # Errors are counted only for codes other than OK (other tests of the session send bad scans).
    assert total(scanner, "rpc_server_errors_total", **create, rpc_grpc_status_code="0") == 0
    assert not [s for s in scanner if s.labels.get("rpc_service") == "grpc.health.v1.Health"]
    config = samples_of(scrape(mesh.metrics_url("config")))
    assert total(config, "rpc_server_requests_total", rpc_method="UpdateAnalysisConfig", rpc_grpc_status_code="0") >= 1
    auth = samples_of(scrape(mesh.metrics_url("auth")))
    assert total(auth, "rpc_server_requests_total") >= 1


def test_histograms_carry_trace_id_exemplars(mesh: Mesh, traffic: dict[str, Any]) -> None:
    text = scrape(mesh.metrics_url("scanner"), Accept="application/openmetrics-text; version=1.0.0")
    families = {f.name: f for f in parse_openmetrics(text)}  # type: ignore[no-untyped-call]
    exemplars = [s.exemplar for s in families["rpc_server_duration_milliseconds"].samples if s.exemplar]
    assert exemplars, "no exemplar on rpc_server_duration_milliseconds"
    assert all(re.fullmatch(r"[0-9a-f]{32}", e.labels["trace_id"]) for e in exemplars)


def test_domain_metrics(mesh: Mesh, traffic: dict[str, Any]) -> None:
    scanner = samples_of(scrape(mesh.metrics_url("scanner")))
    assert traffic["flagged"]["result"]["verdict"] == "VERDICT_FLAGGED"
    flagged = {"usage_intent": "store", "media_type": "image", "verdict": "FLAGGED"}
    assert total(scanner, "clearframe_scanner_scans_total", **flagged) >= 1
    assert total(scanner, "clearframe_scanner_scans_total", usage_intent="store", media_type="animated_gif") >= 1
    assert total(scanner, "clearframe_inference_duration_milliseconds_count", outcome="ok") >= 1
    models = {s.labels["model"] for s in matching(scanner, "clearframe_inference_batch_size_count")}
    assert models, "no inference batch sizes"
    assert total(scanner, "clearframe_webhook_deliveries_total", outcome="retrying") >= 1
    assert total(scanner, "clearframe_webhook_deliveries_total", outcome="succeeded") >= 1
    deadline = time.monotonic() + 15
    while total(scanner, "clearframe_review_queue_size") < 1 and time.monotonic() < deadline:
        time.sleep(1)
        scanner = samples_of(scrape(mesh.metrics_url("scanner")))
    assert total(scanner, "clearframe_review_queue_size") >= 1
    assert {s.labels["priority"] for s in matching(scanner, "clearframe_review_queue_oldest_age_seconds")} == {
        "URGENT",
        "NORMAL",
    }
    frames = samples_of(scrape(mesh.metrics_url("frames")))
    assert total(frames, "clearframe_frames_decoded_total", media_kind="animated_gif") >= 1
    config = samples_of(scrape(mesh.metrics_url("config")))
    assert total(config, "clearframe_config_changes_total", action="updated") >= 1
    assert total(scanner, "clearframe_moderation_decisions_total", verdict="FLAGGED", kind="automated") >= 1
    auth = samples_of(scrape(mesh.metrics_url("auth")))
    assert total(auth, "clearframe_auth_decisions_total", decision="allowed", principal_kind="api_key") >= 1
    assert matching(config, "clearframe_config_watch_subscribers")


# --- a real Prometheus ------------------------------------------------------------------------------


def rule_queries() -> list[tuple[str, str]]:
    """(name, PromQL) of every recording rule, and of every alert's left side."""
    queries = []
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                queries.append((rule["record"], rule["expr"]))
                continue
            found = THRESHOLD.match(rule["expr"])
            assert found, f"alert {rule['alert']}: expression is not `<query> <op> <threshold>`"
            queries.append((rule["alert"], found.group("left")))
    return queries


def dashboard_queries() -> list[tuple[str, str]]:
    queries = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                queries.append((f"{path.name}: {panel['title']}", target["expr"]))
    return queries


@pytest.fixture(scope="module")
def prometheus(mesh: Mesh, traffic: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus server is not installed (Debian: apt-get install prometheus); .ci/run installs it")
    workdir = tmp_path_factory.mktemp("prometheus")
    config = prometheus_config.render(json.loads(mesh.endpoints_path.read_text()), scrape_interval="1s")
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--enable-feature=exemplar-storage",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (workdir / "prometheus.log").read_text()[-2000:]
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "prometheus not ready in 30 s"
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def query(url: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=10)
    assert response.status_code == 200, f"{promql}: {response.text}"
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def test_prometheus_scrapes_every_target(prometheus: str, mesh: Mesh) -> None:
    deadline = time.monotonic() + 30
    while True:
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        health = {(t["labels"]["job"], t["labels"].get("service", "")): t["health"] for t in targets}
        if len(health) == len(SERVICES) + 2 and set(health.values()) == {"up"}:
            break
        assert time.monotonic() < deadline, f"targets not all up: {health}"
        time.sleep(1)
    assert {service for job, service in health if job == "clearframe"} == set(SERVICES)


def test_rule_and_dashboard_queries_return_series(prometheus: str, mesh: Mesh, traffic: dict[str, Any]) -> None:
    # Traffic after the first scrapes, so that rates have two samples with a change between them.
    keys = traffic["keys"]
    http = httpx.Client(base_url=mesh.gateway_url, timeout=30)
    scan(http, keys, traffic["model"])
    queries = rule_queries() + dashboard_queries()
    assert len(dashboard_queries()) >= 6, "the overview dashboard has no queries"
    empty: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while True:
        empty = {name: promql for name, promql in queries if not query(prometheus, promql)}
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(2)
    http.close()
    assert not empty, f"queries without series: {json.dumps(empty, indent=1)}"
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    unhealthy = [r["name"] for g in rules for r in g["rules"] if r.get("health") not in ("ok", "unknown")]
    assert not unhealthy, unhealthy


def test_metrics_are_exported_over_otlp(span_sink: tuple[SpanSink, str], traffic: dict[str, Any]) -> None:
    sink = span_sink[0].metrics
    deadline = time.monotonic() + 15
    while "clearframe.scanner.scans" not in sink.names_of("clearframe-scanner") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert {"rpc.server.duration", "rpc.server.requests", "clearframe.scanner.scans"} <= sink.names_of(
        "clearframe-scanner"
    )
    for name in ("auth", "frames", "config"):  # the services this module's traffic reached
        assert "rpc.server.duration" in sink.names_of(f"clearframe-{name}"), name
    assert "clearframe.auth.decisions" in sink.names_of("clearframe-auth")


def test_prometheus_keeps_the_exemplars(prometheus: str, traffic: dict[str, Any]) -> None:
    deadline = time.monotonic() + 30
    while True:
        response = httpx.get(
            f"{prometheus}/api/v1/query_exemplars",
            params={"query": "rpc_server_duration_milliseconds_bucket", "start": time.time() - 600, "end": time.time()},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        found = [e for series in response.json()["data"] for e in series["exemplars"]]
        if found or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert found, "Prometheus stored no exemplar of rpc_server_duration_milliseconds"
    assert all(re.fullmatch(r"[0-9a-f]{32}", e["labels"]["trace_id"]) for e in found)
