"""Run the config service: `python -m services.config`.

Its contract is complete; the implementation lands with issue #4 (analysis configuration). Until then every RPC answers
UNIMPLEMENTED (HTTP 501 through the gateway) — an honest status, never fake data.
"""

from __future__ import annotations

import asyncio

from clearframe.config.v1 import config_service_pb2, config_service_pb2_grpc
from clearframe_runtime.server import serve_unimplemented

if __name__ == "__main__":
    asyncio.run(
        serve_unimplemented(
            "config",
            "127.0.0.1:50055",
            [(config_service_pb2, config_service_pb2_grpc)],
            note="issue #4 (analysis configuration)",
        )
    )
