"""Render the Envoy configuration of the gateway from the mesh layout and the descriptor set.

One listener serves REST (gRPC-JSON transcoding) and native gRPC on the same port. Filter order, and
why:

1. header_mutation strips the headers only the gateway may set (the signed principal, x-http-status),
   so no client can forge them, on every route including those that skip authentication; and it puts
   the request's trace id in every response (``x-trace-id``): it is the first filter, so it also sees
   the local replies of the later ones (ext_authz denials, Lua refusals, 404s, transcoder errors);
2. lua refuses seed-000 uploads that are not multipart (before authentication, as the seed did),
   turns a service's ``x-http-status`` response header into the HTTP status (201, 206, 302, 403 …) of
   transcoded responses, and gives errors on MuseNest's routes MuseNest's envelope (with its
   ``validation_errors`` and ``valid_options`` arrays) and a global ``model_id`` as ``null`` there —
   responses pass filters in reverse, so it sees the transcoder's output;
3. ext_authz asks the auth service about every request except health and public delivery routes; it
   runs before the transcoder so it sees REST paths (seed routes answer in their own dialect);
4. grpc_json_transcoder maps REST onto gRPC methods and rejects unknown paths and query parameters;
5. ratelimit asks the gateway companion (``ShouldRateLimit``, domain ``clearframe``) about every request
   but health checks, with one descriptor: client address, the RPC's gRPC path (after the transcoder,
   for REST and native gRPC alike), the REST path Envoy kept in x-envoy-original-path and, for
   authenticated callers, the principal and API key id ext_authz put on the request. It must come after
   the transcoder: before it, a REST request's route is still the catch-all direct response, and the
   filter skips routes without a route entry. Over the limit it answers 429 (RESOURCE_EXHAUSTED for
   native gRPC) with the service's headers and JSON body; when the service does not answer within the
   timeout the request goes on (fail open; rules that must fail closed do so inside the service, which
   bounds its own store's time). See docs/ratelimit.md;
6. router: after transcoding, routes match gRPC paths (/clearframe.<svc>.v1.…) to service clusters.

Tracing is always on: Envoy starts (or continues, from the caller's ``traceparent``) the trace of every
request and passes it to the services. Spans go to ``otlp_endpoint`` over OTLP/gRPC; without one they
go to a cluster with no endpoint (discarded), and trace ids still reach the services' logs and the
``x-trace-id`` header.

Run ``python -m services.gateway.envoy_config --help`` to render a file.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from google.protobuf import descriptor_pb2

from clearframe_runtime import topology
from clearframe_runtime.http import HEAD_LENGTH_HEADER, HEAD_REQUEST_HEADER
from clearframe_runtime.principal import (
    GATEWAY_SET_HEADERS,
    RATE_LIMIT_API_KEY_HEADER,
    RATE_LIMIT_SUBJECT_HEADER,
)

DESCRIPTOR = Path(__file__).parent / "generated" / "clearframe.binpb"
_TYPE = "type.googleapis.com/"
MAX_BODY_BYTES = 32 * 1024 * 1024
#: Routes reachable without credentials: mesh health and public delivery (shares, assets, cards).
PUBLIC_PREFIXES = ("/s/", "/a/")
#: Per-service upstream timeouts (uploads and scans take longer than lookups).
SERVICE_TIMEOUTS = {"scanner": "120s", "frames": "120s", "sharelinks": "60s"}
DEFAULT_TIMEOUT = "15s"
#: The rate limit service's domain and how long Envoy waits for its answer (the service bounds its own
#: counter store's time well below this).
RATE_LIMIT_DOMAIN = "clearframe"
RATE_LIMIT_TIMEOUT = "0.5s"
#: What a request of these RPCs weighs in the rate limits (Envoy's ``hits_addend``); any other weighs 1.
#: Scans run models on every image: a scan counts as ten calls, a batch as fifty.
RATE_LIMIT_HITS = {
    "/clearframe.scanner.v1.ScannerService/CreateScan": 10,
    "/clearframe.scanner.v1.ScannerService/LegacyCheck": 10,
    "/clearframe.scanner.v1.ScannerService/LegacyBatch": 50,
}
#: The RPC of the limits' admin calls; unlike the rest of the companion's, they need credentials.
RATE_LIMIT_ADMIN_PREFIX = "/clearframe.gateway.v1.RateLimitAdminService/"
#: The response header that carries the request's trace id (32 hex digits), on every response.
TRACE_ID_HEADER = "x-trace-id"
#: ``service.name`` of Envoy's spans.
ENVOY_SERVICE_NAME = "clearframe-envoy"
#: Where `/review` and `/review/` send the browser: the review page (served by the auth service).
REVIEW_PAGE = "/review/index.html"
GATEWAY_LUA = r"""
local MUSENEST_PREFIX = "/api/v1/analysis/config"

