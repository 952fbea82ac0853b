"""The local trace keeper: an OTLP receiver that keeps the mesh's recent traces and answers queries.

`make run` starts it (unless OTEL_EXPORTER_OTLP_ENDPOINT names a collector elsewhere) and points every
service, Envoy and Triton at it:

- OTLP/gRPC traces (and metrics, which it accepts and drops) on ``--grpc-port`` (4317 by default);
- OTLP/HTTP ``POST /v1/traces`` (protobuf or JSON, gzip or not: Triton's exporter) on ``--http-port`` (4318);
- ``GET /api/traces`` (the most recent traces, newest first, ``?limit=N``) and ``GET /api/traces/<trace id>``
  (every span of one trace) as JSON, on the same HTTP port. ``python -m clearframe_mesh.trace`` reads them.

Storage is bounded: at most ``--max-traces`` traces and ``--max-spans`` spans; the trace that began arriving
first is dropped first. Nothing is written to disk (a restart starts empty).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import signal
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent import futures
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_MAX_TRACES = 1000
DEFAULT_MAX_SPANS = 50_000


@dataclass(frozen=True)
class Span:
    """One span as kept: ids in lower-case hex (``parent_span_id`` '' for a root), times in Unix ns."""

    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str  # "OK", "ERROR" or "UNSET"
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Span:
        return cls(**{**data, "attributes": dict(data.get("attributes") or {})})


class TraceStore:
    """Recent traces, bounded by trace count and span count; the oldest trace (first seen) goes first."""

    def __init__(self, max_traces: int = DEFAULT_MAX_TRACES, max_spans: int = DEFAULT_MAX_SPANS):
        if max_traces < 1 or max_spans < 1:
            raise ValueError("max_traces and max_spans must be at least 1")
        self.max_traces = max_traces
        self.max_spans = max_spans
        self._traces: OrderedDict[str, list[Span]] = OrderedDict()
        self._span_count = 0
        self._lock = threading.Lock()

    def add(self, spans: Iterable[Span]) -> None:
        with self._lock:
            for span in spans:
                kept = self._traces.get(span.trace_id)
                if kept is None:
                    kept = self._traces[span.trace_id] = []
                kept.append(span)
                self._span_count += 1
            while len(self._traces) > self.max_traces or self._span_count > self.max_spans:
                _, dropped = self._traces.popitem(last=False)
                self._span_count -= len(dropped)

    def trace(self, trace_id: str) -> list[Span]:
        with self._lock:
            return list(self._traces.get(trace_id.lower(), []))

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """Summaries of the latest traces (by start), newest first."""
        with self._lock:
            traces = [(trace_id, list(spans)) for trace_id, spans in self._traces.items()]
        summaries = [summary(trace_id, spans) for trace_id, spans in traces]
        summaries.sort(key=lambda s: s["start_ns"], reverse=True)
        return summaries[:limit]

    @property
    def span_count(self) -> int:
        with self._lock:
            return self._span_count

    def __len__(self) -> int:
        with self._lock:
            return len(self._traces)


def summary(trace_id: str, spans: list[Span]) -> dict[str, Any]:
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if not s.parent_span_id or s.parent_span_id not in ids] or spans
    root = min(roots, key=lambda s: s.start_ns)
    start = min(s.start_ns for s in spans)
    return {
        "trace_id": trace_id,
        "root": f"{short_service(root.service)} {root.name}",
        "start_ns": start,
        "duration_ms": (max(s.end_ns for s in spans) - start) / 1e6,
        "spans": len(spans),
        "errors": sum(1 for s in spans if s.status == "ERROR"),
    }


def short_service(name: str) -> str:
    return name.removeprefix("clearframe-") or "?"


# decoding -----------------------------------------------------------------------------------------------


def _value(value: common_pb2.AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which in ("string_value", "int_value", "double_value", "bool_value"):
        return getattr(value, which)
    return json_format.MessageToDict(value)


_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def spans_of(request: trace_service_pb2.ExportTraceServiceRequest) -> list[Span]:
    """The spans of one OTLP export request."""
    kept = []
    for resource_spans in request.resource_spans:
        service = next(
            (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), ""
        )
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                kept.append(
                    Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        service=service,
                        name=span.name,
                        kind=trace_pb2.Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                        start_ns=span.start_time_unix_nano,
                        end_ns=max(span.end_time_unix_nano, span.start_time_unix_nano),
                        status=_STATUS.get(span.status.code, "UNSET"),
                        status_message=span.status.message,
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    )
                )
    return kept


def _hex_ids_to_base64(body: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON parser wants base64 for bytes fields."""
    import base64

    for resource_spans in body.get("resourceSpans", []):
        for scope in resource_spans.get("scopeSpans", []):
            for span in scope.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
                for link in span.get("links", []):
                    for key in ("traceId", "spanId"):
                        if link.get(key):
                            link[key] = base64.b64encode(bytes.fromhex(link[key])).decode()
    return body


