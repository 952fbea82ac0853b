"""Seed 004's analysis configuration API through Envoy, as MuseNest calls it, plus Resolve and Watch."""

from __future__ import annotations

import copy
import json
import queue
import threading
import time
import uuid
from typing import Any

import grpc
import httpx
import pytest

from clearframe.config.v1 import config_service_pb2 as pb
from clearframe.config.v1 import config_service_pb2_grpc
from services.config.domain import READ_ONLY_FIELDS
from services.config.tests.musenest_shipped import SHIPPED_INTENTS, UNPRODUCED, shipped
from tests.conftest import make_key
from tests.media_samples import encoded

BASE = "/api/v1/analysis/config"

# The seed's two example configurations, verbatim from its README.
PAYSITE_EXAMPLE = json.loads("""{
    "detection_config": {
      "nudenet_components": {
        "breast_detection": false,
        "genitalia_detection": false,
        "buttocks_detection": false,
        "anus_detection": false,
        "face_detection": true
      },
      "blip_components": {
        "age_estimation": true,
        "child_content_detection": true,
        "image_description": true
      }
    },
    "scoring_config": {
      "detection_weights": {
        "BREAST_EXPOSED": 0,
        "GENITALIA": 0,
        "BUTTOCKS_EXPOSED": 0,
        "ANUS_EXPOSED": 0,
        "FACE_DETECTED": 0
      },
      "thresholds": {
        "auto_approve_under": 95,
        "auto_flag_over": 100,
        "auto_reject_over": 100
      },
      "risk_multipliers": {
        "underage_detected": 100.0,
        "child_content_blip": 100.0
      }
    },
    "blip_config": {
      "enabled": true,
      "child_detection_keywords": ["child", "kid", "baby", "minor", "young", "teen"],
      "age_estimation_threshold": 18,
      "description_analysis": true,
      "webhook_delivery": true
    }
  }""")

PUBLIC_SITE_EXAMPLE = json.loads("""{
    "detection_config": {
      "nudenet_components": {
        "breast_detection": true,
        "genitalia_detection": true,
        "buttocks_detection": true,
        "anus_detection": true,
        "face_detection": true
      },
      "blip_components": {
        "age_estimation": true,
        "child_content_detection": true,
        "image_description": false
      }
    },
    "scoring_config": {
      "detection_weights": {
        "BREAST_EXPOSED": 40,
        "GENITALIA": 95,
        "BUTTOCKS_EXPOSED": 30,
        "ANUS_EXPOSED": 80,
        "FACE_DETECTED": 0
      },
      "thresholds": {
        "auto_approve_under": 10,
        "auto_flag_over": 25,
        "auto_reject_over": 60
      },
      "risk_multipliers": {
        "underage_detected": 20.0,
        "child_content_blip": 15.0
      }
    },
    "blip_config": {
      "enabled": true,
      "child_detection_keywords": ["child", "kid", "baby", "toddler", "minor", "student"],
      "age_estimation_threshold": 18,
      "description_analysis": true,
      "webhook_delivery": true
    }
  }""")
OBJECTS = ("detection_config", "scoring_config", "blip_config")


@pytest.fixture(scope="module")
def keys(http: httpx.Client, admin_headers: dict[str, str]) -> dict[str, str]:
    return {
        "read": make_key(http, admin_headers, "config.read"),
        "write": make_key(http, admin_headers, "config.read", "config.write"),
        "all": make_key(http, admin_headers, "config.read", "config.write", "config.delete"),
    }


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_model() -> str:
    return "m" + uuid.uuid4().hex[:12]


def with_approve(example: dict[str, Any], approve: float) -> dict[str, Any]:
    body = copy.deepcopy(example)
    body["scoring_config"]["thresholds"]["auto_approve_under"] = approve
    return body


def put(http: httpx.Client, key: str, path: str, body: Any, **headers: str) -> httpx.Response:
    return http.put(f"{BASE}/{path}", headers={"X-API-Key": key, **headers}, json=body)


def error_field(body: dict[str, Any]) -> str:
    """metadata.field of the ErrorInfo, whether the gateway wraps the status in MuseNest's envelope or not."""
    status = body.get("status", body)
    return str(status["details"][0]["metadata"]["field"])


