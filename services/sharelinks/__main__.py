"""Run the sharelinks service: `python -m services.sharelinks`.

Its contract is complete; the implementation lands with the distribution issue. Until then every RPC answers
UNIMPLEMENTED (HTTP 501 through the gateway) — an honest status, never fake data.
"""

from __future__ import annotations

import asyncio

from clearframe.sharelinks.v1 import (
    asset_service_pb2,
    asset_service_pb2_grpc,
    share_link_service_pb2,
    share_link_service_pb2_grpc,
)
from clearframe_runtime.server import serve_unimplemented

if __name__ == "__main__":
    asyncio.run(
        serve_unimplemented(
            "sharelinks",
            [
                (asset_service_pb2, asset_service_pb2_grpc),
                (share_link_service_pb2, share_link_service_pb2_grpc),
            ],
            note="the distribution issue (not filed yet)",
        )
    )
