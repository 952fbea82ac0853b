"""What the auth logic needs from storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    subject: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    issued_by: str
    issued_to_ip: str
    last_used_at: datetime | None
    last_used_ip: str


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    display_name: str
    permissions: frozenset[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str
    created_by: str


class CredentialStore(Protocol):
    """Tokens and API keys, looked up by the digest of their secret."""

    async def add_token(self, record: TokenRecord, secret_digest: str) -> None: ...
    async def token_by_digest(self, secret_digest: str) -> TokenRecord | None: ...
    async def token_by_id(self, token_id: str) -> TokenRecord | None: ...
    async def current_tokens(
        self, *, subject: str, issued_by: str, active_at: datetime, limit: int
    ) -> list[tuple[TokenRecord, str]]:
        """The newest tokens of ``subject`` from ``issued_by`` valid at ``active_at``, with their digests."""
        ...

    async def list_tokens(
        self, *, subject: str | None, active_at: datetime | None, offset: int, limit: int
    ) -> list[TokenRecord]: ...
    async def revoke_tokens(
        self, *, subject: str, at: datetime, issued_to_ip: str | None = None, except_id: str | None = None
    ) -> int: ...
    async def revoke_token(self, token_id: str, at: datetime) -> TokenRecord | None: ...
    async def touch_token(self, token_id: str, at: datetime, ip: str) -> None: ...

    async def count_api_keys(self) -> int: ...
    async def add_api_key(self, record: ApiKeyRecord, secret_digest: str) -> None: ...
    async def api_key_by_digest(self, secret_digest: str) -> ApiKeyRecord | None: ...
    async def api_key_by_id(self, key_id: str) -> ApiKeyRecord | None: ...
    async def list_api_keys(self, *, active_at: datetime | None, offset: int, limit: int) -> list[ApiKeyRecord]: ...
    async def revoke_api_key(self, key_id: str, at: datetime) -> ApiKeyRecord | None: ...
    async def rotate_api_key(self, key_id: str, secret_digest: str, at: datetime) -> ApiKeyRecord | None: ...
    async def touch_api_key(self, key_id: str, at: datetime, ip: str) -> None: ...


@dataclass(frozen=True)
class RateLimited:
    """A refusal from the gateway's limits: the headers (Retry-After, RateLimit …) and JSON body to send."""

    headers: tuple[tuple[str, str], ...]
    body: str


class FailedAuthLimit(Protocol):
    """The gateway's per-address limit on failed authentications (rule ``event: auth_failure``)."""

    async def blocked(self, client_ip: str) -> RateLimited | None:
        """Whether the address is over the limit already (asked before a secret is checked)."""
        ...

    async def failed(self, client_ip: str) -> RateLimited | None:
        """Count one failure; the refusal when it is one too many."""
        ...
