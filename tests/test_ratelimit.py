"""The gateway's rate limits through Envoy: bursts then 429 with headers, native gRPC, shadow rules,
hot reload (an invalid file keeps the last good rules), the admin calls and failed authentications.

The mesh runs tests/ratelimit_rules.yaml (limits no other test reaches); each test here rewrites the
mesh's copy with its own rules, waits until the gateway reports them loaded, and puts it back after.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from clearframe.auth.v1 import auth_pb2, auth_pb2_grpc
from clearframe_mesh.launcher import Mesh
from tests.conftest import TEST_RATELIMIT_RULES, make_key

GET_CALLER = "/clearframe.auth.v1.AuthService/GetCaller"


def caller_burst(limit: int, *, shadow: bool = False, name: str = "caller-burst") -> str:
    return f"""
  - name: {name}
    match: {{rpc: {GET_CALLER}}}
    key: [principal]
    strategy: fixed_window
    limit: {limit}
    window: 1m
    shadow: {str(shadow).lower()}
"""


def status(http: httpx.Client, admin_headers: dict[str, str]) -> httpx.Response:
    return http.get("/v1/ratelimit/status", headers=admin_headers)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def set_rules(mesh: Mesh, http: httpx.Client, admin_headers: dict[str, str]) -> Iterator[Callable[[str], None]]:
    """Append rules to the test rules and wait until the gateway has them; restore and clear after."""
    path = Path(mesh.options.extra_env["CLEARFRAME_RATELIMIT_RULES"])
    base = TEST_RATELIMIT_RULES.read_text()

    def loaded(names: set[str]) -> bool:
        response = status(http, admin_headers)
        return response.status_code == 200 and {r["name"] for r in response.json()["rules"]} == names

    def apply(extra: str) -> None:
        path.write_text(base + extra)
        names = {line.split(":", 1)[1].strip() for line in (base + extra).splitlines() if "- name:" in line}
        wait_for(lambda: loaded(names), f"rules {sorted(names)} loaded")

    yield apply
    path.write_text(base)
    names = {line.split(":", 1)[1].strip() for line in base.splitlines() if "- name:" in line}
    wait_for(lambda: loaded(names), "the test rules restored")
    assert http.post("/v1/ratelimit/clear", headers=admin_headers, json={}).status_code == 200


def test_a_burst_then_429_with_retry_after_ratelimit_and_json_body(
    http: httpx.Client, admin_headers: dict[str, str], set_rules: Callable[[str], None]
) -> None:
    set_rules(caller_burst(3))
    headers = {"Authorization": f"Bearer {make_key(http, admin_headers, 'moderation.read')}"}
    answers = [http.get("/v1/caller", headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
    first = answers[0]
    assert '"caller-burst";q=3;w=60' in first.headers["ratelimit-policy"]
    assert '"caller-burst";r=2;t=60' in first.headers["ratelimit"]
    assert first.headers["x-ratelimit-limit"] == "3, 3;w=60"
    assert 0 < int(first.headers["x-ratelimit-reset"]) <= 60
    assert "retry-after" not in first.headers

    refused = http.get("/v1/caller", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/json")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert '"caller-burst";r=0;' in refused.headers["ratelimit"]
    body = refused.json()
    assert body["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert body["error"] == "rate limited"
    assert body["details"][0]["reason"] == "RATE_LIMITED"
    assert body["details"][0]["metadata"]["rule"] == "caller-burst"

    # Counted per principal: another caller is not affected.
    other = {"Authorization": f"Bearer {make_key(http, admin_headers, 'moderation.read')}"}
    assert http.get("/v1/caller", headers=other).status_code == 200


def test_native_grpc_over_the_limit_gets_resource_exhausted(
    http: httpx.Client,
    admin_headers: dict[str, str],
    gateway_channel: grpc.Channel,
    set_rules: Callable[[str], None],
) -> None:
    set_rules(caller_burst(2))
    metadata = [("authorization", f"Bearer {make_key(http, admin_headers, 'moderation.read')}")]
    stub = auth_pb2_grpc.AuthServiceStub(gateway_channel)
    for _ in range(2):
        stub.GetCaller(auth_pb2.GetCallerRequest(), metadata=metadata, timeout=10)
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetCaller(auth_pb2.GetCallerRequest(), metadata=metadata, timeout=10)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_shadow_rule_counts_its_refusals_and_never_refuses(
    http: httpx.Client, admin_headers: dict[str, str], set_rules: Callable[[str], None]
) -> None:
    set_rules(caller_burst(1, shadow=True, name="caller-shadow"))
    headers = {"Authorization": f"Bearer {make_key(http, admin_headers, 'moderation.read')}"}
    assert [http.get("/v1/caller", headers=headers).status_code for _ in range(4)] == [200] * 4
    counts = status(http, admin_headers).json()["counts"]
    assert int(counts["shadow_limited:caller-shadow"]) >= 3


def test_an_invalid_rules_file_keeps_the_last_good_rules(
    mesh: Mesh, http: httpx.Client, admin_headers: dict[str, str], set_rules: Callable[[str], None]
) -> None:
    set_rules(caller_burst(1))
    headers = {"Authorization": f"Bearer {make_key(http, admin_headers, 'moderation.read')}"}
    assert http.get("/v1/caller", headers=headers).status_code == 200
    path = Path(mesh.options.extra_env["CLEARFRAME_RATELIMIT_RULES"])
    path.write_text(path.read_text().replace("limit: 1\n", "limit: -1\n"))

    def reported() -> bool:
        return "limit" in status(http, admin_headers).json()["last_reload_error"]

    wait_for(reported, "the reload error")
    error = status(http, admin_headers).json()["last_reload_error"]
    assert "rules[5].limit" in error
    assert http.get("/v1/caller", headers=headers).status_code == 429


def test_admin_checks_without_consuming_and_resets_a_principal(
    http: httpx.Client, admin_headers: dict[str, str], set_rules: Callable[[str], None]
) -> None:
    set_rules(caller_burst(2))
    headers = {"Authorization": f"Bearer {make_key(http, admin_headers, 'moderation.read')}"}
    subject = http.get("/v1/caller", headers=headers).json()["caller"]["subject"]
    check = {"attributes": {"principal": subject, "rpc": GET_CALLER}}
    for _ in range(3):  # asking does not count
        answer = http.post("/v1/ratelimit/check", headers=admin_headers, json=check).json()
        assert answer["allowed"] is True
        assert [(r["rule"], r["remaining"]) for r in answer["rules"]] == [("caller-burst", 1)]
    assert http.get("/v1/caller", headers=headers).status_code == 200
    assert http.get("/v1/caller", headers=headers).status_code == 429
    assert http.post("/v1/ratelimit/check", headers=admin_headers, json=check).json()["allowed"] is False

    assert http.post("/v1/ratelimit/reset", headers=headers, json={"principal": subject}).status_code == 403
    reset = http.post("/v1/ratelimit/reset", headers=admin_headers, json={"principal": subject})
    assert reset.status_code == 200 and reset.json()["removed"] >= 1
    assert http.get("/v1/caller", headers=headers).status_code == 200
    missing = http.post("/v1/ratelimit/reset", headers=admin_headers, json={})
    assert missing.status_code == 400


def test_failed_authentications_per_address_then_even_a_valid_key_waits(
    http: httpx.Client, admin_headers: dict[str, str], set_rules: Callable[[str], None]
) -> None:
    set_rules(
        """
  - name: failed-auth-strict
    match: {event: auth_failure}
    key: [remote_address]
    strategy: sliding_window
    limit: 3
    window: 1m
