"""The trace keeper's bounded store, its OTLP/HTTP intake and queries, and the waterfall an operator reads."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from clearframe_mesh.trace import SLOW_MARK, TraceError, render
from clearframe_mesh.traces import Span, TraceKeeper, TraceStore, decode_http

T = "ab" * 16
MS = 1_000_000


def span(span_id: str, parent: str, service: str, name: str, start_ms: float, end_ms: float, **more: object) -> Span:
    return Span(
        trace_id=str(more.pop("trace_id", T)),
        span_id=span_id,
        parent_span_id=parent,
        service=service,
        name=name,
        kind="SERVER",
        start_ns=int(1_700_000_000_000 * MS + start_ms * MS),
        end_ns=int(1_700_000_000_000 * MS + end_ms * MS),
        status=str(more.pop("status", "UNSET")),
        status_message=str(more.pop("message", "")),
    )


BATCH = [
    span("01" * 8, "", "clearframe-envoy", "ingress /batch", 0, 100),
    span("02" * 8, "01" * 8, "clearframe-auth", "Authorization/Check", 1, 5),
    span("03" * 8, "01" * 8, "clearframe-scanner", "ScannerService/Batch", 6, 99),
    span("04" * 8, "03" * 8, "clearframe-frames", "FramesService/Extract", 8, 20),
    span("05" * 8, "03" * 8, "clearframe-triton", "InferRequest", 21, 95, status="ERROR", message="model busy"),
]


def line_of(text: str, operation: str) -> str:
    return next(line for line in text.splitlines() if operation in line)


def test_waterfall_nests_children_under_parents_with_offsets_durations_and_services() -> None:
    text = render(BATCH)
    assert text.splitlines()[0].startswith(f"trace {T}  5 spans  100.0 ms")
    envoy, auth, frames = line_of(text, "ingress"), line_of(text, "Authorization"), line_of(text, "Extract")
    assert envoy.startswith("envoy ingress /batch") and "clearframe-" not in text
    assert auth.startswith("  auth Authorization/Check")
    assert frames.startswith("    frames FramesService/Extract")
    assert "8.0      12.0" in frames  # starts 8 ms in, lasts 12 ms
    # The bar of the full-length root fills the time line; the late, long Triton span starts right of centre.
    assert "|" + "█" * 40 + "|" in envoy
    triton_bar = line_of(text, "InferRequest").split("|")[1]
    assert triton_bar.index("█") >= 8 and triton_bar.count("█") == 30


def test_waterfall_marks_the_spans_with_the_most_self_time_and_shows_errors() -> None:
    text = render(BATCH)
    slow = [line.split()[1] for line in text.splitlines() if SLOW_MARK in line and "|" in line]
    # Triton's 74 ms, then frames' 12 ms: the scanner lasts 93 ms but only 7 ms of it is its own.
    assert slow == ["FramesService/Extract", "InferRequest"]
    assert " ERROR " in line_of(text, "InferRequest") and line_of(text, "InferRequest").endswith("ERROR: model busy")
    assert " OK " in line_of(text, "Authorization")


def test_spans_whose_parent_is_missing_are_shown_as_roots_and_noted() -> None:
    orphan = span("09" * 8, "ff" * 8, "clearframe-config", "ConfigService/Get", 30, 40)
    text = render([*BATCH, orphan])
    assert line_of(text, "ConfigService/Get").startswith("config ConfigService/Get")
    assert "(1 with a parent outside the trace, shown as roots)" in text.splitlines()[0]


def test_clock_skew_clamps_offsets_at_the_trace_start_and_is_noted() -> None:
    early = span("0a" * 8, "01" * 8, "clearframe-scanner", "skewed", -3, 2)
    text = render([*BATCH, early])
    line = line_of(text, "skewed")
    assert "starts before its parent" in line
    assert "-" not in line.split("|")[0].split("skewed")[1]  # no negative offset
    assert "clock skew" in text


def test_an_empty_trace_is_an_error() -> None:
    with pytest.raises(TraceError):
        render([])


def test_store_drops_the_oldest_trace_past_the_trace_bound() -> None:
    store = TraceStore(max_traces=2, max_spans=100)
    for n in range(3):
        store.add([span("01" * 8, "", "clearframe-envoy", "root", n, n + 1, trace_id=f"{n:032x}")])
    assert len(store) == 2
    assert store.trace(f"{0:032x}") == []
    assert [t["trace_id"] for t in store.recent()] == [f"{2:032x}", f"{1:032x}"]


def test_store_drops_whole_old_traces_past_the_span_bound() -> None:
    store = TraceStore(max_traces=100, max_spans=6)
    store.add(BATCH)  # 5 spans
    store.add([span("01" * 8, "", "clearframe-envoy", "second", 0, 1, trace_id="cd" * 16)])
    assert store.span_count == 6 and len(store) == 2
    store.add([span("02" * 8, "01" * 8, "clearframe-auth", "more", 0, 1, trace_id="cd" * 16)])
    assert store.trace(T) == [] and store.span_count == 2
    with pytest.raises(ValueError):
        TraceStore(max_traces=0)


def _export(trace_id: bytes) -> trace_service_pb2.ExportTraceServiceRequest:
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    attribute = resource.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", "clearframe-auth"
    proto = resource.scope_spans.add().spans.add()
    proto.trace_id, proto.span_id, proto.name = trace_id, b"\x01" * 8, "Check"
    proto.start_time_unix_nano, proto.end_time_unix_nano = 10, 20
    proto.kind = trace_pb2.Span.SpanKind.SPAN_KIND_SERVER
    proto.status.code = trace_pb2.Status.StatusCode.STATUS_CODE_ERROR
    return request


def test_otlp_http_bodies_decode_as_protobuf_and_as_json_with_hex_ids() -> None:
    (binary,) = decode_http(_export(b"\xab" * 16).SerializeToString(), "application/x-protobuf", "")
    assert (binary.trace_id, binary.service, binary.kind, binary.status) == (T, "clearframe-auth", "SERVER", "ERROR")
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "clearframe-triton"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "AB" * 16,
                                "spanId": "02" * 8,
                                "parentSpanId": "01" * 8,
                                "name": "InferRequest",
                                "startTimeUnixNano": "5",
                                "endTimeUnixNano": "9",
                            }
                        ]
                    }
                ],
            }
        ]
    }
    (from_json,) = decode_http(json.dumps(body).encode(), "application/json", "")
    assert (from_json.trace_id, from_json.parent_span_id, from_json.service) == (T, "01" * 8, "clearframe-triton")
    with pytest.raises(ValueError):
        decode_http(b"{not json", "application/json", "")


@pytest.fixture
def keeper() -> Iterator[TraceKeeper]:
    running = TraceKeeper(TraceStore(), grpc_port=0, http_port=0)
    running.start()
    yield running
    running.stop()


def _post(url: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(url, data=body, headers={"content-type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _trace_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearframe_mesh.trace", *args], capture_output=True, text=True, timeout=30
    )


def test_the_command_shows_a_trace_the_keeper_received_and_refuses_bad_ids(keeper: TraceKeeper) -> None:
    status = _post(f"{keeper.http_url}/v1/traces", _export(b"\xab" * 16).SerializeToString(), "application/x-protobuf")
    assert status == 200
    assert _post(f"{keeper.http_url}/v1/traces", b"garbage", "application/json") == 400

    shown = _trace_command(T, "--url", keeper.http_url)
    assert shown.returncode == 0, shown.stderr
    assert "auth Check" in shown.stdout and "ERROR" in shown.stdout
    last = _trace_command("--last", "--url", keeper.http_url, "--json")
    assert last.returncode == 0 and json.loads(last.stdout)["spans"][0]["name"] == "Check"

    unknown = _trace_command("cd" * 16, "--url", keeper.http_url)
    assert unknown.returncode != 0 and f"no trace {'cd' * 16}" in unknown.stderr
    malformed = _trace_command("not-a-trace", "--url", keeper.http_url)
    assert malformed.returncode != 0 and "not a trace id" in malformed.stderr


def test_the_command_explains_a_mesh_dir_without_a_keeper(tmp_path: Path) -> None:
    missing = _trace_command("--last", "--mesh", str(tmp_path))
    assert missing.returncode != 0 and "endpoints.json not found" in missing.stderr
    (tmp_path / "endpoints.json").write_text(json.dumps({"gateway": {}}))
    elsewhere = _trace_command("--last", "--mesh", str(tmp_path))
    assert elsewhere.returncode != 0 and "OTEL_EXPORTER_OTLP_ENDPOINT" in elsewhere.stderr