def decode_http(body: bytes, content_type: str, content_encoding: str) -> list[Span]:
    """An OTLP/HTTP ``/v1/traces`` body (protobuf or JSON, maybe gzip) as spans; ValueError if unreadable."""
    if content_encoding == "gzip":
        body = gzip.decompress(body)
    request = trace_service_pb2.ExportTraceServiceRequest()
    try:
        if "json" in content_type:
            json_format.ParseDict(_hex_ids_to_base64(json.loads(body)), request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (ValueError, json_format.ParseError) as exc:
        raise ValueError(f"not an OTLP trace export: {exc}") from exc
    return spans_of(request)


# serving ------------------------------------------------------------------------------------------------


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, store: TraceStore):
        self.store = store

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.store.add(spans_of(request))
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    """Services export OTLP metrics to the same endpoint; the keeper accepts and drops them."""

    def Export(
        self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        return metrics_service_pb2.ExportMetricsServiceResponse()


def _http_handler(store: TraceStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: Any, content_type: str = "application/json") -> None:
            body = payload if isinstance(payload, bytes) else (json.dumps(payload) + "\n").encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if urlsplit(self.path).path != "/v1/traces":
                self._answer(404, {"error": f"no such path: {self.path}"})
                return
            try:
                spans = decode_http(
                    body, self.headers.get("content-type") or "", self.headers.get("content-encoding") or ""
                )
            except (ValueError, OSError) as exc:
                self._answer(400, {"error": str(exc)})
                return
            store.add(spans)
            self._answer(
                200,
                trace_service_pb2.ExportTraceServiceResponse().SerializeToString(),
                content_type="application/x-protobuf",
            )

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path = url.path.rstrip("/")
            if path == "/api/traces":
                try:
                    limit = int(parse_qs(url.query).get("limit", ["20"])[0])
                except ValueError:
                    self._answer(400, {"error": "limit must be a whole number"})
                    return
                self._answer(200, {"traces": store.recent(max(1, limit))})
                return
            if path.startswith("/api/traces/"):
                trace_id = path.removeprefix("/api/traces/").lower()
                if not TRACE_ID.match(trace_id):
                    self._answer(400, {"error": f"not a trace id (32 hex digits): {trace_id!r}"})
                    return
                spans = store.trace(trace_id)
                if not spans:
                    self._answer(404, {"error": f"no trace {trace_id} (not received, or already dropped)"})
                    return
                self._answer(200, {"trace_id": trace_id, "spans": [s.to_json() for s in spans]})
                return
            if path == "/healthz":
                self._answer(200, {"traces": len(store), "spans": store.span_count})
                return
            self._answer(404, {"error": f"no such path: {self.path}"})

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    return Handler


class TraceKeeper:
    """The store behind an OTLP/gRPC server and an HTTP server (OTLP/HTTP in, JSON queries out)."""

    def __init__(self, store: TraceStore, host: str = "127.0.0.1", grpc_port: int = 4317, http_port: int = 4318):
        self.store = store
        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _TraceService(store), self.grpc_server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _MetricsService(), self.grpc_server
        )
        self.grpc_port = self.grpc_server.add_insecure_port(f"{host}:{grpc_port}")
        self.http_server = ThreadingHTTPServer((host, http_port), _http_handler(store))
        self.http_port = int(self.http_server.server_address[1])
        self.host = host
        self._thread = threading.Thread(target=self.http_server.serve_forever, daemon=True)

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"http://{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def start(self) -> None:
        self.grpc_server.start()
        self._thread.start()

    def stop(self) -> None:
        self.http_server.shutdown()
        self.http_server.server_close()
        self.grpc_server.stop(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clearframe_mesh.traces", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--grpc-port", type=int, default=4317, help="OTLP/gRPC (default 4317)")
    parser.add_argument("--http-port", type=int, default=4318, help="OTLP/HTTP and the query API (default 4318)")
    parser.add_argument("--max-traces", type=int, default=DEFAULT_MAX_TRACES)
    parser.add_argument("--max-spans", type=int, default=DEFAULT_MAX_SPANS)
    args = parser.parse_args(argv)
    try:
        keeper = TraceKeeper(TraceStore(args.max_traces, args.max_spans), args.host, args.grpc_port, args.http_port)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"trace keeper: cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    keeper.start()
    print(f"trace keeper: OTLP/gRPC {keeper.otlp_grpc_endpoint}, OTLP/HTTP and queries {keeper.http_url}", flush=True)
    stop.wait()
    keeper.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