def test_seed_examples_round_trip(http: httpx.Client, keys: dict[str, str]) -> None:
    for intent, example in (("paysite", PAYSITE_EXAMPLE), ("public_site", PUBLIC_SITE_EXAMPLE)):
        stored = http.put(f"{BASE}/{intent}", headers=bearer(keys["write"]), json=example)
        assert stored.status_code == 200, stored.text
        answer = stored.json()
        assert answer["success"] is True and answer["message"] == "Configuration updated successfully"
        assert answer["data"]["usage_intent"] == intent and answer["data"].get("model_id") is None
        assert isinstance(answer["data"]["id"], int) and answer["data"]["version"] >= 1
        for name in OBJECTS:
            assert answer["data"][name] == example[name]

        got = http.get(f"{BASE}/{intent}", headers=bearer(keys["read"]))
        assert got.status_code == 200, got.text
        envelope = got.json()
        assert envelope["success"] is True and set(envelope["cache_status"]) >= {"cached"}
        row = envelope["data"]
        assert {name: row[name] for name in OBJECTS} == {name: example[name] for name in OBJECTS}
        assert row["is_active"] is True and row["created_at"] and row["updated_at"]


def test_components_without_a_model_are_reported_not_run(http: httpx.Client, keys: dict[str, str]) -> None:
    model = new_model()
    stored = put(http, keys["write"], f"paysite/{model}", PAYSITE_EXAMPLE)
    assert stored.status_code == 200, stored.text
    not_run = {item["field"]: item["reason"] for item in stored.json()["data"]["not_run"]}
    assert set(not_run) == {"detection_config.blip_components.image_description", "blip_config.description_analysis"}
    assert all(reason for reason in not_run.values())
    checked = http.post(f"{BASE}/validate", headers=bearer(keys["read"]), json=PAYSITE_EXAMPLE).json()
    assert checked["valid"] is True and len(checked["not_run"]) == 2
    assert any("will not run" in warning for warning in checked["warnings"])


def test_model_override_wins_over_the_intent_global(http: httpx.Client, keys: dict[str, str]) -> None:
    model, other = new_model(), new_model()
    assert put(http, keys["write"], "store", with_approve(PUBLIC_SITE_EXAMPLE, 5)).status_code == 200
    assert put(http, keys["write"], f"store/{model}", with_approve(PUBLIC_SITE_EXAMPLE, 7)).status_code == 200

    own = http.get(f"{BASE}/store/{model}", headers=bearer(keys["read"])).json()["data"]
    assert own["model_id"] == model and own["scoring_config"]["thresholds"]["auto_approve_under"] == 7
    fallback = http.get(f"{BASE}/store/{other}", headers=bearer(keys["read"])).json()["data"]
    assert fallback.get("model_id") is None and fallback["scoring_config"]["thresholds"]["auto_approve_under"] == 5

    resolved = http.get(
        "/v1/config:resolve", params={"usage_intent": "store", "model_id": model}, headers=bearer(keys["read"])
    ).json()
    assert resolved["source"] == "CONFIG_SOURCE_MODEL_OVERRIDE" and resolved["config"]["model_id"] == model
    resolved = http.get(
        "/v1/config:resolve", params={"usage_intent": "store", "model_id": other}, headers=bearer(keys["read"])
    ).json()
    assert resolved["source"] == "CONFIG_SOURCE_INTENT_GLOBAL"


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    keys = path.split(".")
    node = body
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return body


