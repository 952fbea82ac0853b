"""The credential lookup cache: hits kept for their TTL, misses never, emptied by every change made through
it, touches kept, bounded — so that authentication asks the database rarely and still sees revocations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.auth.adapters import cached
from services.auth.adapters.cached import CachedCredentials
from services.auth.domain import AuthFailure, digest
from services.auth.tests.fakes import FakeClock, MemoryCredentialStore, Seconds
from services.auth.tests.test_domain import ADMIN, authority


class Counting(MemoryCredentialStore):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def api_key_by_digest(self, secret_digest: str):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return await super().api_key_by_digest(secret_digest)

    async def token_by_digest(self, secret_digest: str):  # type: ignore[no-untyped-def]
        self.lookups += 1
        return await super().token_by_digest(secret_digest)


@pytest.fixture
def store() -> Counting:
    return Counting()


async def test_a_known_credential_is_looked_up_once_per_ttl(store: Counting) -> None:
    seconds, clock = Seconds(), FakeClock()
    auth = authority(CachedCredentials(store, ttl_s=2.0, clock=seconds), clock)  # type: ignore[arg-type]
    secret, _ = await auth.create_api_key("ci", ["scans.create"], None, "admin")
    token = (await auth.legacy_token("bot@example.org", False, ADMIN)).body
    store.lookups = 0
    for _ in range(5):
        assert not isinstance(await auth.authenticate(secret, "10.0.0.1"), AuthFailure)
        assert not isinstance(await auth.authenticate(token, "10.0.0.1"), AuthFailure)
    assert store.lookups == 1 + 2  # the key: one lookup; the token: not a key, then a token
    seconds.now = 2.0  # the TTL is over: asked again
    await auth.authenticate(secret, "10.0.0.1")
    assert store.lookups == 4


async def test_an_unknown_credential_is_never_remembered(store: Counting) -> None:
    cache = CachedCredentials(store, ttl_s=60.0, clock=Seconds())
    auth = authority(cache, FakeClock())  # type: ignore[arg-type]
    assert isinstance(await auth.authenticate("cfk_not-issued-yet", "10.0.0.1"), AuthFailure)
    # Another replica issues it meanwhile (straight into the shared store): found at the next request.
    secret, _ = await authority(store, FakeClock()).create_api_key("ci", ["scans.create"], None, "admin")
    assert not isinstance(await auth.authenticate(secret, "10.0.0.1"), AuthFailure)


async def test_a_revocation_through_the_cache_applies_at_the_next_request(store: Counting) -> None:
    auth = authority(CachedCredentials(store, ttl_s=60.0, clock=Seconds()), FakeClock())  # type: ignore[arg-type]
    secret, record = await auth.create_api_key("ci", ["scans.create"], None, "admin")
    token = (await auth.legacy_token("bot@example.org", False, ADMIN)).body
    await auth.authenticate(secret, "10.0.0.1")
    await auth.authenticate(token, "10.0.0.1")
    await auth.revoke_api_key(record.key_id)
    assert await auth.authenticate(secret, "10.0.0.1") == AuthFailure("api key revoked")
    renewed = (await auth.legacy_token("bot@example.org", True, ADMIN)).body  # renew revokes the old token
    assert await auth.authenticate(token, "10.0.0.1") == AuthFailure("token revoked")
    assert not isinstance(await auth.authenticate(renewed, "10.0.0.1"), AuthFailure)


async def test_another_replicas_revocation_is_seen_within_the_ttl(store: Counting) -> None:
    seconds = Seconds()
    auth = authority(CachedCredentials(store, ttl_s=1.0, clock=seconds), FakeClock())  # type: ignore[arg-type]
    secret, record = await auth.create_api_key("ci", ["scans.create"], None, "admin")
    await auth.authenticate(secret, "10.0.0.1")
    await authority(store, FakeClock()).revoke_api_key(record.key_id)  # the other replica
    assert not isinstance(await auth.authenticate(secret, "10.0.0.1"), AuthFailure)  # still cached
    seconds.now = 1.0
    assert await auth.authenticate(secret, "10.0.0.1") == AuthFailure("api key revoked")


async def test_touches_are_written_through_and_kept(store: Counting) -> None:
    clock = FakeClock()
    auth = authority(CachedCredentials(store, ttl_s=600.0, clock=Seconds()), clock)  # type: ignore[arg-type]
    secret, record = await auth.create_api_key("ci", ["scans.create"], None, "admin")
    await auth.authenticate(secret, "10.0.0.1")
    assert store.keys[record.key_id][0].last_used_ip == "10.0.0.1"
    await auth.authenticate(secret, "10.0.0.2")  # another address: touched again, through the cache
    assert store.keys[record.key_id][0].last_used_ip == "10.0.0.2"
    touched = store.keys[record.key_id][0].last_used_at
    clock.advance(timedelta(seconds=30))
    await auth.authenticate(secret, "10.0.0.2")  # within the touch interval of the kept last use: no write
    assert store.keys[record.key_id][0].last_used_at == touched


async def test_zero_ttl_keeps_nothing_and_the_cache_is_bounded(
    store: Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    off = CachedCredentials(store, ttl_s=0.0)
    auth = authority(off, FakeClock())  # type: ignore[arg-type]
    secret, _ = await auth.create_api_key("ci", ["scans.create"], None, "admin")
    store.lookups = 0
    await auth.authenticate(secret, "10.0.0.1")
    await auth.authenticate(secret, "10.0.0.1")
    assert store.lookups == 2
    monkeypatch.setattr(cached, "MAX_ENTRIES", 3)
    bounded = CachedCredentials(store, ttl_s=60.0)
    keys = [await auth.create_api_key(f"k{i}", ["scans.create"], None, "admin") for i in range(5)]
    for secret, _ in keys:
        await bounded.api_key_by_digest(digest(secret))
    assert len(bounded) == 3
    with pytest.raises(ValueError, match="ttl_s"):
        CachedCredentials(store, ttl_s=-1)


async def test_a_lookup_overlapping_a_change_does_not_keep_what_it_read(store: Counting) -> None:
    import asyncio

    cache = CachedCredentials(store, ttl_s=60.0, clock=Seconds())
    auth = authority(cache, FakeClock())  # type: ignore[arg-type]
    secret, record = await auth.create_api_key("ci", ["scans.create"], None, "admin")
    release = asyncio.Event()
    read = store.api_key_by_digest

    async def slow(secret_digest: str):  # type: ignore[no-untyped-def]
        found = await read(secret_digest)  # the row as it was before the revocation
        await release.wait()
        return found

    store.api_key_by_digest = slow  # type: ignore[method-assign]
    lookup = asyncio.create_task(cache.api_key_by_digest(digest(secret)))
    await asyncio.sleep(0)
    await auth.revoke_api_key(record.key_id)
    release.set()
    assert (await lookup) is not None and (await lookup).revoked_at is None  # type: ignore[union-attr]
    store.api_key_by_digest = read  # type: ignore[method-assign]
    assert await auth.authenticate(secret, "10.0.0.1") == AuthFailure("api key revoked")  # not the stale row
