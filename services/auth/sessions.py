"""Review sessions: the review page's short-lived cookie and its CSRF token (pure logic, clock injected).

A reviewer signs in once with an API key (or token) holding ``moderation.read``; the auth service
answers a session cookie and never sees the key again. The cookie value is self-contained and signed:

    v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "v1." + claims))>

with the claims ``sid`` (random session id), ``sub`` (the credential's subject, the reviewer named by
decisions), ``src`` (``api_key`` or ``token``), ``perms`` (only the credential's moderation
permissions) and ``exp`` (epoch seconds). The key is derived from the internal secret, so every auth
replica verifies every cookie.

CSRF: the cookie is SameSite=Strict (a cross-site request carries no cookie at all) and, in addition,
every request with the cookie whose method is not GET/HEAD/OPTIONS must carry ``X-CSRF-Token`` equal to
HMAC(key, "csrf." + sid) — a value the page gets in the sign-in answer (and from ``GET
/v1/reviewSession``, readable only by same-origin script), which a forged cross-site form cannot know
or set.

Sign-out revokes the session id: revoked ids are kept in memory until the session would have expired
anyway (sessions are short: 15 minutes by default). Sessions made from API keys are also re-checked
against the key on every request by the ext_authz servicer, so revoking the key ends them at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE_NAME = "cf_review"
CSRF_HEADER = "x-csrf-token"
#: Permissions a session may carry (``admin`` on the credential yields both, nothing more).
SESSION_PERMISSIONS = ("moderation.read", "moderation.review")
#: Methods that change nothing: they need no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_TTL_S = 900.0
_VERSION = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SessionClaims:
    """What a valid cookie says."""

    session_id: str
    subject: str
    source_kind: str
    permissions: frozenset[str]
    expires_at: float


@dataclass(frozen=True)
class IssuedSession:
    """A new session: the cookie's value (set as HttpOnly cookie, never shown to script) and its claims."""

    cookie_value: str
    claims: SessionClaims
    csrf_token: str


def session_permissions(granted: frozenset[str]) -> frozenset[str]:
    """The moderation permissions a credential's permissions allow (``admin`` implies both)."""
    return frozenset(p for p in SESSION_PERMISSIONS if p in granted or "admin" in granted)


def cookie_from_header(header: str) -> str | None:
    """The review cookie's value in a ``Cookie`` request header (several headers joined by "; ")."""
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name == COOKIE_NAME and value:
            return value.strip().strip('"')
    return None


class ReviewSessions:
    """Issues and verifies session cookies and CSRF tokens; remembers sign-outs."""

    def __init__(
        self,
        secret: str,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        secure: bool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must have at least 16 characters")
        if not 60 <= ttl_s <= 86400:
            raise ValueError("the session lifetime must lie between 60 s and 24 h")
        # A key of its own, so a cookie can never pass for a signed principal or vice versa.
        self._key = hmac.new(secret.encode(), b"clearframe review session v1", hashlib.sha256).digest()
        self._ttl_s = ttl_s
        self._secure = secure
        self._clock = clock
        self._revoked: dict[str, float] = {}

    @property
    def ttl_s(self) -> float:
        return self._ttl_s

    def _mac(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())

    def issue(self, subject: str, source_kind: str, permissions: frozenset[str]) -> IssuedSession:
        allowed = session_permissions(permissions)
        if "moderation.read" not in allowed:
            raise ValueError("a review session needs moderation.read")
        claims = SessionClaims(
            session_id=secrets.token_urlsafe(18),
            subject=subject,
            source_kind=source_kind,
            permissions=allowed,
            expires_at=float(int(self._clock() + self._ttl_s)),
        )
        body = {
            "sid": claims.session_id,
            "sub": claims.subject,
            "src": claims.source_kind,
            "perms": sorted(claims.permissions),
            "exp": int(claims.expires_at),
        }
        signed = f"{_VERSION}.{_b64(json.dumps(body, separators=(',', ':')).encode())}"
        return IssuedSession(f"{signed}.{self._mac(signed)}", claims, self.csrf_token(claims))

    def verify(self, cookie_value: str) -> SessionClaims | None:
        """The claims of a well-signed, unexpired, not signed-out cookie; None otherwise."""
        version, _, rest = cookie_value.partition(".")
        payload, _, mac = rest.partition(".")
        if version != _VERSION or not payload or not mac:
            return None
        if not hmac.compare_digest(self._mac(f"{version}.{payload}"), mac):
            return None
        try:
            body = json.loads(_unb64(payload))
            claims = SessionClaims(
                session_id=str(body["sid"]),
                subject=str(body["sub"]),
                source_kind=str(body["src"]),
                permissions=session_permissions(frozenset(str(p) for p in body["perms"])),
                expires_at=float(body["exp"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        if self._clock() >= claims.expires_at or claims.session_id in self._revoked:
            return None
        return claims

    def csrf_token(self, claims: SessionClaims) -> str:
        return self._mac(f"csrf.{claims.session_id}")

    def csrf_ok(self, claims: SessionClaims, presented: str) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf_token(claims), presented.strip())

    def revoke(self, claims: SessionClaims) -> None:
        now = self._clock()
        for sid in [s for s, until in self._revoked.items() if until <= now]:
            del self._revoked[sid]
        self._revoked[claims.session_id] = claims.expires_at

    # cookies ----------------------------------------------------------------------------------------

    def secure_for(self, forwarded_proto: str) -> bool:
        """Whether the cookie gets ``Secure``: as configured, else when the request came over HTTPS."""
        if self._secure is not None:
            return self._secure
        return forwarded_proto.strip().lower() == "https"

    def set_cookie(self, issued: IssuedSession, *, secure: bool) -> str:
        max_age = max(0, int(issued.claims.expires_at - self._clock()))
        return _cookie(issued.cookie_value, max_age, secure)

    @staticmethod
    def clear_cookie(*, secure: bool) -> str:
        return _cookie("", 0, secure)


def _cookie(value: str, max_age: int, secure: bool) -> str:
    attributes = [f"{COOKIE_NAME}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes)


__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "IssuedSession",
    "ReviewSessions",
    "SessionClaims",
    "cookie_from_header",
    "session_permissions",
]