def _drop(body: dict[str, Any], path: str) -> dict[str, Any]:
    keys = path.split(".")
    node = body
    for key in keys[:-1]:
        node = node[key]
    del node[keys[-1]]
    return body


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("blip_config", "drop"),
        ("detection_config", "drop"),
        ("scoring_config", "drop"),
        ("detection_config.nudenet_components.breast_detection", "yes"),
        ("scoring_config.detection_weights.GENITALIA", 120),
        ("scoring_config.detection_weights.GENITALIA", "85"),
        ("scoring_config.detection_weights.has space", 10),
        ("scoring_config.thresholds.auto_reject_over", 101),
        ("scoring_config.risk_multipliers.underage_detected", -1),
        ("blip_config.child_detection_keywords", ["child", ""]),
        ("blip_config.age_estimation_threshold", 12.5),
        ("blip_config.unknown_switch", True),
        ("surprise", {}),
    ],
)
def test_every_validation_rule_answers_400_naming_the_field(
    http: httpx.Client, keys: dict[str, str], path: str, change: Any
) -> None:
    body = copy.deepcopy(PUBLIC_SITE_EXAMPLE)
    body = _drop(body, path) if change == "drop" else _set(body, path, change)
    model = new_model()
    response = put(http, keys["write"], f"private/{model}", body)
    assert response.status_code == 400, response.text
    answer = response.json()
    expected = "blip_config.child_detection_keywords[1]" if path.endswith("keywords") else path
    assert error_field(answer) == expected
    # MuseNest's envelope: the code, and every error in the validation_errors list.
    assert answer["success"] is False and answer["code"] == "VALIDATION_ERROR"
    assert answer["error"].startswith("Invalid configuration data")
    assert isinstance(answer["validation_errors"], list) and len(answer["validation_errors"]) == 1
    assert expected in answer["validation_errors"][0]
    # Nothing was stored.
    after = http.get(f"{BASE}/private/{model}", headers=bearer(keys["read"]))
    assert after.status_code == 404 or after.json()["data"].get("model_id") != model

    checked = http.post(f"{BASE}/validate", headers=bearer(keys["read"]), json=body)
    assert checked.status_code == 200, checked.text
    verdict = checked.json()
    assert verdict["success"] is True and verdict["valid"] is False
    assert any(path.split(".")[-1] in error for error in verdict["errors"])


def test_unknown_usage_intent_is_refused(http: httpx.Client, keys: dict[str, str]) -> None:
    for response in (
        http.get(f"{BASE}/adult_site", headers=bearer(keys["read"])),
        put(http, keys["write"], "adult_site", PUBLIC_SITE_EXAMPLE),
    ):
        assert response.status_code == 400, response.text
        assert error_field(response.json()) == "usage_intent"
        answer = response.json()
        assert answer["code"] == "INVALID_USAGE_INTENT"
        assert answer["valid_options"] == ["public_site", "paysite", "store", "private"]
        assert "validation_errors" not in answer


def test_several_errors_are_all_listed_in_validation_errors(http: httpx.Client, keys: dict[str, str]) -> None:
    body = _set(copy.deepcopy(PUBLIC_SITE_EXAMPLE), "scoring_config.detection_weights.GENITALIA", 300)
    _set(body, "blip_config.age_estimation_threshold", 'quote " and \\ backslash')
    del body["detection_config"]
    response = put(http, keys["write"], f"private/{new_model()}", body)
    assert response.status_code == 400, response.text
    assert response.json()["validation_errors"] == [
        "Missing required field: detection_config",
        "scoring_config.detection_weights.GENITALIA must be number 0-100, got number 300",
        "blip_config.age_estimation_threshold must be a whole number 1-80, got string 'quote \" and \\\\ backslash'",
    ]


def test_get_data_put_back_with_one_threshold_changed_is_stored_with_a_warning(
    http: httpx.Client, keys: dict[str, str]
) -> None:
    """MuseNest's scripts/test_api_endpoints.js test 3: PUT back the GET's `data`, auto_approve_under 95 -> 99
    (above auto_flag_over 98)."""
    assert put(http, keys["write"], "private", shipped("private")).status_code == 200
    original = http.get(f"{BASE}/private", headers=bearer(keys["read"])).json()["data"]
    assert set(original) >= READ_ONLY_FIELDS  # every row field is printed, so every one comes back
    assert original["model_id"] is None  # printed, as null, for a global configuration

    modified = copy.deepcopy(original)
    modified["scoring_config"]["thresholds"]["auto_approve_under"] = 99
    response = put(http, keys["write"], "private", modified)
    assert response.status_code == 200, response.text
    answer = response.json()
    warning = (
        "scoring_config.thresholds.auto_approve_under (99) is above auto_flag_over (98): "
        "approval is checked first, so scores up to 99 are approved"
    )
    assert warning in answer["warnings"] and warning in answer["data"]["warnings"]
    assert answer["data"]["scoring_config"]["thresholds"]["auto_approve_under"] == 99
    # The read-only fields sent back were ignored, not applied.
    assert answer["data"]["version"] == original["version"] + 1 and answer["data"]["id"] != original["id"]
    assert answer["data"]["model_id"] is None

    verify = http.get(f"{BASE}/private", headers=bearer(keys["read"])).json()["data"]
    assert verify["scoring_config"]["thresholds"]["auto_approve_under"] == 99 and warning in verify["warnings"]
    checked = http.post(f"{BASE}/validate", headers=bearer(keys["read"]), json=modified).json()
    assert checked["valid"] is True and warning in checked["warnings"]
    audit = http.get(f"{BASE}/private/audit", params={"limit": 1}, headers=bearer(keys["read"])).json()["data"]
    assert audit[0]["model_id"] is None and audit[0]["previous_values"]["model_id"] is None


