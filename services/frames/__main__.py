"""Run the frames service: `python -m services.frames`.

Its contract is complete; the implementation lands with issue #3 (scanning). Until then every RPC answers
UNIMPLEMENTED (HTTP 501 through the gateway) — an honest status, never fake data.
"""

from __future__ import annotations

import asyncio

from clearframe.frames.v1 import frames_service_pb2, frames_service_pb2_grpc
from clearframe_runtime.server import serve_unimplemented

if __name__ == "__main__":
    asyncio.run(
        serve_unimplemented(
            "frames",
            "127.0.0.1:50053",
            [(frames_service_pb2, frames_service_pb2_grpc)],
            note="issue #3 (scanning)",
        )
    )
