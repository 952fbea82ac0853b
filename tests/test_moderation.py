"""Moderation through the gateway: automated decisions per configuration, the review queue, the audit
trail (query, export, clear), statistics and signed webhook deliveries with retry and replay."""

from __future__ import annotations

import copy
import csv
import hashlib
import hmac
import io
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import httpx
import pytest

from clearframe.scanner.v1 import moderation_service_pb2, moderation_service_pb2_grpc, types_pb2
from tests.conftest import make_key
from tests.media_samples import encoded
from tests.test_config import PUBLIC_SITE_EXAMPLE

CONFIG = "/api/v1/analysis/config"


def config(face_weight: float, *, webhooks: bool = True) -> dict[str, Any]:
    """The astronaut photo has one FACE_FEMALE (≈ 0.72) and no nudity: its score is 0.72 × face_weight."""
    body: dict[str, Any] = copy.deepcopy(PUBLIC_SITE_EXAMPLE)
    body["scoring_config"]["detection_weights"]["FACE_DETECTED"] = face_weight
    body["scoring_config"]["thresholds"] = {"auto_approve_under": 10, "auto_flag_over": 25, "auto_reject_over": 95}
    body["blip_config"]["webhook_delivery"] = webhooks
    return body


@pytest.fixture(scope="module")
def keys(http: httpx.Client, admin_headers: dict[str, str]) -> dict[str, str]:
    return {
        "config": make_key(http, admin_headers, "config.read", "config.write"),
        "scan": make_key(http, admin_headers, "scans.create"),
        "read": make_key(http, admin_headers, "moderation.read"),
        "review": make_key(http, admin_headers, "moderation.read", "moderation.review"),
        "admin": make_key(http, admin_headers, "admin"),
    }


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def models(http: httpx.Client, keys: dict[str, str], *weights: float, webhooks: bool = True) -> list[str]:
    ids = []
    for weight in weights:
        model = "m" + uuid.uuid4().hex[:12]
        stored = http.put(f"{CONFIG}/store/{model}", headers=h(keys["config"]), json=config(weight, webhooks=webhooks))
        assert stored.status_code == 200, stored.text
        ids.append(model)
    return ids


