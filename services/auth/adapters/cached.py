"""A short-lived cache of credential lookups in front of a CredentialStore.

Envoy asks the auth service about every request, and each answer looked the credential up in the database
(an API key first, then a token: two queries for a seed bot's token). ``CachedCredentials`` keeps the
records found, by the digest of their secret, for ``ttl_s`` seconds:

- only hits are kept: a credential just issued by another replica is found at once, never refused from
  a remembered miss;
- every change made through this process (issue, revoke, rotate) empties the cache, and a lookup that
  overlapped a change does not keep what it read, so a revocation here takes effect at the next request;
  one made through another auth replica is seen within ``ttl_s`` (the cost of not asking the database
  every time; ``ttl_s = 0`` turns the cache off);
- a touch (last use) is written through and kept in the cached record, so the domain's once-a-minute
  touch rule still sees the last use.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from clearframe_runtime.expiring import Expiring, Monotonic
from services.auth.ports import ApiKeyRecord, CredentialStore, TokenRecord

#: Records kept at most (the oldest go first): bounded memory whatever callers send.
MAX_ENTRIES = 10_000

Record = ApiKeyRecord | TokenRecord
R = TypeVar("R", ApiKeyRecord, TokenRecord)
T = TypeVar("T")


class CachedCredentials:
    """:class:`CredentialStore` that remembers lookups by digest for ``ttl_s`` seconds."""

    def __init__(self, store: CredentialStore, ttl_s: float, clock: Monotonic = time.monotonic):
        self._store = store
        self._hits: Expiring[Record] = Expiring(ttl_s, clock, MAX_ENTRIES)
        #: Changes so far: a lookup that overlapped one does not keep its answer.
        self._generation = 0

    def __len__(self) -> int:
        return len(self._hits)

    # --- the cached lookups ----------------------------------------------------------------------------

    async def _lookup(self, secret_digest: str, kind: type[R], fetch: Callable[[str], Awaitable[R | None]]) -> R | None:
        cached = self._hits.get(secret_digest)
        if cached is not None:
            # A digest is a key's or a token's, never both: a cached token answers "no such key".
            return cached if isinstance(cached, kind) else None
        generation = self._generation
        found = await fetch(secret_digest)
        # Not kept when a change through this cache overlapped the read: it may have read the old row.
        if found is not None and generation == self._generation:
            self._hits.keep(secret_digest, found)
        return found

    async def api_key_by_digest(self, secret_digest: str) -> ApiKeyRecord | None:
        return await self._lookup(secret_digest, ApiKeyRecord, self._store.api_key_by_digest)

    async def token_by_digest(self, secret_digest: str) -> TokenRecord | None:
        return await self._lookup(secret_digest, TokenRecord, self._store.token_by_digest)

    def clear(self) -> None:
        self._generation += 1
        self._hits.clear()

    async def _change(self, call: Awaitable[T]) -> T:
        """Run a change: the cache is emptied before and after it, and no read overlapping it is kept."""
        self.clear()
        try:
            return await call
        finally:
            self.clear()

    # --- touches: written through, kept in the cached record --------------------------------------------

    def _keep_touch(self, touched: Callable[[Record], bool], at: datetime, ip: str) -> None:
        self._hits.update(lambda r: dataclasses.replace(r, last_used_at=at, last_used_ip=ip) if touched(r) else r)

    async def touch_token(self, token_id: str, at: datetime, ip: str) -> None:
        await self._store.touch_token(token_id, at, ip)
        self._keep_touch(lambda r: isinstance(r, TokenRecord) and r.token_id == token_id, at, ip)

    async def touch_api_key(self, key_id: str, at: datetime, ip: str) -> None:
        await self._store.touch_api_key(key_id, at, ip)
        self._keep_touch(lambda r: isinstance(r, ApiKeyRecord) and r.key_id == key_id, at, ip)

    # --- changes: written through, the cache emptied ----------------------------------------------------

    async def add_token(self, record: TokenRecord, secret_digest: str) -> None:
        await self._change(self._store.add_token(record, secret_digest))

    async def revoke_tokens(
        self, *, subject: str, at: datetime, issued_to_ip: str | None = None, except_id: str | None = None
    ) -> int:
        return await self._change(
            self._store.revoke_tokens(subject=subject, at=at, issued_to_ip=issued_to_ip, except_id=except_id)
        )

    async def revoke_token(self, token_id: str, at: datetime) -> TokenRecord | None:
        return await self._change(self._store.revoke_token(token_id, at))

    async def add_api_key(self, record: ApiKeyRecord, secret_digest: str) -> None:
        await self._change(self._store.add_api_key(record, secret_digest))

    async def revoke_api_key(self, key_id: str, at: datetime) -> ApiKeyRecord | None:
        return await self._change(self._store.revoke_api_key(key_id, at))

    async def rotate_api_key(self, key_id: str, secret_digest: str, at: datetime) -> ApiKeyRecord | None:
        return await self._change(self._store.rotate_api_key(key_id, secret_digest, at))

    # --- everything else: straight to the store ----------------------------------------------------------

    async def token_by_id(self, token_id: str) -> TokenRecord | None:
        return await self._store.token_by_id(token_id)

    async def current_tokens(
        self, *, subject: str, issued_by: str, active_at: datetime, limit: int
    ) -> list[tuple[TokenRecord, str]]:
        return await self._store.current_tokens(subject=subject, issued_by=issued_by, active_at=active_at, limit=limit)

    async def list_tokens(
        self, *, subject: str | None, active_at: datetime | None, offset: int, limit: int
    ) -> list[TokenRecord]:
        return await self._store.list_tokens(subject=subject, active_at=active_at, offset=offset, limit=limit)

    async def count_api_keys(self) -> int:
        return await self._store.count_api_keys()

    async def api_key_by_id(self, key_id: str) -> ApiKeyRecord | None:
        return await self._store.api_key_by_id(key_id)

    async def list_api_keys(self, *, active_at: datetime | None, offset: int, limit: int) -> list[ApiKeyRecord]:
        return await self._store.list_api_keys(active_at=active_at, offset=offset, limit=limit)