"""
    )
    wrong = {"Authorization": "Bearer " + "e" * 32}
    assert [http.get("/v1/caller", headers=wrong).status_code for _ in range(3)] == [401] * 3
    refused = http.get("/v1/caller", headers=wrong)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["details"][0]["metadata"]["rule"] == "failed-auth-strict"
    # Blocked before the secret is checked: guessing right no longer tells anything.
    assert http.get("/v1/caller", headers=admin_headers).status_code == 429
    # Anonymous public routes are not authentication attempts.
    assert http.get("/healthz").status_code == 200


def test_public_redirects_are_limited_per_address_by_their_rest_path(
    http: httpx.Client, admin_headers: dict[str, str], set_rules: Callable[[str], None]
) -> None:
    set_rules(
        """
  - name: redirects-strict
    match: {path: "/s/*"}
    key: [remote_address]
    strategy: token_bucket
    limit: 2
    window: 1h
"""
    )
    answers = [http.get("/s/NoSuchCd", follow_redirects=False) for _ in range(3)]
    assert [a.status_code == 429 for a in answers] == [False, False, True]
    assert answers[0].headers["ratelimit-policy"] == '"redirects-strict";q=2;w=3600'
    assert answers[2].headers["x-ratelimit-limit"] == "2, 2;w=3600"
    # Other routes from the same address are not counted by that rule.
    assert "redirects-strict" not in http.get("/v1/caller", headers=admin_headers).headers.get("ratelimit", "")


def test_status_names_the_store_in_use(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    # `make run` and the test mesh count in memory; CLEARFRAME_RATELIMIT_REDIS_URL in the environment
    # (passed on to the services) runs this file against Redis.
    body = status(http, admin_headers).json()
    assert body["store"] == ("redis" if os.environ.get("CLEARFRAME_RATELIMIT_REDIS_URL") else "memory")
    assert body["store_available"] is True
    assert body["rules_source"].endswith("ratelimit_rules.yaml")


def test_a_scan_weighs_ten_units(
    http: httpx.Client, admin_headers: dict[str, str], set_rules: Callable[[str], None]
) -> None:
    set_rules(
        """
  - name: scan-units
    match: {rpc: /clearframe.scanner.v1.ScannerService/CreateScan}
    key: [principal]
    strategy: fixed_window
    limit: 25
    window: 1h
"""
    )
    headers = {"Authorization": f"Bearer {make_key(http, admin_headers, 'scans.create')}"}
    # Empty scans are refused by the scanner (400), but they are counted first: 10 units each.
    answers = [http.post("/v1/scans", headers=headers, json={}) for _ in range(3)]
    assert [a.status_code == 429 for a in answers] == [False, False, True], [a.text for a in answers]
    assert answers[0].headers["x-ratelimit-remaining"] == "15"
    assert answers[1].headers["x-ratelimit-remaining"] == "5"
