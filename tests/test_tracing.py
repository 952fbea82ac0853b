"""One request, one trace: Envoy's spans and the service's spans reach the OTLP receiver together."""

from __future__ import annotations

import secrets
import time

import httpx


def test_request_spans_from_envoy_and_service_share_the_trace(http: httpx.Client, admin_headers, span_sink) -> None:
    sink, _ = span_sink
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    response = http.get("/v1/caller", headers={**admin_headers, "traceparent": traceparent})
    assert response.status_code == 200
    deadline = time.monotonic() + 20  # Envoy flushes spans about every 5 s
    while time.monotonic() < deadline:
        if {"clearframe-gateway", "clearframe-auth"} <= sink.services_of(trace_id):
            break
        time.sleep(0.5)
    assert {"clearframe-gateway", "clearframe-auth"} <= sink.services_of(trace_id)


def test_service_logs_carry_the_trace_id(http: httpx.Client, admin_headers, mesh) -> None:
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