def test_an_unknown_key_beside_the_read_only_fields_is_still_refused(http: httpx.Client, keys: dict[str, str]) -> None:
    model = new_model()
    assert put(http, keys["write"], f"paysite/{model}", PAYSITE_EXAMPLE).status_code == 200
    data = http.get(f"{BASE}/paysite/{model}", headers=bearer(keys["read"])).json()["data"]
    assert data["model_id"] == model
    response = put(http, keys["write"], f"paysite/{model}", {**data, "cache_status": {"cached": False}})
    assert response.status_code == 400, response.text
    assert error_field(response.json()) == "cache_status"
    assert response.json()["validation_errors"] == [
        "cache_status is not a known field (expected one of detection_config, scoring_config, blip_config)"
    ]
    assert http.get(f"{BASE}/paysite/{model}", headers=bearer(keys["read"])).json()["data"]["version"] == 1


@pytest.mark.parametrize("intent", SHIPPED_INTENTS)
def test_musenests_shipped_configurations_are_kept_and_their_unknown_weights_reported(
    http: httpx.Client, keys: dict[str, str], intent: str
) -> None:
    model = new_model()
    response = put(http, keys["write"], f"{intent}/{model}", shipped(intent))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["scoring_config"]["detection_weights"] == shipped(intent)["scoring_config"]["detection_weights"]
    reported = {
        item["field"].rsplit(".", 1)[1]: item["reason"]
        for item in data["not_run"]
        if item["field"].startswith("scoring_config.detection_weights.")
    }
    assert set(reported) == UNPRODUCED[intent]
    assert all("no Clearframe analyzer produces the label" in reason for reason in reported.values())
    for label in UNPRODUCED[intent]:
        assert any(w.startswith(f"scoring_config.detection_weights.{label} has no effect") for w in data["warnings"])
    got = http.get(f"{BASE}/{intent}/{model}", headers=bearer(keys["read"])).json()["data"]
    assert got["scoring_config"]["detection_weights"] == data["scoring_config"]["detection_weights"]
    assert got["warnings"] == data["warnings"]


def test_a_scan_under_a_configuration_says_its_warnings(
    http: httpx.Client, keys: dict[str, str], admin_headers: dict[str, str]
) -> None:
    model = new_model()
    assert put(http, keys["write"], f"store/{model}", shipped("store")).status_code == 200
    scanner_key = make_key(http, admin_headers, "scans.create")
    response = http.post(
        "/v1/scans",
        params={"usage_intent": "store", "model_id": model},
        headers={"X-API-Key": scanner_key, "content-type": "image/jpeg"},
        content=encoded("coffee", "JPEG", quality=90),
    )
    assert response.status_code == 201, response.text
    result = response.json()["scan"]["result"]
    assert result["reasons"]["model_id"] == model and result["reasons"]["config_version"] == 1
    stated = [w for w in result["warnings"] if w.startswith("scoring_config.detection_weights.")]
    assert sorted(w.split(" ", 1)[0] for w in stated) == [
        "scoring_config.detection_weights.ILLEGAL_CONTENT",
        "scoring_config.detection_weights.VIOLENCE",
    ]
    assert all("no Clearframe analyzer produces the label" in w for w in stated)

    # A configuration without such keys says nothing.
    other = new_model()
    plain = _set(copy.deepcopy(PUBLIC_SITE_EXAMPLE), "blip_config.description_analysis", False)
    assert put(http, keys["write"], f"store/{other}", plain).status_code == 200
    clean = http.post(
        "/v1/scans",
        params={"usage_intent": "store", "model_id": other},
        headers={"X-API-Key": scanner_key, "content-type": "image/jpeg"},
        content=encoded("coffee", "JPEG", quality=90),
    )
    assert clean.status_code == 201, clean.text
    assert clean.json()["scan"]["result"]["warnings"] == []


