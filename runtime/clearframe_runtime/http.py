"""HTTP facts the gateway and the services agree on, beyond what the transcoder carries itself.

Envoy's gRPC-JSON transcoder turns every request into a gRPC POST, so a service cannot see that a client
sent HEAD, and Envoy, seeing a POST, would send the body the service answers. The gateway therefore marks
HEAD requests with :data:`HEAD_REQUEST_HEADER` (a client cannot forge it: the gateway removes it from every
request first); a service answering such a request sends no body and names the length the GET would have
in :data:`HEAD_LENGTH_HEADER`, which the gateway turns into the HEAD answer's ``Content-Length``.
"""

from __future__ import annotations

HEAD_REQUEST_HEADER = "x-clearframe-head"
HEAD_LENGTH_HEADER = "x-clearframe-head-length"

__all__ = ["HEAD_LENGTH_HEADER", "HEAD_REQUEST_HEADER"]
