"""The sharelinks service's own identity towards the services it calls (a signed service principal,
as the gateway's ext_authz signs callers' principals)."""

from __future__ import annotations

from clearframe_runtime.principal import KIND_API_KEY, PRINCIPAL_HEADER, SIGNATURE_HEADER, Principal, PrincipalCodec

#: What sharelinks may do elsewhere: probe media, start scans, read scans and their decisions, record clicks.
SERVICE_PRINCIPAL = Principal(
    "service:sharelinks", KIND_API_KEY, frozenset({"scans.create", "moderation.read", "analytics.write"})
)


class ServiceIdentity:
    def __init__(self, codec: PrincipalCodec):
        self._codec = codec

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Fresh signed principal headers (they expire after a few minutes, so sign per call)."""
        value, signature = self._codec.encode(SERVICE_PRINCIPAL)
        return ((PRINCIPAL_HEADER, value), (SIGNATURE_HEADER, signature))