def scan(http: httpx.Client, keys: dict[str, str], model: str, asset: str = "") -> dict[str, Any]:
    params = {"usage_intent": "store", "model_id": model, **({"asset_id": asset} if asset else {})}
    response = http.post(
        "/v1/scans",
        params=params,
        headers={**h(keys["scan"]), "content-type": "image/png"},
        content=encoded("astronaut"),
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["scan"]
    return created


def decisions_of(http: httpx.Client, keys: dict[str, str], scan_id: str) -> list[dict[str, Any]]:
    response = http.get("/v1/decisions", params={"scan_id": scan_id}, headers=h(keys["read"]))
    assert response.status_code == 200, response.text
    decisions: list[dict[str, Any]] = response.json()["decisions"]
    return decisions


def test_same_image_under_two_configurations(http: httpx.Client, keys: dict[str, str]) -> None:
    strict, lenient = models(http, keys, 100, 0)
    flagged, approved = scan(http, keys, strict), scan(http, keys, lenient)
    assert flagged["result"]["verdict"] == "VERDICT_FLAGGED" and approved["result"]["verdict"] == "VERDICT_APPROVED"
    (decision,) = decisions_of(http, keys, flagged["scan_id"])
    assert decision["verdict"] == "VERDICT_FLAGGED" and decision["automated"] and decision["reviewer"] == "system"
    reasons = decision["reasons"]
    assert (
        reasons["model_id"] == strict
        and reasons["config_version"] >= 1
        and reasons["thresholds"]["auto_flag_over"] == 25
    )
    assert reasons == flagged["result"]["reasons"]
    (other,) = decisions_of(http, keys, approved["scan_id"])
    assert other["verdict"] == "VERDICT_APPROVED" and other["current"]
    trail = http.get("/v1/auditEntries", params={"scan_id": flagged["scan_id"]}, headers=h(keys["read"])).json()
    actions = sorted(e["action"] for e in trail["entries"])
    assert actions == ["AUDIT_ACTION_AUTOMATED_DECISION", "AUDIT_ACTION_REVIEW_OPENED"]


def test_review_of_a_flagged_case_end_to_end(http: httpx.Client, keys: dict[str, str]) -> None:
    (strict,) = models(http, keys, 100)
    scanned = scan(http, keys, strict)
    queue = http.get("/v1/reviews", params={"page_size": 500}, headers=h(keys["read"]))
    assert queue.status_code == 200, queue.text
    (case,) = [c for c in queue.json()["cases"] if c["scan_id"] == scanned["scan_id"]]
    assert case["state"] == "REVIEW_CASE_STATE_OPEN" and case["priority"] == "REVIEW_PRIORITY_NORMAL"
    assert case["result"]["frames"], "the case carries the scan's evidence"
    decide = f"/v1/reviews/{case['case_id']}:decide"
    body = {"verdict": "VERDICT_REJECTED", "notes": "face-only config says no"}
    assert http.post(decide, headers=h(keys["read"]), json=body).status_code == 403
    decided = http.post(decide, headers=h(keys["review"]), json={**body, "etag": case["etag"]})
    assert decided.status_code == 200, decided.text
    reply = decided.json()
    assert reply["review_case"]["state"] == "REVIEW_CASE_STATE_DECIDED"
    decision = reply["decision"]
    assert decision["reviewer"].startswith("key:") or decision["reviewer"], decision
    assert not decision["automated"] and decision["verdict"] == "VERDICT_REJECTED"
    assert decision["reasons"]["rules"][0]["rule"] == "manual_review"
    again = http.post(decide, headers=h(keys["review"]), json={"verdict": "VERDICT_APPROVED"})
    assert again.status_code == 400 or again.status_code == 412 or again.status_code == 409, again.text
    assert again.json()["details"][0]["reason"] == "REVIEW_CASE_ALREADY_DECIDED"
    entries = http.get("/v1/auditEntries", params={"scan_id": scanned["scan_id"]}, headers=h(keys["read"])).json()
    by_action = {e["action"]: e for e in entries["entries"]}
    assert by_action["AUDIT_ACTION_MANUAL_DECISION"]["actor"] == decision["reviewer"]
    assert by_action["AUDIT_ACTION_MANUAL_DECISION"]["notes"] == "face-only config says no"
    assert "AUDIT_ACTION_AUTOMATED_DECISION" in by_action
    history = decisions_of(http, keys, scanned["scan_id"])
    assert [d["current"] for d in history] == [True, False] and history[0]["supersedes"] == history[1]["decision_id"]


def test_export_streams_every_decision_in_the_range(http: httpx.Client, keys: dict[str, str]) -> None:
    start = time.time()
    strict, lenient = models(http, keys, 100, 0)
    asset = uuid.uuid4().hex[:16]
    scans = [scan(http, keys, model, asset)["scan_id"] for model in (strict, lenient, lenient)]
    params = {"asset_id": asset, "start_time": _rfc3339(start - 1)}
    lines = http.get(
        "/v1/auditEntries:export", params={**params, "format": "AUDIT_EXPORT_FORMAT_JSONL"}, headers=h(keys["read"])
    )
    assert lines.status_code == 200, lines.text
    messages = [json.loads(line) for line in lines.text.splitlines() if line.strip()]
    jsonl = "".join(m["data"] for m in messages)
    rows = [json.loads(line) for line in jsonl.splitlines()]
    decided = {r["scan_id"] for r in rows if r["action"].endswith("_DECISION")}
    assert decided == set(scans)
    summary = messages[-1]["summary"]
    assert int(summary["total_entries"]) == len(rows) == 4  # three decisions and one opened case
    assert summary["entries_by_verdict"] == {"APPROVED": "2", "FLAGGED": "2"}
    table = http.get(
        "/v1/auditEntries:export", params={**params, "format": "AUDIT_EXPORT_FORMAT_CSV"}, headers=h(keys["read"])
    )
    text = "".join(json.loads(line)["data"] for line in table.text.splitlines() if line.strip())
    records = list(csv.DictReader(io.StringIO(text)))
    assert {r["entry_id"] for r in records} == {r["entry_id"] for r in rows}
    plain = http.get("/v1/auditEntries:export", params=params, headers=h(keys["read"]))
    entries = [e for line in plain.text.splitlines() if line.strip() for e in json.loads(line)["entries"]]
    assert [e["entry_id"] for e in entries] == [r["entry_id"] for r in rows]
    backwards = http.get(
        "/v1/auditEntries:export",
        params={"start_time": _rfc3339(start), "end_time": _rfc3339(start - 60)},
        headers=h(keys["read"]),
    )
    assert "INVALID_TIME_RANGE" in backwards.text


def test_stats_count_scans_by_current_verdict(http: httpx.Client, keys: dict[str, str]) -> None:
    before = http.get("/v1/moderationStats", headers=h(keys["read"])).json()
    strict, lenient = models(http, keys, 100, 0)
    scan(http, keys, strict)
    scan(http, keys, lenient)
    after = http.get("/v1/moderationStats", headers=h(keys["read"])).json()
    assert int(after["total_scans"]) == int(before["total_scans"]) + 2
    assert int(after["flagged"]) == int(before["flagged"]) + 1
    total = int(after["total_scans"])
    assert after["approval_rate"] == round(int(after["approved"]) / total * 100, 2)
    empty = http.get("/v1/moderationStats", params={"end_time": "2000-01-01T00:00:00Z"}, headers=h(keys["read"])).json()
    assert (int(empty["total_scans"]), empty["approval_rate"], empty["flag_rate"]) == (0, 0.0, 0.0)


def test_clearing_an_asset_needs_admin(http: httpx.Client, keys: dict[str, str]) -> None:
    (lenient,) = models(http, keys, 0)
    asset = uuid.uuid4().hex[:16]
    scan(http, keys, lenient, asset)
    body = {"asset_id": asset}
    assert http.post("/v1/auditEntries:clear", headers=h(keys["review"]), json=body).status_code == 403
    assert http.post("/v1/auditEntries:clear", headers=h(keys["admin"]), json={}).status_code == 400
    cleared = http.post("/v1/auditEntries:clear", headers=h(keys["admin"]), json=body)
    assert cleared.status_code == 200, cleared.text
    assert int(cleared.json()["deleted_count"]) == 1
    assert cleared.json()["record"]["action"] == "AUDIT_ACTION_AUDIT_CLEARED"
    left = http.get("/v1/auditEntries", params={"asset_id": asset}, headers=h(keys["read"])).json()["entries"]
    assert [e["action"] for e in left] == ["AUDIT_ACTION_AUDIT_CLEARED"]


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records webhook requests and can fail the first N."""

    def __init__(self, fail_first: int = 0):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                failing = len(outer.requests) <= outer.fail_first
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/clearframe"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.requests) >= count, f"{len(self.requests)} requests, wanted {count}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver(fail_first=1)
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def test_webhook_delivery_signed_retried_logged_and_replayed(
    http: httpx.Client, keys: dict[str, str], receiver: Receiver
) -> None:
    secret = "s3cret-" + uuid.uuid4().hex
    assert (
        http.post("/v1/webhooks", headers=h(keys["read"]), json={"url": receiver.url, "enabled": True}).status_code
        == 403
    )
    bad = http.post("/v1/webhooks", headers=h(keys["config"]), json={"url": "ftp://example.org/x", "enabled": True})
    assert bad.status_code == 400 and bad.json()["details"][0]["reason"] == "INVALID_WEBHOOK_URL"
    created = http.post(
        "/v1/webhooks",
        headers=h(keys["config"]),
        json={
            "url": receiver.url,
            "enabled": True,
            "secret": secret,
            "event_types": ["WEBHOOK_EVENT_TYPE_DECISION_CREATED"],
        },
    )
    assert created.status_code == 201, created.text
    webhook = created.json()["webhook"]
    assert webhook["secret_set"] and not webhook.get("secret")
    (model,) = models(http, keys, 100, webhooks=True)
    (silent,) = models(http, keys, 100, webhooks=False)
    scan(http, keys, silent)
    scanned = scan(http, keys, model)
    receiver.wait_for(2)  # the first attempt fails (503), the retry one second later succeeds
    headers, body = receiver.requests[-1]
    assert headers["x-clearframe-event"] == "DECISION_CREATED"
    expected = hmac.new(secret.encode(), f"{headers['x-clearframe-timestamp']}.".encode() + body, hashlib.sha256)
    assert headers["x-clearframe-signature"] == f"sha256={expected.hexdigest()}"
    payload = json.loads(body)
    musenest = {
        "batch_id", "moderation_status", "nudity_score", "final_risk_score", "risk_level", "detected_parts",
        "face_analysis", "human_review_required", "flagged", "auto_rejected", "rejection_reason", "analysis_version",
    }  # fmt: skip
    assert musenest <= set(payload)
    assert payload["batch_id"] == scanned["scan_id"] and payload["moderation_status"] == "flagged"
    assert payload["flagged"] and payload["human_review_required"] and payload["detected_parts"]["FACE_DETECTED"] > 50
    assert {json.loads(b)["batch_id"] for _, b in receiver.requests} == {scanned["scan_id"]}
    log_url = f"/v1/webhooks/{webhook['webhook_id']}/deliveries"
    (delivery,) = http.get(log_url, headers=h(keys["read"])).json()["deliveries"]
    assert delivery["state"] == "DELIVERY_STATE_SUCCEEDED" and delivery["attempt_count"] == 2
    assert delivery["delivery_id"] == headers["x-clearframe-delivery"]
    replay = http.post(f"{log_url}/{delivery['delivery_id']}:replay", headers=h(keys["config"]), json={})
    assert replay.status_code == 201, replay.text
    assert replay.json()["delivery"]["replay_of"] == delivery["delivery_id"]
    receiver.wait_for(3)
    assert json.loads(receiver.requests[-1][1]) == payload
    assert http.delete(f"/v1/webhooks/{webhook['webhook_id']}", headers=h(keys["config"])).status_code == 200


def _rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}Z"


class Watch:
    """A WatchDecisions stream over native gRPC, read by a thread into a queue."""

    def __init__(self, channel: grpc.Channel, key: str, *, since_revision: int = 0, asset_id: str = "") -> None:
        stub = moderation_service_pb2_grpc.ModerationServiceStub(channel)
        request = moderation_service_pb2.WatchDecisionsRequest(since_revision=since_revision, asset_id=asset_id)
        self.call = stub.WatchDecisions(request, metadata=[("x-api-key", key)], timeout=60)
        self.items: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for item in self.call:
                self.items.put(item)
        except grpc.RpcError as exc:
            self.items.put(exc)

    def next(self, *, skip_heartbeats: bool = True, timeout: float = 5.0) -> Any:
        while True:
            item = self.items.get(timeout=timeout)
            assert not isinstance(item, grpc.RpcError), item
            if not (skip_heartbeats and item.WhichOneof("event") == "heartbeat"):
                return item

    def close(self) -> None:
        self.call.cancel()


def test_watch_decisions_pushes_each_decision_and_resumes_from_a_revision(
    http: httpx.Client, keys: dict[str, str], gateway_channel: grpc.Channel
) -> None:
    (strict,) = models(http, keys, 100)  # the astronaut scores ≈ 72: FLAGGED
    asset = uuid.uuid4().hex[:16]
    watch = Watch(gateway_channel, keys["read"], asset_id=asset)
    caught_up = watch.next(skip_heartbeats=False)
    assert caught_up.WhichOneof("event") == "heartbeat"  # nothing for this asset yet: the replay is empty

    scanned = scan(http, keys, strict, asset)
    automated = watch.next()
    assert automated.WhichOneof("event") == "decision" and automated.revision > caught_up.revision
    assert (automated.decision.scan_id, automated.decision.asset_id) == (scanned["scan_id"], asset)
    assert automated.decision.automated and automated.decision.verdict == types_pb2.VERDICT_FLAGGED

    cases = http.get("/v1/reviews", params={"asset_id": asset}, headers=h(keys["read"])).json()["cases"]
    (case,) = cases
    decided = http.post(
        f"/v1/reviews/{case['case_id']}:decide", headers=h(keys["review"]), json={"verdict": "VERDICT_APPROVED"}
    )
    assert decided.status_code == 200, decided.text
    manual = watch.next()
    watch.close()
    assert manual.WhichOneof("event") == "decision" and manual.revision > automated.revision
    assert manual.decision.decision_id == decided.json()["decision"]["decision_id"]
    assert manual.decision.verdict == types_pb2.VERDICT_APPROVED and not manual.decision.automated
    assert manual.decision.supersedes == automated.decision.decision_id

    # A subscriber that restarts with the last revision it processed gets exactly what came later.
    resumed = Watch(gateway_channel, keys["read"], since_revision=automated.revision, asset_id=asset)
    first = resumed.next(skip_heartbeats=False)
    after = resumed.next(skip_heartbeats=False)
    resumed.close()
    assert (first.revision, first.decision.decision_id) == (manual.revision, manual.decision.decision_id)
    assert after.WhichOneof("event") == "heartbeat" and after.revision >= manual.revision
    # From the beginning: both, in order, the first now superseded.
    replay = Watch(gateway_channel, keys["read"], asset_id=asset)
    both = [replay.next(skip_heartbeats=False) for _ in range(3)]
    replay.close()
    assert [b.WhichOneof("event") for b in both] == ["decision", "decision", "heartbeat"]
    assert [b.decision.decision_id for b in both[:2]] == [automated.decision.decision_id, manual.decision.decision_id]
    assert not both[0].decision.current and both[1].decision.current

    # Over REST the same stream is NDJSON.
    params = {"asset_id": asset, "since_revision": str(automated.revision)}
    with http.stream("GET", "/v1/decisions:watch", params=params, headers=h(keys["read"]), timeout=10) as rest:
        assert rest.status_code == 200
        lines = rest.iter_lines()
        line = next(lines)
        while not line.strip():
            line = next(lines)
    pushed = json.loads(line)
    assert pushed["decision"]["decision_id"] == manual.decision.decision_id
    assert int(pushed["revision"]) == manual.revision


def test_watch_decisions_needs_moderation_read_and_a_known_revision(
    keys: dict[str, str], gateway_channel: grpc.Channel
) -> None:
    refused = Watch(gateway_channel, keys["scan"])
    failure = refused.items.get(timeout=10)
    assert isinstance(failure, grpc.RpcError) and failure.code() == grpc.StatusCode.PERMISSION_DENIED
    ahead = Watch(gateway_channel, keys["read"], since_revision=2**62)
    failure = ahead.items.get(timeout=10)
    assert isinstance(failure, grpc.RpcError) and failure.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "beyond the feed's current revision" in str(failure.details())