def test_audit_records_principal_ip_and_user_agent(http: httpx.Client, keys: dict[str, str]) -> None:
    model = new_model()
    response = put(http, keys["write"], f"private/{model}", PUBLIC_SITE_EXAMPLE, **{"User-Agent": "musenest-sync/2"})
    assert response.status_code == 200
    caller = http.get("/v1/caller", headers=bearer(keys["write"])).json()["caller"]
    audit = http.get(f"{BASE}/private/audit", params={"limit": 5, "offset": 0}, headers=bearer(keys["read"]))
    assert audit.status_code == 200, audit.text
    answer = audit.json()
    assert answer["success"] is True and answer["pagination"]["limit"] == 5
    entry = next(e for e in answer["data"] if e["model_id"] == model)
    assert entry["action"] == "create" and entry["changed_by"] == caller["subject"]
    assert entry["source_ip"] == caller["client_ip"] == "127.0.0.1"
    assert entry["user_agent"].startswith("musenest-sync/2")
    assert entry["changes"]["scoring_config"] == PUBLIC_SITE_EXAMPLE["scoring_config"]
    assert entry["usage_intent"] == "private" and entry["timestamp"]


def test_audit_route_wins_over_model_id_and_paginates(http: httpx.Client, keys: dict[str, str]) -> None:
    model = new_model()
    for approve in (1, 2, 3):
        assert put(http, keys["write"], f"public_site/{model}", with_approve(PUBLIC_SITE_EXAMPLE, approve)).is_success
    page = http.get(
        f"{BASE}/public_site/audit", params={"limit": 2, "offset": 1, "model_id": model}, headers=bearer(keys["read"])
    ).json()
    assert [e["version"] for e in page["data"]] == [2, 1]
    assert page["pagination"] == {"limit": 2, "offset": 1, "total": 3}
    # "audit" can never be stored as a model id, so the route is never ambiguous.
    assert put(http, keys["write"], "public_site/audit", PUBLIC_SITE_EXAMPLE).status_code in (400, 404, 405)


def test_read_only_key_gets_403_on_write_and_delete(http: httpx.Client, keys: dict[str, str]) -> None:
    response = put(http, keys["read"], f"paysite/{new_model()}", PAYSITE_EXAMPLE)
    assert response.status_code == 403, response.text
    assert response.json().get("code", "INSUFFICIENT_PERMISSIONS") == "INSUFFICIENT_PERMISSIONS"
    assert http.delete(f"{BASE}/paysite", headers=bearer(keys["write"])).status_code == 403
    assert http.post(f"{BASE}/cache/clear", headers=bearer(keys["read"]), json={}).status_code == 403


def test_api_key_in_the_query_works(http: httpx.Client, keys: dict[str, str]) -> None:
    model = new_model()
    stored = http.put(f"{BASE}/paysite/{model}", params={"api_key": keys["write"]}, json=PAYSITE_EXAMPLE)
    assert stored.status_code == 200, stored.text
    got = http.get(f"{BASE}/paysite/{model}", params={"api_key": keys["read"]})
    assert got.status_code == 200 and got.json()["data"]["model_id"] == model


def test_cache_status_and_cache_clear(http: httpx.Client, keys: dict[str, str]) -> None:
    model = new_model()
    assert put(http, keys["write"], f"private/{model}", PUBLIC_SITE_EXAMPLE).is_success
    cleared = http.post(f"{BASE}/cache/clear", headers=bearer(keys["write"]))
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["success"] is True and cleared.json()["message"] == "Configuration cache cleared"

    first = http.get(f"{BASE}/private/{model}", headers=bearer(keys["read"])).json()["cache_status"]
    second = http.get(f"{BASE}/private/{model}", headers=bearer(keys["read"])).json()["cache_status"]
    assert first["cached"] is False
    assert second["cached"] is True and 0 < second["expires_in_ms"] <= 600_000

    assert http.post(f"{BASE}/cache/clear", headers=bearer(keys["write"]), json={}).status_code == 200
    third = http.get(f"{BASE}/private/{model}", headers=bearer(keys["read"])).json()["cache_status"]
    assert third["cached"] is False


