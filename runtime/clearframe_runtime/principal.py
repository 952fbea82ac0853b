"""The caller's identity as the gateway forwards it, signed so that clients cannot forge it.

The auth service authenticates each request for Envoy (ext_authz) and hands back two headers that
Envoy sets on the upstream request, overwriting any a client sent: the principal (base64url JSON)
and its HMAC-SHA256 signature under ``CLEARFRAME_INTERNAL_SECRET``. Every service verifies the signature
and the age of the assertion, and checks the permission each RPC needs, in one place:
:class:`clearframe_runtime.access.AccessInterceptor` applies the table :data:`clearframe_runtime.access.RULES`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only the servicer-facing methods name grpc types; domains import this module
    import grpc

PRINCIPAL_HEADER = "x-clearframe-principal"
SIGNATURE_HEADER = "x-clearframe-principal-signature"
#: The signed principal's headers, which services verify and pass on to the services they call.
TRUSTED_HEADERS = (PRINCIPAL_HEADER, SIGNATURE_HEADER)
#: The caller's identity in plain text, for the gateway's rate limits only (descriptor entries ``principal``
#: and ``api_key``): ext_authz sets them for authenticated callers; no service reads them.
RATE_LIMIT_SUBJECT_HEADER = "x-clearframe-subject"
RATE_LIMIT_API_KEY_HEADER = "x-clearframe-api-key"
#: Every header a client must never be able to set itself; the gateway strips them on the way in.
GATEWAY_SET_HEADERS = (*TRUSTED_HEADERS, RATE_LIMIT_SUBJECT_HEADER, RATE_LIMIT_API_KEY_HEADER)

PERMISSIONS = frozenset(
    {
        "tokens.issue",
        "config.read",
        "config.write",
        "config.delete",
        "scans.create",
        "moderation.read",
        "moderation.review",
        "assets.write",
        "analytics.read",
        "analytics.write",
        "admin",
    }
)

KIND_ANONYMOUS = "anonymous"
KIND_TOKEN = "token"
KIND_API_KEY = "api_key"
#: A review page session cookie (the auth service's CreateReviewSession), made from a token or an API key.
KIND_REVIEW_SESSION = "review_session"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's subject, an API key, or nobody (anonymous)."""

    subject: str
    kind: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    client_ip: str = ""

    def has(self, permission: str) -> bool:
        return "admin" in self.permissions or permission in self.permissions

    @property
    def authenticated(self) -> bool:
        return self.kind != KIND_ANONYMOUS


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PrincipalCodec:
    """Signs principals (auth service) and verifies them (every other service)."""

    def __init__(self, secret: str, *, max_age_s: float = 300.0):
        if len(secret) < 16:
            raise ValueError("the internal secret must have at least 16 characters")
        self._key = secret.encode()
        self._max_age_s = max_age_s

    def _sign(self, value: str) -> str:
        return _b64(hmac.new(self._key, value.encode(), hashlib.sha256).digest())

    def encode(self, principal: Principal, *, now: float | None = None) -> tuple[str, str]:
        body = {
            "sub": principal.subject,
            "kind": principal.kind,
            "perms": sorted(principal.permissions),
            "ip": principal.client_ip,
            "iat": int(now if now is not None else time.time()),
        }
        value = _b64(json.dumps(body, separators=(",", ":")).encode())
        return value, self._sign(value)

    def decode(self, value: str, signature: str, *, now: float | None = None) -> Principal | None:
        """The principal, or None when the signature is wrong or the assertion is too old."""
        if not hmac.compare_digest(self._sign(value), signature):
            return None
        try:
            body = json.loads(_unb64(value))
        except ValueError:
            return None
        age = (now if now is not None else time.time()) - float(body.get("iat", 0))
        if not -30 <= age <= self._max_age_s:
            return None
        return Principal(
            subject=str(body["sub"]),
            kind=str(body["kind"]),
            permissions=frozenset(body.get("perms", [])),
            client_ip=str(body.get("ip", "")),
        )

    def from_metadata(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Principal | None:
        values = {k: v for k, v in (metadata or ()) if k in TRUSTED_HEADERS}
        value, signature = values.get(PRINCIPAL_HEADER), values.get(SIGNATURE_HEADER)
        if not isinstance(value, str) or not isinstance(signature, str):
            return None
        return self.decode(value, signature)

    def caller(self, context: grpc.aio.ServicerContext) -> Principal:
        """The verified caller; anonymous when the gateway forwarded no principal."""
        principal = self.from_metadata(context.invocation_metadata())
        return principal or Principal(subject="", kind=KIND_ANONYMOUS)