-- The JSON string literal that starts with the quote at position i (escapes kept as they are).
local function json_string_at(text, i)
  local j = i + 1
  while j <= #text do
    local c = string.sub(text, j, j)
    if c == "\\" then
      j = j + 2
    elseif c == '"' then
      return string.sub(text, i, j)
    else
      j = j + 1
    end
  end
  return nil
end

-- MuseNest reads {"success": false, "error", "code", "validation_errors", "valid_options"}; keep the
-- google.rpc.Status under "status". The config service puts validation_errors in the ErrorInfo metadata
-- as JSON text (metadata holds strings), so one level of string escaping is undone here.
local function musenest_error(body)
  local message = '""'
  local start = string.find(body, '"message":"', 1, true)
  if start ~= nil then
    message = json_string_at(body, start + 10) or '""'
  end
  local reason = string.match(body, '"reason":"([A-Z0-9_]+)"') or "ERROR"
  local extra = ""
  local listed = string.find(body, '"validation_errors":"', 1, true)
  if listed ~= nil then
    local literal = json_string_at(body, listed + 20)
    if literal ~= nil then
      local inner = string.gsub(string.sub(literal, 2, -2), "\\(.)", function(c)
        if c == '"' or c == "\\" then return c end
        return "\\" .. c
      end)
      extra = extra .. ',"validation_errors":' .. inner
    end
  end
  local options = string.match(body, '"valid_options":"([a-z_,]*)"')
  if options ~= nil then
    local quoted = {}
    for option in string.gmatch(options, "[a-z_]+") do quoted[#quoted + 1] = '"' .. option .. '"' end
    extra = extra .. ',"valid_options":[' .. table.concat(quoted, ",") .. ']'
  end
  return '{"success":false,"error":' .. message .. ',"message":' .. message .. ',"code":"' .. reason ..
         '"' .. extra .. ',"status":' .. body .. '}'
end

-- MuseNest printed "model_id": null for a global configuration; proto3 leaves the unset field out. On
-- MuseNest's routes every object with a usage_intent (configuration rows, audit rows) has model_id next.
local function musenest_null_model_ids(text)
  local out = string.gsub(text, '("usage_intent":"[a-z_]+",)', '%1"model_id":null,')
  out = string.gsub(out, '"model_id":null,"model_id":', '"model_id":')
  return out
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local path = string.gsub(headers:get(":path") or "", "?.*$", "")
  -- The transcoder makes every call a POST: tell the service (and our response side) about HEAD.
  if headers:get(":method") == "HEAD" then
    headers:replace("__HEAD_REQUEST__", "1")
    handle:streamInfo():dynamicMetadata():set("clearframe", "head", "1")
  end
  if string.sub(path, 1, #MUSENEST_PREFIX) == MUSENEST_PREFIX then
    handle:streamInfo():dynamicMetadata():set("clearframe", "musenest", "1")
  end
  -- Seed 000: a POST to /check or /batch that is not multipart is refused before authentication.
  if headers:get(":method") == "POST" and (path == "/check" or path == "/batch") then
    local content_type = string.lower(headers:get("content-type") or "")
    if string.sub(content_type, 1, 19) ~= "multipart/form-data" then
      handle:respond({[":status"] = "403", ["content-type"] = "application/json"},
                     '{"error":"invalid content-type"}')
    end
  end
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local content_type = headers:get("content-type") or ""
  if string.sub(content_type, 1, 16) == "application/grpc" then
    return
  end
  -- A transcoded answer is plain HTTP: the gRPC framing's own headers do not belong to it.
  headers:remove("grpc-status")
  headers:remove("grpc-message")
  headers:remove("grpc-accept-encoding")
  local meta = handle:streamInfo():dynamicMetadata():get("clearframe")
  -- HEAD: no body, ever (Envoy sees the transcoded POST and would send one), and the GET's length: the
  -- service names it for its own answers; an error's body length stays as the GET would get it.
  local head_length = headers:get("__HEAD_LENGTH__")
  headers:remove("__HEAD_LENGTH__")
  if meta ~= nil and meta["head"] == "1" then
    if head_length ~= nil then
      headers:replace("content-length", head_length)
    else
      local body = handle:body()
      if body ~= nil and body:length() > 0 then
        local length = tostring(body:length())
        body:setBytes("")
        headers:replace("content-length", length)
      end
    end
  end
  -- A service sets x-http-status (201, 206, 302, 403 ...) on transcoded responses; apply it.
  local status = headers:get("x-http-status")
  if status ~= nil then
    headers:remove("x-http-status")
    if headers:get(":status") == "200" then
      headers:replace(":status", status)
    end
  end
  -- Errors on MuseNest's routes get MuseNest's envelope; its answers print a global model_id as null.
  local code = tonumber(headers:get(":status")) or 200
  if meta ~= nil and meta["musenest"] == "1"
     and string.find(content_type, "application/json", 1, true) ~= nil then
    local body = handle:body()
    if body ~= nil and body:length() > 0 then
      local text = body:getBytes(0, body:length())
      local replaced = nil
      if code >= 400 and string.sub(text, 1, 11) ~= '{"success":' then
        replaced = musenest_error(text)
      elseif code < 300 then
        replaced = musenest_null_model_ids(text)
      end
      if replaced ~= nil and replaced ~= text then
        body:setBytes(replaced)
        headers:replace("content-length", tostring(#replaced))
      end
    end
  end
end
"""


def _lua() -> str:
    return GATEWAY_LUA.replace("__HEAD_REQUEST__", HEAD_REQUEST_HEADER).replace("__HEAD_LENGTH__", HEAD_LENGTH_HEADER)


@dataclass(frozen=True)
class Upstream:
    """A service the gateway routes to."""

    name: str
    host: str
    port: int


@dataclass
class GatewayLayout:
    """Where everything is; the mesh launcher and deploy/ fill it differently."""

    upstreams: list[Upstream]
    listen_host: str = "127.0.0.1"
    listen_port: int = topology.ENVOY_PORT
    admin_host: str = "127.0.0.1"
    admin_port: int = topology.ENVOY_ADMIN_PORT
    #: The descriptor set's path as Envoy will see it (in an image it differs from the repository's).
    descriptor_path: str = str(DESCRIPTOR)
    #: Where the renderer reads the contracts from (services and streaming methods).
    descriptor_source: Path = DESCRIPTOR
    otlp_endpoint: str = ""
    dns_clusters: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    #: (path, file) pairs Envoy answers itself with the file's bytes (``direct_response``), before any
    #: other route: the benchmark's baseline for delivery through the same filter chain. Empty in production.
    static_files: tuple[tuple[str, str], ...] = ()
    #: (path, location) pairs Envoy answers itself with a 302 to the location: the benchmark's baseline for
    #: short-link redirects through the same filter chain. Empty in production.
    static_redirects: tuple[tuple[str, str], ...] = ()
    #: When not 0, a second listener on this port with the same routes and filters but no rate limit filter:
    #: the benchmark's baseline for what the filter adds (bench/ratelimit.py). 0 (none) in production.
    unlimited_port: int = 0
    #: When not 0, a listener on this port (all interfaces) that answers only ``GET /stats/prometheus``,
    #: from the admin interface, which stays on loopback: how Prometheus scrapes Envoy in Kubernetes.
    stats_port: int = 0


def _contract_methods(descriptor_path: Path) -> tuple[list[str], list[str]]:
    """(service full names, gRPC paths of streaming methods, either direction) of every Clearframe contract."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_path.read_bytes())
    services, streaming = [], []
    for proto in files.file:
        if not proto.package.startswith("clearframe."):
            continue
        for service in proto.service:
            full = f"{proto.package}.{service.name}"
            services.append(full)
            streaming += [f"/{full}/{m.name}" for m in service.method if m.server_streaming or m.client_streaming]
    return sorted(services), sorted(streaming)


def _no_authz() -> dict[str, Any]:
    return {
        "envoy.filters.http.ext_authz": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
            "disabled": True,
        }
    }


def _no_ratelimit() -> dict[str, Any]:
    return {
        "envoy.filters.http.ratelimit": {
            "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
            "disabled": True,
        }
    }


def _ratelimit_filter() -> dict[str, Any]:
    def header(name: str, key: str, optional: bool = False) -> dict[str, Any]:
        return {"request_headers": {"header_name": name, "descriptor_key": key, "skip_if_absent": optional}}

    return {
        "name": "envoy.filters.http.ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit",
            "domain": RATE_LIMIT_DOMAIN,
            "timeout": RATE_LIMIT_TIMEOUT,
            "failure_mode_deny": False,
            "rate_limited_as_resource_exhausted": True,
            # The service writes X-RateLimit-* itself (any window length, not only Envoy's units).
            "enable_x_ratelimit_headers": "OFF",
            "rate_limit_service": {
                "grpc_service": {"envoy_grpc": {"cluster_name": "gateway"}},
                "transport_api_version": "V3",
            },
            "rate_limits": [
                {
                    "actions": [
                        {"remote_address": {}},
                        header(":path", "path"),
                        header("x-envoy-original-path", "original_path", optional=True),
                        header(RATE_LIMIT_SUBJECT_HEADER, "principal", optional=True),
                        header(RATE_LIMIT_API_KEY_HEADER, "api_key", optional=True),
                    ]
                },
                # A costly RPC adds a second descriptor that only carries its weight.
                *(
                    {
                        "actions": [
                            {
                                "header_value_match": {
                                    "descriptor_key": "weight",
                                    "descriptor_value": rpc,
                                    "headers": [{"name": ":path", "string_match": {"exact": rpc}}],
                                }
                            }
                        ],
                        "hits_addend": {"number": hits},
                    }
                    for rpc, hits in RATE_LIMIT_HITS.items()
                ),
            ],
        },
    }


def _status_filter(status: int) -> dict[str, Any]:
    return {
        "status_code_filter": {
            "comparison": {
                "op": "EQ",
                "value": {"default_value": status, "runtime_key": f"clearframe.reply_{status}"},
            }
        }
    }


def _json_reply(status: int, body: str) -> dict[str, Any]:
    return {"status": status, "body": {"inline_string": body}}


def _json_headers() -> list[dict[str, Any]]:
    return [
        {
            "header": {"key": "content-type", "value": "application/json"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        }
    ]


def _cluster(name: str, host: str, port: int, dns: bool) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STRICT_DNS" if dns else "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}]}
            ],
        },
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
    }


