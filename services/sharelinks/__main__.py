"""Run the sharelinks service: `python -m services.sharelinks`.

Its contract is complete; the implementation lands with the distribution issue. Until then every RPC answers
UNIMPLEMENTED (HTTP 501 through the gateway) — an honest status, never fake data.
"""

from __future__ import annotations

from clearframe.sharelinks.v1 import (
    asset_service_pb2,
    asset_service_pb2_grpc,
    share_link_service_pb2,
    share_link_service_pb2_grpc,
)
from clearframe_runtime.server import run_service, serve_unimplemented

if __name__ == "__main__":
    run_service(
        "sharelinks",
        lambda: serve_unimplemented(
            "sharelinks",
            [
                (asset_service_pb2, asset_service_pb2_grpc),
                (share_link_service_pb2, share_link_service_pb2_grpc),
            ],
            note="the distribution issue (not filed yet)",
        ),
    )
