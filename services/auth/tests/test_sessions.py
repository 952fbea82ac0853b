"""Review sessions: the cookie, its CSRF token, sign-out, and how ext_authz admits a cookie (no mesh)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from clearframe_runtime.principal import KIND_API_KEY, KIND_REVIEW_SESSION, PrincipalCodec
from envoycompat import ext_authz_pb2
from services.auth.api import ExtAuthzServicer
from services.auth.domain import Authority, LegacyTokenPolicy, TokenBucket
from services.auth.sessions import COOKIE_NAME, ReviewSessions, cookie_from_header, session_permissions
from services.auth.tests.fakes import FakeClock, MemoryCredentialStore

SECRET = "s" * 32


class Seconds:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def book(clock: Seconds | None = None, ttl_s: float = 900) -> ReviewSessions:
    return ReviewSessions(SECRET, ttl_s=ttl_s, clock=clock or Seconds())


def test_a_session_carries_only_moderation_permissions() -> None:
    issued = book().issue("apikey:k_1", KIND_API_KEY, frozenset({"admin"}))
    assert issued.claims.permissions == {"moderation.read", "moderation.review"}
    reader = book().issue("apikey:k_2", KIND_API_KEY, frozenset({"moderation.read", "assets.write"}))
    assert reader.claims.permissions == {"moderation.read"}
    assert session_permissions(frozenset({"config.write"})) == frozenset()
    with pytest.raises(ValueError):
        book().issue("apikey:k_3", KIND_API_KEY, frozenset({"moderation.review"}))


def test_the_cookie_verifies_until_it_expires() -> None:
    clock = Seconds()
    sessions = book(clock, ttl_s=600)
    issued = sessions.issue("apikey:k_1", KIND_API_KEY, frozenset({"moderation.read"}))
    claims = sessions.verify(issued.cookie_value)
    assert claims is not None and claims.subject == "apikey:k_1" and claims.expires_at == clock.now + 600
    clock.now += 599
    assert sessions.verify(issued.cookie_value) is not None
    clock.now += 1
    assert sessions.verify(issued.cookie_value) is None


def test_a_tampered_or_foreign_cookie_is_refused() -> None:
    sessions = book()
    issued = sessions.issue("apikey:k_1", KIND_API_KEY, frozenset({"moderation.read"}))
    version, payload, mac = issued.cookie_value.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["perms"] = ["moderation.read", "moderation.review"]
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    assert sessions.verify(f"{version}.{forged}.{mac}") is None
    assert sessions.verify(issued.cookie_value + "x") is None
    assert sessions.verify("v1..") is None and sessions.verify("garbage") is None
    assert ReviewSessions("t" * 32).verify(issued.cookie_value) is None  # another deployment's key


def test_csrf_token_belongs_to_its_session() -> None:
    sessions = book()
    one = sessions.issue("apikey:k_1", KIND_API_KEY, frozenset({"moderation.read"}))
    two = sessions.issue("apikey:k_1", KIND_API_KEY, frozenset({"moderation.read"}))
    assert sessions.csrf_ok(one.claims, one.csrf_token)
    assert not sessions.csrf_ok(one.claims, two.csrf_token)
    assert not sessions.csrf_ok(one.claims, "")
    assert one.csrf_token not in one.cookie_value


def test_sign_out_revokes_the_session_until_it_would_have_expired() -> None:
    clock = Seconds()
    sessions = book(clock, ttl_s=60)
    issued = sessions.issue("apikey:k_1", KIND_API_KEY, frozenset({"moderation.read"}))
    claims = sessions.verify(issued.cookie_value)
    assert claims is not None
    sessions.revoke(claims)
    assert sessions.verify(issued.cookie_value) is None
    clock.now += 120
    later = sessions.issue("apikey:k_1", KIND_API_KEY, frozenset({"moderation.read"}))
    later_claims = sessions.verify(later.cookie_value)
    assert later_claims is not None
    sessions.revoke(later_claims)  # prunes the first, long expired
    assert sessions.verify(issued.cookie_value) is None


def test_cookie_attributes() -> None:
    sessions = book()
    issued = sessions.issue("apikey:k_1", KIND_API_KEY, frozenset({"moderation.read"}))
    plain = sessions.set_cookie(issued, secure=False)
    assert plain.startswith(f"{COOKIE_NAME}={issued.cookie_value}; ")
    assert {"Path=/", "Max-Age=900", "HttpOnly", "SameSite=Strict"} <= set(plain.split("; "))
    assert "Secure" not in plain.split("; ")
    assert sessions.set_cookie(issued, secure=True).endswith("; Secure")
    assert "Max-Age=0" in ReviewSessions.clear_cookie(secure=False)
    assert cookie_from_header(f"a=1; {COOKIE_NAME}={issued.cookie_value}; b=2") == issued.cookie_value
    assert cookie_from_header("a=1; cf_review_x=2") is None


def test_secure_follows_the_scheme_unless_configured() -> None:
    assert book().secure_for("https") and not book().secure_for("http") and not book().secure_for("")
    assert ReviewSessions(SECRET, secure=True).secure_for("http")
    assert not ReviewSessions(SECRET, secure=False).secure_for("https")


def test_lifetime_limits() -> None:
    with pytest.raises(ValueError):
        ReviewSessions(SECRET, ttl_s=10)
    with pytest.raises(ValueError):
        ReviewSessions("short")


# --- ext_authz with the cookie ------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def authority(clock: FakeClock) -> Authority:
    return Authority(
        MemoryCredentialStore(),
        token_ttl=timedelta(days=30),
        token_key=b"k" * 32,
        legacy_policy=LegacyTokenPolicy.parse("", ""),
        legacy_bucket=TokenBucket(5, 60),
        clock=clock,
    )


def check_request(method: str, path: str, headers: dict[str, str]) -> ext_authz_pb2.CheckRequest:
    request = ext_authz_pb2.CheckRequest()
    http = request.attributes.request.http
    http.method, http.path = method, path
    http.headers.update(headers)
    request.attributes.source.address.socket_address.address = "127.0.0.1"
    return request


async def check(servicer: ExtAuthzServicer, method: str, path: str, headers: dict[str, str]) -> Any:
    return await servicer.Check(check_request(method, path, headers), None)


def principal_of(codec: PrincipalCodec, answer: ext_authz_pb2.CheckResponse) -> Any:
    headers = {h.header.key: h.header.value for h in answer.ok_response.headers}
    return codec.decode(headers["x-clearframe-principal"], headers["x-clearframe-principal-signature"])


async def test_ext_authz_admits_the_cookie_and_wants_csrf_on_changes(authority: Authority) -> None:
    codec = PrincipalCodec(SECRET)
    sessions = ReviewSessions(SECRET)
    servicer = ExtAuthzServicer(authority, codec, sessions=sessions)
    _, record = await authority.create_api_key("reviewer", ["moderation.read", "moderation.review"], None, "test")
    issued = sessions.issue(f"apikey:{record.key_id}", KIND_API_KEY, record.permissions)
    cookie = {"cookie": f"{COOKIE_NAME}={issued.cookie_value}"}

    read = await check(servicer, "GET", "/v1/reviews", cookie)
    assert read.status.code == 0
    principal = principal_of(codec, read)
    assert principal.kind == KIND_REVIEW_SESSION and principal.subject == f"apikey:{record.key_id}"
    assert principal.permissions == {"moderation.read", "moderation.review"}

    decide = "/v1/reviews/c1:decide"
    missing = await check(servicer, "POST", decide, cookie)
    assert missing.denied_response.status.code == 403
    assert "CSRF_TOKEN_INVALID" in missing.denied_response.body
    forged = await check(servicer, "POST", decide, {**cookie, "x-csrf-token": "forged"})
    assert forged.denied_response.status.code == 403
    ok = await check(servicer, "POST", decide, {**cookie, "x-csrf-token": issued.csrf_token})
    assert ok.status.code == 0
    assert "x-csrf-token" in ok.ok_response.headers_to_remove

    # An explicit credential wins over the cookie and needs no CSRF token (not a browser session).
    other_secret, other = await authority.create_api_key("other", ["moderation.read"], None, "test")
    wrong = await check(servicer, "GET", "/v1/caller", {**cookie, "x-api-key": "nope"})
    assert wrong.denied_response.status.code == 401
    explicit = await check(servicer, "POST", decide, {**cookie, "x-api-key": other_secret})
    assert explicit.status.code == 0 and principal_of(codec, explicit).kind == KIND_API_KEY

    # Revoking the key ends its sessions at once.
    await authority.revoke_api_key(record.key_id)
    gone = await check(servicer, "GET", "/v1/reviews", cookie)
    assert gone.denied_response.status.code == 401 and "SESSION_EXPIRED" in gone.denied_response.body
    assert other.key_id != record.key_id


async def test_ext_authz_public_routes_ignore_a_dead_cookie(authority: Authority) -> None:
    sessions = ReviewSessions(SECRET)
    servicer = ExtAuthzServicer(authority, PrincipalCodec(SECRET), sessions=sessions)
    dead = {"cookie": f"{COOKIE_NAME}=v1.bad.mac"}
    assert (await check(servicer, "GET", "/review/index.html", dead)).status.code == 0
    assert (await check(servicer, "GET", "/v1/reviews", dead)).denied_response.status.code == 401
    assert (await check(servicer, "GET", "/v1/assets/0123456789abcdef/preview", {})).denied_response.status.code == 401