def _collector_cluster(layout: GatewayLayout) -> dict[str, Any]:
    """The OTLP/gRPC collector; without an endpoint, a cluster with none (spans are dropped at once)."""
    if layout.otlp_endpoint:
        endpoint = layout.otlp_endpoint if "://" in layout.otlp_endpoint else f"http://{layout.otlp_endpoint}"
        parsed = urlparse(endpoint)
        return _cluster("otel_collector", parsed.hostname or "127.0.0.1", parsed.port or 4317, layout.dns_clusters)
    cluster = _cluster("otel_collector", "127.0.0.1", 4317, dns=False)
    cluster["load_assignment"]["endpoints"] = []
    return cluster


def _routes(layout: GatewayLayout, streaming: list[str]) -> list[dict[str, Any]]:
    by_name = {u.name: u for u in layout.upstreams}
    routes: list[dict[str, Any]] = [
        {
            "name": "healthz",
            "match": {"path": "/healthz"},
            "route": {"cluster": "gateway", "timeout": "5s"},
            "typed_per_filter_config": {**_no_authz(), **_no_ratelimit()},
        },
        {
            "name": "grpc-health",
            "match": {"prefix": "/grpc.health.v1.Health/"},
            "route": {"cluster": "gateway", "timeout": "5s"},
            "typed_per_filter_config": {**_no_authz(), **_no_ratelimit()},
        },
    ]
    # The review page (files served by the auth service under /review/{name}): its bare address redirects.
    routes += [
        {
            "name": f"review-page{index}",
            "match": {"path": path},
            "direct_response": {"status": 302},
            "response_headers_to_add": [
                {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
                for key, value in (("location", REVIEW_PAGE), ("cache-control", "no-store"))
            ],
            "typed_per_filter_config": {
                **_no_authz(),
                "envoy.filters.http.grpc_json_transcoder": {
                    "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
                    "disabled": True,
                },
            },
        }
        for index, path in enumerate(("/review", "/review/"))
    ]
    routes += [
        {
            "name": f"static{index}",
            "match": {"path": path},
            "direct_response": {"status": 200, "body": {"filename": filename}},
            "response_headers_to_add": [
                {"header": {"key": "content-type", "value": "image/gif"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            ],
            "typed_per_filter_config": {
                **_no_authz(),
                **_no_ratelimit(),
                # Not a contract's path: the transcoder, which refuses unknown paths, steps aside.
                "envoy.filters.http.grpc_json_transcoder": {
                    "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
                    "disabled": True,
                },
            },
        }
        for index, (path, filename) in enumerate(layout.static_files)
    ]
    routes += [
        {
            "name": f"static-redirect{index}",
            "match": {"path": path},
            "direct_response": {"status": 302},
            "response_headers_to_add": [
                {"header": {"key": "location", "value": location}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
                {
                    "header": {"key": "cache-control", "value": "no-store"},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                },
            ],
            "typed_per_filter_config": {
                **_no_authz(),
                "envoy.filters.http.grpc_json_transcoder": {
                    "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
                    "disabled": True,
                },
            },
        }
        for index, (path, location) in enumerate(layout.static_redirects)
    ]
    if "sharelinks" in by_name:
        routes += [
            {
                "name": f"public{prefix.rstrip('/').replace('/', '-')}",
                "match": {"prefix": prefix},
                "route": {"cluster": "sharelinks", "timeout": "60s"},
                "typed_per_filter_config": _no_authz(),
            }
            for prefix in PUBLIC_PREFIXES
        ]
    for path in streaming:
        service = path.split(".")[1]
        if service in by_name:
            routes.append(
                {
                    "name": f"stream{path.replace('/', '-').replace('.', '-')}",
                    "match": {"path": path},
                    "route": {"cluster": service, "timeout": "0s", "idle_timeout": "3600s"},
                }
            )
    for upstream in layout.upstreams:
        if upstream.name == "gateway":
            continue
        routes.append(
            {
                "name": f"grpc-{upstream.name}",
                "match": {"prefix": f"/clearframe.{upstream.name}.v1."},
                "route": {
                    "cluster": upstream.name,
                    "timeout": SERVICE_TIMEOUTS.get(upstream.name, DEFAULT_TIMEOUT),
                },
            }
        )
    routes += [
        {
            "name": "grpc-gateway-ratelimit-admin",
            "match": {"prefix": RATE_LIMIT_ADMIN_PREFIX},
            "route": {"cluster": "gateway", "timeout": "5s"},
        },
        {
            "name": "grpc-gateway",
            "match": {"prefix": "/clearframe.gateway.v1."},
            "route": {"cluster": "gateway", "timeout": "5s"},
            "typed_per_filter_config": _no_authz(),
        },
        {
            "name": "grpc-reflection",
            "match": {"prefix": "/grpc.reflection."},
            "route": {"cluster": "gateway", "timeout": "0s"},
        },
        {
            "name": "not-found",
            "match": {"prefix": "/"},
            "direct_response": _json_reply(404, "no route matches this path"),
        },
    ]
    return routes


def render(layout: GatewayLayout) -> dict[str, Any]:
    """The whole bootstrap configuration as a dict (Envoy reads it as JSON)."""
    services, streaming = _contract_methods(layout.descriptor_source)
    http_filters: list[dict[str, Any]] = [
        {
            "name": "envoy.filters.http.header_mutation",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
                "mutations": {
                    "request_mutations": [
                        {"remove": h} for h in (*GATEWAY_SET_HEADERS, "x-http-status", HEAD_REQUEST_HEADER)
                    ],
                    "response_mutations": [
                        {
                            "append": {
                                "header": {"key": TRACE_ID_HEADER, "value": "%TRACE_ID%"},
                                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                            }
                        }
                    ],
                },
            },
        },
        {
            "name": "envoy.filters.http.lua",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                "default_source_code": {"inline_string": _lua()},
            },
        },
        {
            "name": "envoy.filters.http.ext_authz",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
                "transport_api_version": "V3",
                "grpc_service": {"envoy_grpc": {"cluster_name": "auth"}, "timeout": "2s"},
                "failure_mode_allow": False,
                "status_on_error": {"code": 503},
            },
        },
        {
            "name": "envoy.filters.http.grpc_json_transcoder",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
                "proto_descriptor": layout.descriptor_path,
                "services": services,
                "print_options": {
                    "add_whitespace": False,
                    "always_print_primitive_fields": True,
                    "always_print_enums_as_ints": False,
                    "preserve_proto_field_names": True,
                    "stream_newline_delimited": True,
                },
                "convert_grpc_status": True,
                # Query strings are form-encoded by browsers and most HTTP clients: '+' is a space there
                # (an encoded plus arrives as %2B).
                "query_param_unescape_plus": True,
                "request_validation_options": {
                    "reject_unknown_method": True,
                    "reject_unknown_query_parameters": True,
                },
                "max_request_body_size": MAX_BODY_BYTES,
                "max_response_body_size": MAX_BODY_BYTES,
            },
        },
        _ratelimit_filter(),
        {
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
        },
    ]
    hcm: dict[str, Any] = {
        "@type": _TYPE + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "clearframe",
        "codec_type": "AUTO",
        "use_remote_address": True,
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "REJECT_REQUEST",
        "stream_idle_timeout": "300s",
        "generate_request_id": True,
        "access_log": [
            {
                "name": "envoy.access_loggers.stdout",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                    "log_format": {
                        # No query strings (they may carry api_key) and no credential headers in the log.
                        "json_format": {
                            "time": "%START_TIME%",
                            "method": "%REQ(:METHOD)%",
                            "path": "%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%",
                            "status": "%RESPONSE_CODE%",
                            "grpc_status": "%GRPC_STATUS%",
                            "flags": "%RESPONSE_FLAGS%",
                            "duration_ms": "%DURATION%",
                            "upstream": "%UPSTREAM_CLUSTER%",
                            "request_id": "%REQ(X-REQUEST-ID)%",
                            "trace_id": "%TRACE_ID%",
                            "traceparent": "%REQ(TRACEPARENT)%",
                            "client": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
                        },
                        "formatters": [
                            {
                                "name": "envoy.formatter.req_without_query",
                                "typed_config": {
                                    "@type": _TYPE + "envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery"
                                },
                            }
                        ],
                    },
                },
            }
        ],
        # The transcoder's own refusals (unknown path, unknown query parameter, malformed JSON) are plain
        # text; give them JSON bodies like every other error. Seed 000's clients expect {"error":"not found"}.
        "local_reply_config": {
            "mappers": [
                {
                    "filter": _status_filter(404),
                    "body_format_override": {
                        "json_format": {"error": "not found", "message": "%LOCAL_REPLY_BODY%", "reason": "NOT_FOUND"},
                        "content_type": "application/json",
                    },
                },
                {
                    "filter": _status_filter(400),
                    "body_format_override": {
                        "json_format": {
                            "code": 3,
                            "error": "bad request",
                            "message": "%LOCAL_REPLY_BODY%",
                            "reason": "INVALID_REQUEST",
                        },
                        "content_type": "application/json",
                    },
                },
                {
                    "filter": _status_filter(413),
                    "body_format_override": {
                        "json_format": {
                            "error": "payload too large",
                            "message": "%LOCAL_REPLY_BODY%",
                            "reason": "PAYLOAD_TOO_LARGE",
                        },
                        "content_type": "application/json",
                    },
                },
            ]
        },
        "route_config": {
            "name": "clearframe",
            "virtual_hosts": [{"name": "clearframe", "domains": ["*"], "routes": _routes(layout, streaming)}],
            **({"max_direct_response_body_size_bytes": 8 * 1024 * 1024} if layout.static_files else {}),
        },
        "http_filters": http_filters,
    }
    clusters = [_cluster(u.name, u.host, u.port, layout.dns_clusters) for u in layout.upstreams]
    clusters.append(_collector_cluster(layout))
    hcm["tracing"] = {
        "random_sampling": {"value": 100},
        # A CLIENT span per upstream request (the router's), so the time spent in the service shows apart.
        "spawn_upstream_span": True,
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {"envoy_grpc": {"cluster_name": "otel_collector"}, "timeout": "1s"},
                "service_name": ENVOY_SERVICE_NAME,
            },
        },
    }
    listeners = [_listener("clearframe", layout.listen_host, layout.listen_port, hcm)]
    if layout.unlimited_port:
        listeners.append(_listener("clearframe-unlimited", layout.listen_host, layout.unlimited_port, _unlimited(hcm)))
    if layout.stats_port:
        listeners.append(_listener("stats", "0.0.0.0", layout.stats_port, _stats_only()))
        clusters.append(_admin_cluster(layout))
    return {
        "admin": {"address": {"socket_address": {"address": layout.admin_host, "port_value": layout.admin_port}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
        **layout.extra,
    }


def _listener(name: str, host: str, port: int, hcm: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "address": {"socket_address": {"address": host, "port_value": port}},
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }


ADMIN_CLUSTER = "envoy_admin"
STATS_PATH = "/stats/prometheus"


def _admin_cluster(layout: GatewayLayout) -> dict[str, Any]:
    """The admin interface itself, over HTTP/1.1 (what it speaks)."""
    admin = {"socket_address": {"address": layout.admin_host, "port_value": layout.admin_port}}
    return {
        "name": ADMIN_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": ADMIN_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": admin}}]}],
        },
    }


