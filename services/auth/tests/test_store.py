"""The auth use cases on real databases: SQLite always, PostgreSQL when configured (required in CI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from clearframe_runtime import db
from clearframe_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from clearframe_runtime.principal import KIND_ANONYMOUS, Principal
from clearframe_runtime.testing import assert_migrations_idempotent
from services.auth.adapters.cached import CachedCredentials
from services.auth.adapters.sql import SqlCredentialStore
from services.auth.domain import AuthFailure, Authority, LegacyTokenPolicy, TokenBucket, digest
from services.auth.tests.fakes import FakeClock

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    await db.migrate(database, MIGRATIONS)
    engine = db.create_engine(database)
    yield engine
    await engine.dispose()


@pytest.fixture(params=["store", "cached"])
def authority(engine: AsyncEngine, clock: FakeClock, request: pytest.FixtureRequest) -> Authority:
    # Every use case twice: on the store itself and behind the lookup cache the service runs with.
    store = SqlCredentialStore(db.session_factory(engine))
    return Authority(
        store if request.param == "store" else CachedCredentials(store, ttl_s=60.0),
        token_ttl=timedelta(days=30),
        token_key=b"a-test-token-key-of-32-bytes-...",
        legacy_policy=LegacyTokenPolicy.parse("bot@legacy.test", "10.0.0.0/8"),
        legacy_bucket=TokenBucket(2, 3600),
        clock=clock,
    )


async def test_migrations_are_idempotent(database: str, authority: Authority) -> None:
    assert await authority.bootstrap_admin_key(None)
    await assert_migrations_idempotent(database, MIGRATIONS)


async def test_the_stored_row_holds_neither_the_token_nor_anything_it_can_be_read_from(
    engine: AsyncEngine, authority: Authority
) -> None:
    answer = await authority.legacy_token(
        "row@example.org", False, Principal("apikey:k_x", "api_key", frozenset({"tokens.issue"}), "127.0.0.1")
    )
    assert (
        await authority.legacy_token(
            "row@example.org", False, Principal("apikey:k_x", "api_key", frozenset({"tokens.issue"}), "127.0.0.1")
        )
    ).body == answer.body
    async with engine.connect() as connection:
        rows = (await connection.execute(sa.text("SELECT * FROM auth_tokens"))).all()
    assert len(rows) == 1
    assert answer.body not in repr(rows) and digest(answer.body) in repr(rows)


async def test_bootstrap_admin_key_only_when_store_is_empty(authority: Authority) -> None:
    generated = await authority.bootstrap_admin_key(None)
    assert generated and generated.startswith("cfk_")
    assert await authority.bootstrap_admin_key(None) is None
    principal = await authority.authenticate(generated, "127.0.0.1")
    assert isinstance(principal, Principal) and principal.has("config.write")


async def test_configured_admin_key_becomes_the_first_key(authority: Authority) -> None:
    assert await authority.bootstrap_admin_key("a-configured-admin-key-0123456789") is None
    assert isinstance(await authority.authenticate("a-configured-admin-key-0123456789", "10.1.1.1"), Principal)


async def test_short_configured_admin_key_is_refused(authority: Authority) -> None:
    with pytest.raises(SystemExit, match="CLEARFRAME_ADMIN_KEY"):
        await authority.bootstrap_admin_key("short")


async def test_token_lifecycle(authority: Authority) -> None:
    secret, record = await authority.issue_token("user@example.org", issued_by="test")
    assert len(secret) == 32 and record.expires_at - record.created_at == timedelta(days=30)
    principal = await authority.authenticate(secret, "192.0.2.7")
    assert isinstance(principal, Principal) and principal.subject == "user@example.org"
    tokens, _ = await authority.list_tokens(subject="user@example.org", show_inactive=False, page_token="", size=10)
    assert tokens[0].last_used_ip == "192.0.2.7"
    await authority.revoke_token(record.token_id)
    assert await authority.authenticate(secret, "192.0.2.7") == AuthFailure("token revoked")
    with pytest.raises(FailedPrecondition):
        await authority.revoke_token(record.token_id)
    with pytest.raises(NotFound):
        await authority.revoke_token("no-such-token")


async def test_expired_token(authority: Authority, clock: FakeClock) -> None:
    secret, _ = await authority.issue_token("brief@example.org", issued_by="test", ttl=timedelta(seconds=1))
    assert isinstance(await authority.authenticate(secret, "127.0.0.1"), Principal)
    clock.advance(timedelta(seconds=1))
    assert await authority.authenticate(secret, "127.0.0.1") == AuthFailure("token expired")


async def test_invalid_subject_and_ttl(authority: Authority) -> None:
    with pytest.raises(InvalidArgument) as bad_subject:
        await authority.issue_token("has space", issued_by="test")
    assert bad_subject.value.field == "subject"
    with pytest.raises(InvalidArgument) as bad_ttl:
        await authority.issue_token("ok@example.org", issued_by="test", ttl=timedelta(days=400))
    assert bad_ttl.value.field == "ttl"


async def test_api_key_rotate_and_revoke(authority: Authority) -> None:
    secret, key = await authority.create_api_key("svc", ["scans.create"], None, "test")
    assert isinstance(await authority.authenticate(secret, "127.0.0.1"), Principal)
    new_secret, _ = await authority.rotate_api_key(key.key_id)
    assert await authority.authenticate(secret, "127.0.0.1") == AuthFailure("unknown credential")
    await authority.revoke_api_key(key.key_id)
    assert await authority.authenticate(new_secret, "127.0.0.1") == AuthFailure("api key revoked")
    with pytest.raises(FailedPrecondition):
        await authority.rotate_api_key(key.key_id)


async def test_legacy_token_policy(authority: Authority) -> None:
    anonymous_far = Principal("", KIND_ANONYMOUS, frozenset(), "203.0.113.9")
    anonymous_near = Principal("", KIND_ANONYMOUS, frozenset(), "10.2.3.4")
    assert (await authority.legacy_token("someone@example.org", False, anonymous_far)).status == 403
    assert (await authority.legacy_token("", False, anonymous_far)).body == '{"error":"missing email"}'
    # Listed network: any subject; listed subject: any network. Two per client address and window, then 429.
    first = await authority.legacy_token("someone@example.org", False, anonymous_near)
    assert first.status == 200 and first.content_type.startswith("text/plain")
    for _ in range(2):
        assert (await authority.legacy_token("bot@legacy.test", True, anonymous_far)).status == 200
    limited = await authority.legacy_token("bot@legacy.test", True, anonymous_far)
    assert (limited.status, limited.body) == (429, '{"error":"rate limited"}')


async def test_legacy_renew_only_revokes_tokens_of_the_same_address(authority: Authority) -> None:
    official, _ = await authority.issue_token("bot@legacy.test", issued_by="admin")
    ours = await authority.legacy_token(
        "bot@legacy.test", False, Principal("", KIND_ANONYMOUS, frozenset(), "10.0.0.1")
    )
    theirs = await authority.legacy_token(
        "bot@legacy.test", True, Principal("", KIND_ANONYMOUS, frozenset(), "10.0.0.2")
    )
    assert theirs.status == 200
    assert isinstance(await authority.authenticate(official, "x"), Principal)
    assert isinstance(await authority.authenticate(ours.body, "x"), Principal)


async def test_pagination(authority: Authority) -> None:
    for i in range(5):
        await authority.issue_token(f"page{i}@example.org", issued_by="test")
    seen, token = [], ""
    while True:
        page, token = await authority.list_tokens(subject="", show_inactive=True, page_token=token, size=2)
        seen += page
        if not token:
            break
    assert len({t.token_id for t in seen}) == 5
