"""The auth use cases on in-memory fakes with a clock the tests move: no database, no sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clearframe_runtime.errors import InvalidArgument
from clearframe_runtime.principal import KIND_ANONYMOUS, KIND_API_KEY, Principal
from services.auth.domain import (
    AuthFailure,
    Authority,
    CredentialSource,
    LegacyTokenPolicy,
    TokenBucket,
    derive_token_key,
    digest,
    parse_credential,
    token_secret,
)
from services.auth.tests.fakes import FakeClock, MemoryCredentialStore

KEY = b"k" * 32
ADMIN = Principal("apikey:k_admin", KIND_API_KEY, frozenset({"admin"}), "127.0.0.1")
OTHER_ADMIN = Principal("apikey:k_other", KIND_API_KEY, frozenset({"tokens.issue"}), "127.0.0.1")


def anonymous(ip: str) -> Principal:
    return Principal("", KIND_ANONYMOUS, frozenset(), ip)


def authority(
    store: MemoryCredentialStore, clock: FakeClock, *, key: bytes = KEY, burst: int = 100, window_s: float = 60
) -> Authority:
    return Authority(
        store,
        token_ttl=timedelta(days=30),
        token_key=key,
        legacy_policy=LegacyTokenPolicy.parse("bot@legacy.test", "10.0.0.0/8"),
        legacy_bucket=TokenBucket(burst, window_s),
        clock=clock,
    )


@pytest.fixture
def store() -> MemoryCredentialStore:
    return MemoryCredentialStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- the derived token --------------------------------------------------------------------------------


def test_token_secret_is_32_hex_and_depends_on_key_and_id() -> None:
    secret = token_secret(KEY, "id-1")
    assert len(secret) == 32 and int(secret, 16) >= 0 and secret == secret.lower()
    assert secret == token_secret(KEY, "id-1")
    assert secret != token_secret(KEY, "id-2")
    assert secret != token_secret(b"x" * 32, "id-1")


def test_derived_key_depends_on_the_internal_secret() -> None:
    assert derive_token_key("internal-secret-one") == derive_token_key("internal-secret-one")
    assert derive_token_key("internal-secret-one") != derive_token_key("internal-secret-two")
    assert len(derive_token_key("internal-secret-one")) == 32


def test_a_short_key_is_refused(store: MemoryCredentialStore, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="token key"):
        authority(store, clock, key=b"short")


async def test_the_store_holds_the_digest_never_the_token(store: MemoryCredentialStore, clock: FakeClock) -> None:
    answer = await authority(store, clock).legacy_token("bot@example.org", False, ADMIN)
    ((_record, stored),) = store.tokens.values()
    assert stored == digest(answer.body) and answer.body not in repr(store.tokens)


# --- seed 000's /token: the same token until renew ---------------------------------------------------


async def test_repeated_token_calls_return_the_same_token(store: MemoryCredentialStore, clock: FakeClock) -> None:
    auth = authority(store, clock)
    first = await auth.legacy_token("bot@example.org", False, ADMIN)
    answers = []
    for _ in range(144):  # a day of the Discord bot's ten-minute re-fetches
        clock.advance(timedelta(minutes=10))
        answers.append((await auth.legacy_token("bot@example.org", False, ADMIN)).body)
    assert first.status == 200 and set(answers) == {first.body}
    assert len(store.tokens) == 1
    assert isinstance(await auth.authenticate(first.body, "127.0.0.1"), Principal)


async def test_renew_replaces_the_token_and_the_old_one_stops_working(
    store: MemoryCredentialStore, clock: FakeClock
) -> None:
    auth = authority(store, clock)
    old = (await auth.legacy_token("bot@example.org", False, ADMIN)).body
    renewed = (await auth.legacy_token("bot@example.org", True, ADMIN)).body
    assert renewed != old
    assert await auth.authenticate(old, "127.0.0.1") == AuthFailure("token revoked")
    assert isinstance(await auth.authenticate(renewed, "127.0.0.1"), Principal)
    # From then on the renewed token is the current one.
    assert (await auth.legacy_token("bot@example.org", False, ADMIN)).body == renewed


async def test_another_subject_or_issuer_gets_its_own_token(store: MemoryCredentialStore, clock: FakeClock) -> None:
    auth = authority(store, clock)
    mine = (await auth.legacy_token("bot@example.org", False, ADMIN)).body
    other_subject = (await auth.legacy_token("other@example.org", False, ADMIN)).body
    other_issuer = (await auth.legacy_token("bot@example.org", False, OTHER_ADMIN)).body
    keyless = (await auth.legacy_token("bot@example.org", False, anonymous("10.1.2.3"))).body
    keyless_elsewhere = (await auth.legacy_token("bot@example.org", False, anonymous("10.9.9.9"))).body
    assert len({mine, other_subject, other_issuer, keyless, keyless_elsewhere}) == 5
    assert (await auth.legacy_token("bot@example.org", False, anonymous("10.1.2.3"))).body == keyless


async def test_an_expired_token_is_replaced_by_a_new_one(store: MemoryCredentialStore, clock: FakeClock) -> None:
    auth = authority(store, clock)
    first = (await auth.legacy_token("bot@example.org", False, ADMIN)).body
    clock.advance(timedelta(days=30))
    assert await auth.authenticate(first, "127.0.0.1") == AuthFailure("token expired")
    second = (await auth.legacy_token("bot@example.org", False, ADMIN)).body
    assert second != first and isinstance(await auth.authenticate(second, "127.0.0.1"), Principal)


async def test_a_revoked_token_is_not_handed_out_again(store: MemoryCredentialStore, clock: FakeClock) -> None:
    auth = authority(store, clock)
    first = (await auth.legacy_token("bot@example.org", False, ADMIN)).body
    ((record, _),) = store.tokens.values()
    await auth.revoke_token(record.token_id)
    assert (await auth.legacy_token("bot@example.org", False, ADMIN)).body != first


async def test_after_a_key_change_a_new_token_is_issued_and_the_old_one_still_works(
    store: MemoryCredentialStore, clock: FakeClock
) -> None:
    before = (await authority(store, clock).legacy_token("bot@example.org", False, ADMIN)).body
    after_change = authority(store, clock, key=b"n" * 32)
    after = (await after_change.legacy_token("bot@example.org", False, ADMIN)).body
    assert after != before
    assert isinstance(await after_change.authenticate(before, "127.0.0.1"), Principal)
    assert (await after_change.legacy_token("bot@example.org", False, ADMIN)).body == after


async def test_issue_token_always_issues_a_new_one(store: MemoryCredentialStore, clock: FakeClock) -> None:
    auth = authority(store, clock)
    first, _ = await auth.issue_token("bot@example.org", issued_by=ADMIN.subject)
    second, _ = await auth.issue_token("bot@example.org", issued_by=ADMIN.subject)
    assert first != second


async def test_keyless_renew_only_revokes_tokens_of_the_same_address(
    store: MemoryCredentialStore, clock: FakeClock
) -> None:
    auth = authority(store, clock)
    official = (await auth.legacy_token("bot@legacy.test", False, ADMIN)).body
    ours = (await auth.legacy_token("bot@legacy.test", False, anonymous("203.0.113.1"))).body
    theirs = await auth.legacy_token("bot@legacy.test", True, anonymous("203.0.113.2"))
    assert theirs.status == 200
    assert isinstance(await auth.authenticate(official, "x"), Principal)
    assert isinstance(await auth.authenticate(ours, "x"), Principal)
    mine_renewed = (await auth.legacy_token("bot@legacy.test", True, anonymous("203.0.113.1"))).body
    assert await auth.authenticate(ours, "x") == AuthFailure("token revoked")
    assert isinstance(await auth.authenticate(mine_renewed, "x"), Principal)


async def test_legacy_refusals(store: MemoryCredentialStore, clock: FakeClock) -> None:
    auth = authority(store, clock)
    assert (await auth.legacy_token("", False, ADMIN)).body == '{"error":"missing email"}'
    assert (await auth.legacy_token(None, False, ADMIN)).status == 400
    refused = await auth.legacy_token("stranger@example.org", False, anonymous("203.0.113.9"))
    assert (refused.status, refused.body) == (403, '{"error":"forbidden"}')
    invalid = await auth.legacy_token("has space", False, ADMIN)
    assert (invalid.status, invalid.body) == (400, '{"error":"invalid email"}')


async def test_keyless_callers_are_rate_limited_by_the_injected_clock(
    store: MemoryCredentialStore, clock: FakeClock
) -> None:
    auth = authority(store, clock, burst=2, window_s=60)
    near = anonymous("10.2.3.4")
    assert [(await auth.legacy_token("bot@legacy.test", False, near)).status for _ in range(3)] == [200, 200, 429]
    clock.advance(timedelta(seconds=29))
    assert (await auth.legacy_token("bot@legacy.test", False, near)).status == 429
    clock.advance(timedelta(seconds=1))  # one token refilled after window / capacity = 30 s
    assert (await auth.legacy_token("bot@legacy.test", False, near)).status == 200
    # Key holders are not rate limited.
    assert all([(await auth.legacy_token("bot@legacy.test", False, ADMIN)).status == 200 for _ in range(5)])


# --- tokens and keys ------------------------------------------------------------------------------------


async def test_token_expiry_follows_the_clock(store: MemoryCredentialStore, clock: FakeClock) -> None:
    auth = authority(store, clock)
    secret, record = await auth.issue_token("brief@example.org", issued_by="test", ttl=timedelta(seconds=1))
    assert record.expires_at == clock.now + timedelta(seconds=1)
    assert isinstance(await auth.authenticate(secret, "127.0.0.1"), Principal)
    clock.advance(timedelta(seconds=1))
    assert await auth.authenticate(secret, "127.0.0.1") == AuthFailure("token expired")


async def test_use_is_recorded_at_most_once_a_minute_per_address(
    store: MemoryCredentialStore, clock: FakeClock
) -> None:
    auth = authority(store, clock)
    secret, record = await auth.issue_token("used@example.org", issued_by="test")
    await auth.authenticate(secret, "192.0.2.1")
    first_use = clock.now
    clock.advance(timedelta(seconds=30))
    await auth.authenticate(secret, "192.0.2.1")
    assert store.tokens[record.token_id][0].last_used_at == first_use
    await auth.authenticate(secret, "192.0.2.2")
    assert store.tokens[record.token_id][0].last_used_at == clock.now
    assert store.tokens[record.token_id][0].last_used_ip == "192.0.2.2"


async def test_api_key_expiry_and_expire_time_in_the_past(store: MemoryCredentialStore, clock: FakeClock) -> None:
    auth = authority(store, clock)
    secret, _ = await auth.create_api_key("svc", ["scans.create"], clock.now + timedelta(hours=1), "test")
    assert isinstance(await auth.authenticate(secret, "x"), Principal)
    clock.advance(timedelta(hours=1))
    assert await auth.authenticate(secret, "x") == AuthFailure("api key expired")
    with pytest.raises(InvalidArgument) as past:
        await auth.create_api_key("svc", ["scans.create"], clock.now, "test")
    assert past.value.field == "api_key.expire_time"


async def test_a_token_carries_only_scans_create(store: MemoryCredentialStore, clock: FakeClock) -> None:
    auth = authority(store, clock)
    secret, _ = await auth.issue_token("bot@example.org", issued_by="test")
    principal = await auth.authenticate(secret, "x")
    assert isinstance(principal, Principal)
    assert principal.permissions == frozenset({"scans.create"}) and not principal.has("config.read")


# --- credentials on the wire ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"authorization": "Bearer abc"}, "", ("abc", CredentialSource.BEARER)),
        ({"authorization": "abc"}, "", ("abc", CredentialSource.BARE)),
        ({"x-api-key": "cfk_1"}, "", ("cfk_1", CredentialSource.API_KEY_HEADER)),
        ({}, "a=1&api_key=cfk%2B2", ("cfk+2", CredentialSource.API_KEY_QUERY)),
        ({"authorization": "Basic dXNlcjpwdw== extra"}, "", None),
        ({}, "api_key=", None),
        ({}, "", None),
    ],
)
def test_parse_credential(headers: dict[str, str], query: str, expected: tuple[str, CredentialSource] | None) -> None:
    found = parse_credential(headers, query)
    assert (None if found is None else (found.secret, found.source)) == expected


def test_token_bucket_starts_full_refills_and_ignores_a_clock_stepping_back() -> None:
    bucket = TokenBucket(2, 60)
    assert [bucket.take("a", 1000.0), bucket.take("a", 1000.0)] == [0.0, 0.0]
    assert bucket.take("a", 1000.0) == pytest.approx(30.0)  # one token per 30 s
    assert bucket.take("b", 1000.0) == 0.0  # per client
    assert bucket.take("a", 900.0) > 0  # stepping back refills nothing
    assert bucket.take("a", 930.0) == 0.0