def test_three_puts_in_a_row_increment_the_version(http: httpx.Client, keys: dict[str, str]) -> None:
    model = new_model()
    versions = []
    for approve in (1, 2, 3):
        response = put(http, keys["write"], f"paysite/{model}", with_approve(PAYSITE_EXAMPLE, approve))
        assert response.status_code == 200, response.text
        versions.append(response.json()["data"]["version"])
    assert versions == [1, 2, 3]
    got = http.get(f"{BASE}/paysite/{model}", headers=bearer(keys["read"])).json()["data"]
    assert got["version"] == 3 and got["scoring_config"]["thresholds"]["auto_approve_under"] == 3


def test_delete_deactivates_and_keeps_history(http: httpx.Client, keys: dict[str, str]) -> None:
    model = new_model()
    assert put(http, keys["all"], "paysite", PAYSITE_EXAMPLE).is_success
    assert put(http, keys["all"], f"paysite/{model}", with_approve(PAYSITE_EXAMPLE, 50)).is_success
    deleted = http.delete(f"{BASE}/paysite/{model}", headers=bearer(keys["all"]))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["message"] == "Configuration deactivated successfully"
    assert deleted.json()["data"]["is_active"] is False

    # GET falls back to the intent's global configuration (as the seed); Resolve says so.
    got = http.get(f"{BASE}/paysite/{model}", headers=bearer(keys["read"])).json()["data"]
    assert got.get("model_id") is None
    again = http.delete(f"{BASE}/paysite/{model}", headers=bearer(keys["all"]))
    assert again.status_code == 404 and again.json().get("code", "CONFIG_NOT_FOUND") == "CONFIG_NOT_FOUND"

    audit = http.get(
        f"{BASE}/paysite/audit", params={"model_id": model, "limit": 10}, headers=bearer(keys["read"])
    ).json()
    assert [(e["action"], e["version"]) for e in audit["data"]] == [("delete", 1), ("create", 1)]
    assert audit["data"][0]["previous_values"]["scoring_config"]["thresholds"]["auto_approve_under"] == 50


def test_builtin_default_when_nothing_is_stored(http: httpx.Client, keys: dict[str, str]) -> None:
    resolved = http.get(
        "/v1/config:resolve", params={"usage_intent": "private", "model_id": new_model()}, headers=bearer(keys["read"])
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["source"] in ("CONFIG_SOURCE_BUILTIN_DEFAULT", "CONFIG_SOURCE_INTENT_GLOBAL")


def test_watch_subscriber_gets_a_put_within_a_second(
    http: httpx.Client, keys: dict[str, str], gateway_channel: grpc.Channel
) -> None:
    model = new_model()
    stub = config_service_pb2_grpc.AnalysisConfigServiceStub(gateway_channel)
    call = stub.WatchAnalysisConfigs(
        pb.WatchAnalysisConfigsRequest(usage_intent="paysite", model_id=model, snapshot=True),
        metadata=[("x-api-key", keys["read"])],
        timeout=30,
    )
    events: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        try:
            for event in call:
                events.put(event)
        except grpc.RpcError as exc:
            events.put(exc)

    threading.Thread(target=read, daemon=True).start()
    first = events.get(timeout=10)
    assert not isinstance(first, grpc.RpcError), first
    assert first.event_type == pb.CONFIG_EVENT_TYPE_SNAPSHOT_COMPLETE  # nothing stored for this model yet

    sent = time.monotonic()
    assert put(http, keys["write"], f"paysite/{model}", with_approve(PAYSITE_EXAMPLE, 42)).is_success
    event = events.get(timeout=5)
    latency = time.monotonic() - sent
    call.cancel()
    assert not isinstance(event, grpc.RpcError), event
    assert latency < 1.0
    assert event.event_type == pb.CONFIG_EVENT_TYPE_UPDATED
    assert (event.usage_intent, event.model_id, event.version, event.action) == ("paysite", model, 1, "create")
    assert event.resolved.source == pb.CONFIG_SOURCE_MODEL_OVERRIDE
    assert event.resolved.config.scoring_config.thresholds.auto_approve_under == 42
    assert event.revision > 0


def test_watch_needs_config_read(
    http: httpx.Client, admin_headers: dict[str, str], gateway_channel: grpc.Channel
) -> None:
    key = make_key(http, admin_headers, "scans.create")
    stub = config_service_pb2_grpc.AnalysisConfigServiceStub(gateway_channel)
    with pytest.raises(grpc.RpcError) as failure:
        next(
            iter(stub.WatchAnalysisConfigs(pb.WatchAnalysisConfigsRequest(), metadata=[("x-api-key", key)], timeout=5))
        )
    assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