def _stats_only() -> dict[str, Any]:
    """Only ``GET /stats/prometheus`` reaches the admin interface (exact path, any query such as
    ``?usedonly``); every other path or method is a 404 here, so nothing else of admin is exposed."""
    return {
        "@type": _TYPE + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "stats",
        "route_config": {
            "name": "stats",
            "virtual_hosts": [
                {
                    "name": "stats",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {
                                "path": STATS_PATH,
                                "headers": [{"name": ":method", "string_match": {"exact": "GET"}}],
                            },
                            "route": {"cluster": ADMIN_CLUSTER, "timeout": "5s"},
                        },
                        {"match": {"prefix": "/"}, "direct_response": {"status": 404}},
                    ],
                }
            ],
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
            }
        ],
    }


def _unlimited(hcm: dict[str, Any]) -> dict[str, Any]:
    """The same connection manager without the rate limit filter (and its per-route settings)."""
    copy: dict[str, Any] = json.loads(json.dumps(hcm))
    name = "envoy.filters.http.ratelimit"
    copy["stat_prefix"] = "clearframe_unlimited"
    copy["http_filters"] = [f for f in copy["http_filters"] if f["name"] != name]
    for host in copy["route_config"]["virtual_hosts"]:
        for route in host["routes"]:
            route.get("typed_per_filter_config", {}).pop(name, None)
    return copy


