"""Run the scanner service: `python -m services.scanner`.

Its contract is complete; the implementation lands with issue #3 (scanning) and #4 (moderation).
Until then every RPC answers UNIMPLEMENTED (HTTP 501 through the gateway) — an honest status, never fake data.
"""

from __future__ import annotations

import asyncio

from clearframe.scanner.v1 import (
    moderation_service_pb2,
    moderation_service_pb2_grpc,
    scanner_service_pb2,
    scanner_service_pb2_grpc,
)
from clearframe_runtime.server import serve_unimplemented

if __name__ == "__main__":
    asyncio.run(
        serve_unimplemented(
            "scanner",
            "127.0.0.1:50052",
            [
                (scanner_service_pb2, scanner_service_pb2_grpc),
                (moderation_service_pb2, moderation_service_pb2_grpc),
            ],
            note="issue #3 (scanning) and #4 (moderation)",
        )
    )
