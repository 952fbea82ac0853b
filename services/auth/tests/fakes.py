"""In-memory fakes of the auth ports, and the clocks the tests move."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from services.auth.ports import ApiKeyRecord, TokenRecord


@dataclass
class FakeClock:
    """Stands still until a test advances it."""

    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Seconds:
    """A monotonic clock (seconds) that stands still until a test sets ``now``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class MemoryCredentialStore:
    """:class:`services.auth.ports.CredentialStore` in dictionaries: record and digest per id."""

    tokens: dict[str, tuple[TokenRecord, str]] = field(default_factory=dict)
    keys: dict[str, tuple[ApiKeyRecord, str]] = field(default_factory=dict)

    # tokens ---------------------------------------------------------------------------------------------

    async def add_token(self, record: TokenRecord, secret_digest: str) -> None:
        self.tokens[record.token_id] = (record, secret_digest)

    async def token_by_digest(self, secret_digest: str) -> TokenRecord | None:
        return next((r for r, d in self.tokens.values() if d == secret_digest), None)

    async def token_by_id(self, token_id: str) -> TokenRecord | None:
        found = self.tokens.get(token_id)
        return found[0] if found else None

    async def current_tokens(
        self, *, subject: str, issued_by: str, active_at: datetime, limit: int
    ) -> list[tuple[TokenRecord, str]]:
        candidates = [
            (r, d)
            for r, d in self.tokens.values()
            if r.subject == subject and r.issued_by == issued_by and r.revoked_at is None and r.expires_at > active_at
        ]
        candidates.sort(key=lambda c: (-c[0].created_at.timestamp(), c[0].token_id))
        return candidates[:limit]

    async def list_tokens(
        self, *, subject: str | None, active_at: datetime | None, offset: int, limit: int
    ) -> list[TokenRecord]:
        rows = [
            r
            for r, _ in self.tokens.values()
            if (not subject or r.subject == subject)
            and (active_at is None or (r.revoked_at is None and r.expires_at > active_at))
        ]
        rows.sort(key=lambda r: (-r.created_at.timestamp(), r.token_id))
        return rows[offset : offset + limit]

    async def revoke_tokens(
        self, *, subject: str, at: datetime, issued_to_ip: str | None = None, except_id: str | None = None
    ) -> int:
        count = 0
        for token_id, (record, secret_digest) in list(self.tokens.items()):
            if (
                record.subject == subject
                and record.revoked_at is None
                and (issued_to_ip is None or record.issued_to_ip == issued_to_ip)
                and token_id != except_id
            ):
                self.tokens[token_id] = (replace(record, revoked_at=at), secret_digest)
                count += 1
        return count

    async def revoke_token(self, token_id: str, at: datetime) -> TokenRecord | None:
        found = self.tokens.get(token_id)
        if found is None:
            return None
        record, secret_digest = found
        if record.revoked_at is None:
            record = replace(record, revoked_at=at)
            self.tokens[token_id] = (record, secret_digest)
        return record

    async def touch_token(self, token_id: str, at: datetime, ip: str) -> None:
        record, secret_digest = self.tokens[token_id]
        self.tokens[token_id] = (replace(record, last_used_at=at, last_used_ip=ip), secret_digest)

    # API keys -------------------------------------------------------------------------------------------

    async def count_api_keys(self) -> int:
        return len(self.keys)

    async def add_api_key(self, record: ApiKeyRecord, secret_digest: str) -> None:
        self.keys[record.key_id] = (record, secret_digest)

    async def api_key_by_digest(self, secret_digest: str) -> ApiKeyRecord | None:
        return next((r for r, d in self.keys.values() if d == secret_digest), None)

    async def api_key_by_id(self, key_id: str) -> ApiKeyRecord | None:
        found = self.keys.get(key_id)
        return found[0] if found else None

    async def list_api_keys(self, *, active_at: datetime | None, offset: int, limit: int) -> list[ApiKeyRecord]:
        rows = [
            r
            for r, _ in self.keys.values()
            if active_at is None or (r.revoked_at is None and (r.expires_at is None or r.expires_at > active_at))
        ]
        rows.sort(key=lambda r: (-r.created_at.timestamp(), r.key_id))
        return rows[offset : offset + limit]

    async def revoke_api_key(self, key_id: str, at: datetime) -> ApiKeyRecord | None:
        found = self.keys.get(key_id)
        if found is None:
            return None
        record, secret_digest = found
        if record.revoked_at is None:
            record = replace(record, revoked_at=at)
            self.keys[key_id] = (record, secret_digest)
        return record

    async def rotate_api_key(self, key_id: str, secret_digest: str, at: datetime) -> ApiKeyRecord | None:
        found = self.keys.get(key_id)
        if found is None:
            return None
        record = replace(found[0], rotated_at=at)
        self.keys[key_id] = (record, secret_digest)
        return record

    async def touch_api_key(self, key_id: str, at: datetime, ip: str) -> None:
        record, secret_digest = self.keys[key_id]
        self.keys[key_id] = (replace(record, last_used_at=at, last_used_ip=ip), secret_digest)