def write(layout: GatewayLayout, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(render(layout), indent=2) + "\n")
    return path


MESH_NAMES = tuple(topology.PORTS)
#: Production (deploy/envoy/envoy.json): where the Envoy image puts the descriptor set, and the collector.
IMAGE_DESCRIPTOR = "/etc/envoy/clearframe.binpb"
PRODUCTION_OTLP = "http://otel-collector.observability:4317"
PRODUCTION_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "envoy" / "envoy.json"


def kubernetes_layout(descriptor_source: Path = DESCRIPTOR) -> GatewayLayout:
    """The production layout: service DNS names, the cluster port each, listener on all interfaces."""
    return GatewayLayout(
        [Upstream(n, f"clearframe-{n}", topology.CLUSTER_PORT) for n in MESH_NAMES],
        listen_host="0.0.0.0",
        descriptor_path=IMAGE_DESCRIPTOR,
        descriptor_source=descriptor_source,
        otlp_endpoint=PRODUCTION_OTLP,
        dns_clusters=True,
        stats_port=topology.ENVOY_STATS_PORT,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Render the gateway's Envoy configuration as JSON.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kubernetes", action="store_true", help="the production layout of deploy/envoy/envoy.json")
    parser.add_argument("--listen-port", type=int, default=topology.ENVOY_PORT)
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument("--descriptor", default=str(DESCRIPTOR))
    parser.add_argument("--otlp-endpoint", default="")
    args = parser.parse_args()
    if args.kubernetes:
        write(kubernetes_layout(), args.out)
        return
    upstreams = [Upstream(n, topology.LOCAL_HOST, port) for n, port in topology.PORTS.items()]
    write(
        GatewayLayout(
            upstreams,
            listen_host=args.listen_host,
            listen_port=args.listen_port,
            descriptor_path=args.descriptor,
            descriptor_source=Path(args.descriptor),
            otlp_endpoint=args.otlp_endpoint,
        ),
        args.out,
    )


if __name__ == "__main__":
    main()
