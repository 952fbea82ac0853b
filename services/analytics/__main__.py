"""Run the analytics service: `python -m services.analytics`.

Its contract is complete; the implementation lands with the analytics issue. Until then every RPC answers
UNIMPLEMENTED (HTTP 501 through the gateway) — an honest status, never fake data.
"""

from __future__ import annotations

from clearframe.analytics.v1 import analytics_service_pb2, analytics_service_pb2_grpc
from clearframe_runtime.server import run_service, serve_unimplemented

if __name__ == "__main__":
    run_service(
        "analytics",
        lambda: serve_unimplemented(
            "analytics",
            [(analytics_service_pb2, analytics_service_pb2_grpc)],
            note="the analytics issue (not filed yet)",
        ),
    )
