"""One request, one trace: every hop's spans reach the OTLP receiver under the trace id the response names.

The receiver (tests/conftest.py's SpanSink) gets OTLP/gRPC from Envoy and the services and OTLP/HTTP from
Triton's own tracing. A trace is checked the way an operator reads it: one root (Envoy's span of the
request), every other span's parent present in the same trace, and each hop a client span on the caller's
side whose context reached the server side.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest

from clearframe.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from clearframe_mesh.launcher import Mesh
from tests.conftest import ReceivedSpan, SpanSink, make_key
from tests.media_samples import animated_gif, video

ENVOY, AUTH, SCANNER, FRAMES, CONFIG, TRITON = (
    "clearframe-envoy",
    "clearframe-auth",
    "clearframe-scanner",
    "clearframe-frames",
    "clearframe-config",
    "clearframe-triton",
)
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def trace_id_of(response: httpx.Response) -> str:
    value = str(response.headers.get("x-trace-id", ""))
    assert TRACE_ID.match(value), f"x-trace-id {value!r} on {response.status_code} {response.request.url.path}"
    return value


def wait_for_trace(sink: SpanSink, trace_id: str, complete: Callable[[list[ReceivedSpan]], bool]) -> list[ReceivedSpan]:
    """The trace's spans once ``complete`` holds (Envoy exports about every 5 s), or what arrived by then."""
    deadline = time.monotonic() + 30
    while True:
        spans = sink.trace(trace_id)
        if complete(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def linked(spans: list[ReceivedSpan]) -> bool:
    ids = {s.span_id for s in spans}
    return sum(1 for s in spans if not s.parent_span_id) == 1 and all(
        s.parent_span_id in ids for s in spans if s.parent_span_id
    )


def describe(spans: list[ReceivedSpan]) -> str:
    return "\n".join(
        f"  {s.service:20} {s.kind:18} {s.name} {s.span_id} <- {s.parent_span_id or 'ROOT'}" for s in spans
    )


def assert_one_linked_trace(spans: list[ReceivedSpan], services: set[str]) -> dict[str, ReceivedSpan]:
    """Every service took part, one root (Envoy's), every parent exists; returns the spans by id."""
    by_id = {s.span_id: s for s in spans}
    assert services <= {s.service for s in spans}, describe(spans)
    roots = [s for s in spans if not s.parent_span_id]
    assert len(roots) == 1 and roots[0].service == ENVOY and roots[0].kind == "SPAN_KIND_SERVER", describe(spans)
    orphans = [s for s in spans if s.parent_span_id and s.parent_span_id not in by_id]
    assert not orphans, "spans whose parent is not in the trace:\n" + describe(orphans) + "\ntrace:\n" + describe(spans)
    return by_id


def assert_called_through_client_span(spans: list[ReceivedSpan], caller: str, callee: str) -> None:
    """The callee has a SERVER span whose parent is a CLIENT span of the caller (context crossed the wire)."""
    by_id = {s.span_id: s for s in spans}
    hops = [
        s
        for s in spans
        if s.service == callee
        and s.kind == "SPAN_KIND_SERVER"
        and by_id[s.parent_span_id].service == caller
        and by_id[s.parent_span_id].kind == "SPAN_KIND_CLIENT"
    ]
    assert hops, f"no {caller} CLIENT -> {callee} SERVER hop:\n{describe(spans)}"


def assert_triton_inference_spans(spans: list[ReceivedSpan]) -> None:
    by_id = {s.span_id: s for s in spans}
    inferences = [s for s in spans if s.service == SCANNER and s.name.startswith("triton.infer ")]
    assert inferences, describe(spans)
    for span in inferences:
        assert "triton.server.compute_infer_ms" in span.attributes, span
        assert span.kind == "SPAN_KIND_CLIENT"
        assert span.attributes["triton.model"] == span.name.removeprefix("triton.infer ")
        assert int(span.attributes["triton.batch_size"]) >= 1
        assert float(span.attributes["triton.server.compute_infer_ms"]) > 0
        assert float(span.attributes["triton.server.queue_ms"]) >= 0
    # Triton's own request spans continue the scanner's gRPC call to it.
    requests = [s for s in spans if s.service == TRITON and s.name == "InferRequest"]
    assert requests, describe(spans)
    for request in requests:
        caller = by_id[request.parent_span_id]
        assert caller.service == SCANNER and caller.kind == "SPAN_KIND_CLIENT", describe(spans)
        assert by_id[caller.parent_span_id].name.startswith("triton.infer "), describe(spans)


@pytest.fixture(scope="module")
def bot_token(http: httpx.Client, admin_headers: dict[str, str]) -> str:
    response = http.get("/token", params={"email": "traced-bot@example.org"}, headers=admin_headers)
    assert response.status_code == 200
    return response.text


def test_batch_of_a_gif_is_one_trace_across_envoy_auth_scanner_frames_and_triton(
    http: httpx.Client, bot_token: str, span_sink: tuple[SpanSink, str]
) -> None:
    sink, _ = span_sink
    response = http.post(
        "/batch", headers={"Authorization": bot_token}, files={"file": ("a.gif", animated_gif(6), "image/gif")}
    )
    assert response.status_code == 200, response.text
    trace_id = trace_id_of(response)
    # The seed's /batch has no configuration (it always ran the same modules): config takes no part.
    services = {ENVOY, AUTH, SCANNER, FRAMES, TRITON}
    spans = wait_for_trace(sink, trace_id, lambda s: services <= {x.service for x in s} and linked(s))
    assert_one_linked_trace(spans, services)
    assert_called_through_client_span(spans, ENVOY, AUTH)  # ext_authz
    assert_called_through_client_span(spans, SCANNER, FRAMES)
    assert_triton_inference_spans(spans)
    assert any(s.service == AUTH and s.name.endswith("Authorization/Check") for s in spans), describe(spans)


def test_v1_scan_of_a_video_is_one_trace_across_every_hop(
    http: httpx.Client, admin_headers: dict[str, str], span_sink: tuple[SpanSink, str], tmp_path: Path
) -> None:
    sink, _ = span_sink
    key = make_key(http, admin_headers, "scans.create")
    clip = video(tmp_path / "clip.mp4", frames=30)
    response = http.post("/v1/scans", headers={"X-API-Key": key, "content-type": "video/mp4"}, content=clip)
    assert response.status_code in (200, 201), response.text
    assert response.json()["scan"]["state"] == "SCAN_STATE_SUCCEEDED"
    trace_id = trace_id_of(response)
    services = {ENVOY, AUTH, SCANNER, FRAMES, CONFIG, TRITON}
    spans = wait_for_trace(sink, trace_id, lambda s: services <= {x.service for x in s} and linked(s))
    assert_one_linked_trace(spans, services)
    assert_called_through_client_span(spans, ENVOY, AUTH)
    assert_called_through_client_span(spans, ENVOY, SCANNER)
    assert_called_through_client_span(spans, SCANNER, FRAMES)
    assert_called_through_client_span(spans, SCANNER, CONFIG)
    assert_triton_inference_spans(spans)


def test_a_callers_traceparent_is_continued_and_named_in_the_answer(
    http: httpx.Client, admin_headers: dict[str, str], span_sink: tuple[SpanSink, str]
) -> None:
    sink, _ = span_sink
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    response = http.get("/v1/caller", headers={**admin_headers, "traceparent": f"00-{trace_id}-{parent}-01"})
    assert response.status_code == 200
    assert response.headers["x-trace-id"] == trace_id
    spans = wait_for_trace(sink, trace_id, lambda s: {ENVOY, AUTH} <= {x.service for x in s})
    assert {ENVOY, AUTH} <= {s.service for s in spans}, describe(spans)
    # Envoy's span is the child of the caller's span, which lives outside Clearframe.
    assert [s.parent_span_id for s in spans if s.service == ENVOY and s.kind == "SPAN_KIND_SERVER"] == [parent]


def test_every_answer_names_its_trace_errors_and_local_replies_included(
    http: httpx.Client, admin_headers: dict[str, str], bot_token: str, mesh: Mesh
) -> None:
    answers = {
        "ok": http.get("/v1/caller", headers=admin_headers),
        "healthz": http.get("/healthz"),
        "no credentials (ext_authz)": http.get("/v1/caller"),
        "unknown path (404)": http.get("/no/such/path", headers=admin_headers),
        "unknown query parameter (transcoder)": http.get("/v1/caller", params={"nope": "1"}, headers=admin_headers),
        "not multipart (lua)": http.post("/check", headers={"Authorization": bot_token}, content=b"x"),
        "seed error (service)": http.post(
            "/batch", headers={"Authorization": bot_token}, files={"other": ("a.gif", b"x", "image/gif")}
        ),
    }
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {
        "ok": 200,
        "healthz": 200,
        "no credentials (ext_authz)": 401,
        "unknown path (404)": 404,
        "unknown query parameter (transcoder)": 400,
        "not multipart (lua)": 403,
        "seed error (service)": 400,
    }
    ids = {name: trace_id_of(response) for name, response in answers.items()}
    assert len(set(ids.values())) == len(ids)  # one trace per request
    # What the operator does with it: find the request's log lines.
    denied = ids["no credentials (ext_authz)"]
    deadline = time.monotonic() + 5
    while denied not in mesh.log_tail("auth", 400) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert denied in mesh.log_tail("auth", 400)


def test_native_grpc_answers_name_their_trace_too(gateway_channel: grpc.Channel) -> None:
    stub = gateway_pb2_grpc.GatewayServiceStub(gateway_channel)
    _, call = stub.GetHealth.with_call(gateway_pb2.GetHealthRequest(), timeout=10)
    metadata = dict(call.initial_metadata())
    assert TRACE_ID.match(str(metadata.get("x-trace-id", ""))), metadata


def test_service_logs_carry_the_trace_id(http: httpx.Client, admin_headers: dict[str, str], mesh: Mesh) -> None:
    trace_id = secrets.token_hex(16)
    http.post(
        "/v1/tokens",
        headers={**admin_headers, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        json={"subject": "traced@example.org"},
    )
    deadline = time.monotonic() + 5
    while trace_id not in mesh.log_tail("auth", 200) and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = [line for line in mesh.log_tail("auth", 200).splitlines() if trace_id in line]
    assert any('"event": "token.issued"' in line for line in lines)


def trace_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearframe_mesh.trace", *args], capture_output=True, text=True, timeout=60
    )


def test_one_command_shows_a_batch_requests_trace_as_a_waterfall_naming_every_hop(
    http: httpx.Client, bot_token: str, span_sink: tuple[SpanSink, str], mesh: Mesh
) -> None:
    sink, _ = span_sink
    assert sink.keeper is not None
    response = http.post(
        "/batch", headers={"Authorization": bot_token}, files={"file": ("a.gif", animated_gif(4), "image/gif")}
    )
    assert response.status_code == 200, response.text
    trace_id = trace_id_of(response)
    services = {ENVOY, AUTH, SCANNER, FRAMES, TRITON}
    spans = wait_for_trace(sink, trace_id, lambda s: services <= {x.service for x in s} and linked(s))
    shown = trace_command(trace_id, "--url", sink.keeper.http_url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"trace {trace_id}  ")
    rows = [line for line in lines if "|" in line]
    assert len(rows) >= len(spans), shown.stdout  # spans may still have arrived since
    # Every service on the path, by its short name, each with its spans' operations; one root (Envoy's).
    labels = [re.match(r"^\s*(.*?)\s{2,}\d", line).group(1) for line in rows]  # type: ignore[union-attr]
    for s in spans:
        wanted = f"{s.service.removeprefix('clearframe-')} {s.name}"
        # Long operation names are cut to the column with an ellipsis.
        assert any(wanted == label or (label.endswith("…") and wanted.startswith(label[:-1])) for label in labels), (
            f"{wanted} missing:\n{shown.stdout}"
        )
    assert rows[0].startswith("envoy ") and all(line.startswith(" ") for line in rows[1:]), shown.stdout
    assert "◀ slow" in shown.stdout
    as_json = trace_command(trace_id, "--url", sink.keeper.http_url, "--json")
    assert {s["service"] for s in json.loads(as_json.stdout)["spans"]} >= services
    # Envoy's JSON access log line of the request names the same trace.
    deadline = time.monotonic() + 10
    while f'"trace_id":"{trace_id}"' not in mesh.log_tail("envoy", 400) and time.monotonic() < deadline:
        time.sleep(0.2)
    logged = [json.loads(line) for line in mesh.log_tail("envoy", 400).splitlines() if trace_id in line]
    assert any(line["path"] == "/batch" and line["trace_id"] == trace_id for line in logged), logged


def test_the_trace_command_refuses_unknown_and_malformed_ids(span_sink: tuple[SpanSink, str]) -> None:
    sink, _ = span_sink
    assert sink.keeper is not None
    unknown = trace_command(secrets.token_hex(16), "--url", sink.keeper.http_url)
    assert unknown.returncode != 0 and "no trace" in unknown.stderr
    malformed = trace_command("0123-not-hex", "--url", sink.keeper.http_url)
    assert malformed.returncode != 0 and "not a trace id" in malformed.stderr
