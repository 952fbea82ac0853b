"""Pure auth logic: secrets, digests, validity, credential parsing and the legacy /token policy.

Nothing here imports grpc or generated code; the servicer translates between this and the wire.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from urllib.parse import unquote_plus

from clearframe_runtime.clock import Clock, utcnow
from clearframe_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from clearframe_runtime.pagination import decode_page_token, encode_page_token, page_size
from clearframe_runtime.principal import KIND_API_KEY, KIND_TOKEN, PERMISSIONS, Principal
from services.auth.ports import ApiKeyRecord, CredentialStore, TokenRecord

SUBJECT_RE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,254}$")
API_KEY_PREFIX = "cfk_"
MIN_ADMIN_KEY_LENGTH = 24


def digest(secret: str) -> str:
    """SHA-256 of a secret. Secrets are 128+ random bits, so a fast hash is the right tool."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(stored: str, presented: str) -> bool:
    return hmac.compare_digest(stored.encode(), presented.encode())


#: Domain separation for the two uses of HMAC below.
_TOKEN_LABEL = "clearframe-auth-token:v1:"
_TOKEN_KEY_LABEL = b"clearframe-auth-token-key:v1"
MIN_TOKEN_KEY_BYTES = 16


def derive_token_key(internal_secret: str) -> bytes:
    """The token key when none is configured: derived from the mesh's internal secret (never stored)."""
    return hmac.new(internal_secret.encode(), _TOKEN_KEY_LABEL, hashlib.sha256).digest()


def token_secret(key: bytes, token_id: str) -> str:
    """A token's secret: HMAC-SHA256(key, token id) as 32 lower-case hex characters (the seed's shape).

    The database holds the token id and the SHA-256 of this secret, never the secret: without the key,
    which lives outside the database, neither reveals it. With the key the service recomputes the
    secret on demand, which is how `GET /token` returns the subject's current token again.
    """
    return hmac.new(key, (_TOKEN_LABEL + token_id).encode(), hashlib.sha256).hexdigest()[:32]


def new_api_key_secret() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_token_id() -> str:
    return str(uuid.uuid4())


def new_key_id() -> str:
    return "k_" + secrets.token_hex(6)


def check_subject(subject: str) -> str:
    subject = subject.strip()
    if not SUBJECT_RE.match(subject):
        raise InvalidArgument(
            "subject must be 1-254 printable characters without spaces",
            field="subject",
            reason="INVALID_SUBJECT",
        )
    return subject


def check_permissions(permissions: list[str]) -> frozenset[str]:
    if not permissions:
        raise InvalidArgument("at least one permission is required", field="permissions", reason="INVALID_PERMISSION")
    unknown = sorted(set(permissions) - PERMISSIONS)
    if unknown:
        raise InvalidArgument(
            f"unknown permissions: {', '.join(unknown)}; known: {', '.join(sorted(PERMISSIONS))}",
            field="permissions",
            reason="INVALID_PERMISSION",
        )
    return frozenset(permissions)


def check_display_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidArgument("display_name must have 1-100 characters", field="api_key.display_name")
    return name


class CredentialSource(Enum):
    """Where a request carried its secret."""

    BEARER = "authorization bearer"
    BARE = "authorization"
    API_KEY_HEADER = "x-api-key"
    API_KEY_QUERY = "api_key query parameter"


@dataclass(frozen=True)
class PresentedCredential:
    secret: str
    source: CredentialSource


def parse_credential(headers: dict[str, str], query: str) -> PresentedCredential | None:
    """Find the secret in `Authorization: Bearer …`, bare `Authorization: …`, `X-API-Key` or `?api_key=`."""
    authorization = headers.get("authorization", "").strip()
    if authorization:
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            return PresentedCredential(rest.strip(), CredentialSource.BEARER)
        if " " not in authorization:
            return PresentedCredential(authorization, CredentialSource.BARE)
    api_key = headers.get("x-api-key", "").strip()
    if api_key:
        return PresentedCredential(api_key, CredentialSource.API_KEY_HEADER)
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "api_key" and value:
            return PresentedCredential(unquote_plus(value), CredentialSource.API_KEY_QUERY)
    return None


def is_active(expires_at: datetime | None, revoked_at: datetime | None, now: datetime) -> bool:
    return revoked_at is None and (expires_at is None or now < expires_at)


def default_expiry(now: datetime, ttl: timedelta) -> datetime:
    return now + ttl


@dataclass
class TokenBucket:
    """Token bucket per client: ``capacity`` requests, refilled at ``capacity`` per ``window_s``."""

    capacity: int
    window_s: float
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, client: str, now: float) -> float:
        """0.0 when allowed (one token taken), else the seconds to wait for the next token.

        ``now`` is in seconds; a clock that steps back refills nothing (and takes nothing back).
        """
        tokens, last = self._state.get(client, (float(self.capacity), now))
        rate = self.capacity / self.window_s
        tokens = min(float(self.capacity), tokens + max(0.0, now - last) * rate)
        if tokens >= 1.0:
            self._state[client] = (tokens - 1.0, now)
            return 0.0
        self._state[client] = (tokens, now)
        return (1.0 - tokens) / rate


@dataclass(frozen=True)
class LegacyTokenPolicy:
    """Who may call the seed's `GET /token` without a key (the migration setting), and how often."""

    subjects: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, subjects: str, networks: str) -> LegacyTokenPolicy:
        subject_set = frozenset(s.strip().lower() for s in subjects.split(",") if s.strip())
        try:
            nets = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks.split(",") if n.strip())
        except ValueError as exc:
            raise SystemExit(f"CLEARFRAME_AUTH_LEGACY_TOKEN_NETWORKS: {exc}") from exc
        return cls(subject_set, nets)

    def admits(self, subject: str, client_ip: str) -> bool:
        if subject.lower() in self.subjects:
            return True
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        return any(address in net for net in self.networks)


# --- use cases ----------------------------------------------------------------------------------------


MAX_TTL = timedelta(days=365)
TOUCH_INTERVAL = timedelta(seconds=60)
#: How many of a subject's newest tokens `/token` looks at for one it can recompute.
CURRENT_TOKEN_CANDIDATES = 10


@dataclass(frozen=True)
class AuthFailure:
    """Why a presented secret did not authenticate (logged, never shown with the secret)."""

    reason: str


@dataclass(frozen=True)
class LegacyAnswer:
    """What `GET /token` answers: an HTTP status and its body."""

    status: int
    body: str
    content_type: str = "application/json"


def auth_page_size(requested: int) -> int:
    return page_size(requested, default=20, maximum=100)


class Authority:
    """Issues, checks and revokes credentials."""

    def __init__(
        self,
        store: CredentialStore,
        *,
        token_ttl: timedelta,
        token_key: bytes,
        legacy_policy: LegacyTokenPolicy,
        legacy_bucket: TokenBucket,
        clock: Clock = utcnow,
    ):
        if len(token_key) < MIN_TOKEN_KEY_BYTES:
            raise ValueError(f"the token key must have at least {MIN_TOKEN_KEY_BYTES} bytes")
        self._store = store
        self._token_key = token_key
        self._clock = clock
        self._token_ttl = token_ttl
        self._legacy_policy = legacy_policy
        self._legacy_bucket = legacy_bucket

    def now(self) -> datetime:
        """The authority's clock (injected), for checks made outside it."""
        return self._clock()

    # bootstrap ------------------------------------------------------------------------------------------

    async def bootstrap_admin_key(self, configured: str | None) -> str | None:
        """With no API key stored, make the first admin key. Returns a generated secret to show once."""
        if await self._store.count_api_keys() > 0:
            return None
        if configured is not None and len(configured) < MIN_ADMIN_KEY_LENGTH:
            raise SystemExit(f"CLEARFRAME_ADMIN_KEY must have at least {MIN_ADMIN_KEY_LENGTH} characters")
        secret = configured or new_api_key_secret()
        record = ApiKeyRecord(
            key_id=new_key_id(),
            display_name="bootstrap admin",
            permissions=frozenset({"admin"}),
            created_at=self._clock(),
            expires_at=None,
            revoked_at=None,
            rotated_at=None,
            last_used_at=None,
            last_used_ip="",
            created_by="bootstrap",
        )
        await self._store.add_api_key(record, digest(secret))
        return None if configured else secret

    # authentication -------------------------------------------------------------------------------------

    async def authenticate(self, secret: str, client_ip: str) -> Principal | AuthFailure:
        now = self._clock()
        secret_digest = digest(secret)
        key = await self._store.api_key_by_digest(secret_digest)
        if key is not None:
            if key.revoked_at is not None:
                return AuthFailure("api key revoked")
            if not is_active(key.expires_at, None, now):
                return AuthFailure("api key expired")
            if key.last_used_at is None or now - key.last_used_at > TOUCH_INTERVAL or key.last_used_ip != client_ip:
                await self._store.touch_api_key(key.key_id, now, client_ip)
            return Principal(f"apikey:{key.key_id}", KIND_API_KEY, key.permissions, client_ip)
        token = await self._store.token_by_digest(secret_digest)
        if token is None:
            return AuthFailure("unknown credential")
        if token.revoked_at is not None:
            return AuthFailure("token revoked")
        if not is_active(token.expires_at, None, now):
            return AuthFailure("token expired")
        if token.last_used_at is None or now - token.last_used_at > TOUCH_INTERVAL or token.last_used_ip != client_ip:
            await self._store.touch_token(token.token_id, now, client_ip)
        # A subject's token lets it use the scanner (the seed's bots) and read stats; nothing else.
        return Principal(token.subject, KIND_TOKEN, frozenset({"scans.create"}), client_ip)

    # tokens ---------------------------------------------------------------------------------------------

    async def issue_token(
        self,
        subject: str,
        *,
        issued_by: str,
        ttl: timedelta | None = None,
        replace_existing: bool = False,
        issued_to_ip: str = "",
        revoke_only_issued_to: str | None = None,
    ) -> tuple[str, TokenRecord]:
        subject = check_subject(subject)
        ttl = ttl or self._token_ttl
        if not timedelta(seconds=1) <= ttl <= MAX_TTL:
            raise InvalidArgument("ttl must lie between 1 second and 365 days", field="ttl", reason="INVALID_TTL")
        now = self._clock()
        record = TokenRecord(
            token_id=new_token_id(),
            subject=subject,
            created_at=now,
            expires_at=now + ttl,
            revoked_at=None,
            issued_by=issued_by,
            issued_to_ip=issued_to_ip,
            last_used_at=None,
            last_used_ip="",
        )
        secret = token_secret(self._token_key, record.token_id)
        if replace_existing:
            await self._store.revoke_tokens(subject=subject, at=now, issued_to_ip=revoke_only_issued_to)
        await self._store.add_token(record, digest(secret))
        return secret, record

    async def current_token(self, subject: str, *, issued_by: str) -> tuple[str, TokenRecord] | None:
        """The newest valid token this issuer gave this subject, its secret recomputed from the key.

        None when there is none that can be recomputed (issued under another key, or before tokens were
        derived): the caller then issues a new one, and the old ones simply run out.
        """
        candidates = await self._store.current_tokens(
            subject=check_subject(subject), issued_by=issued_by, active_at=self._clock(), limit=CURRENT_TOKEN_CANDIDATES
        )
        for record, stored_digest in candidates:
            secret = token_secret(self._token_key, record.token_id)
            if same_digest(stored_digest, digest(secret)):
                return secret, record
        return None

    async def current_or_new_token(
        self,
        subject: str,
        *,
        issued_by: str,
        renew: bool,
        issued_to_ip: str = "",
        revoke_only_issued_to: str | None = None,
    ) -> tuple[str, TokenRecord]:
        """Seed 000's `/token`: the same token while it is valid; `renew` replaces it."""
        if not renew:
            current = await self.current_token(subject, issued_by=issued_by)
            if current is not None:
                return current
        return await self.issue_token(
            subject,
            issued_by=issued_by,
            replace_existing=renew,
            issued_to_ip=issued_to_ip,
            revoke_only_issued_to=revoke_only_issued_to,
        )

    async def list_tokens(
        self, *, subject: str, show_inactive: bool, page_token: str, size: int
    ) -> tuple[list[TokenRecord], str]:
        offset, limit = decode_page_token(page_token), auth_page_size(size)
        rows = await self._store.list_tokens(
            subject=subject or None,
            active_at=None if show_inactive else self._clock(),
            offset=offset,
            limit=limit + 1,
        )
        return rows[:limit], encode_page_token(offset + limit) if len(rows) > limit else ""

    async def revoke_token(self, token_id: str) -> TokenRecord:
        existing = await self._store.token_by_id(token_id)
        if existing is None:
            raise NotFound(f"token {token_id!r} does not exist", reason="TOKEN_NOT_FOUND")
        if existing.revoked_at is not None:
            raise FailedPrecondition(f"token {token_id!r} is already revoked", reason="ALREADY_REVOKED")
        revoked = await self._store.revoke_token(token_id, self._clock())
        assert revoked is not None
        return revoked

    async def renew_token(self, token_id: str, *, issued_by: str) -> tuple[str, TokenRecord]:
        old = await self.revoke_token(token_id)
        return await self.issue_token(old.subject, issued_by=issued_by)

    # API keys -------------------------------------------------------------------------------------------

    async def create_api_key(
        self, display_name: str, permissions: list[str], expires_at: datetime | None, created_by: str
    ) -> tuple[str, ApiKeyRecord]:
        name = check_display_name(display_name)
        perms = check_permissions(permissions)
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise InvalidArgument("expire_time must lie in the future", field="api_key.expire_time")
        secret = new_api_key_secret()
        record = ApiKeyRecord(
            key_id=new_key_id(),
            display_name=name,
            permissions=perms,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
            rotated_at=None,
            last_used_at=None,
            last_used_ip="",
            created_by=created_by,
        )
        await self._store.add_api_key(record, digest(secret))
        return secret, record

    async def get_api_key(self, key_id: str) -> ApiKeyRecord:
        record = await self._store.api_key_by_id(key_id)
        if record is None:
            raise NotFound(f"api key {key_id!r} does not exist", reason="API_KEY_NOT_FOUND")
        return record

    async def list_api_keys(self, *, show_inactive: bool, page_token: str, size: int) -> tuple[list[ApiKeyRecord], str]:
        offset, limit = decode_page_token(page_token), auth_page_size(size)
        rows = await self._store.list_api_keys(
            active_at=None if show_inactive else self._clock(), offset=offset, limit=limit + 1
        )
        return rows[:limit], encode_page_token(offset + limit) if len(rows) > limit else ""

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord:
        existing = await self.get_api_key(key_id)
        if existing.revoked_at is not None:
            raise FailedPrecondition(f"api key {key_id!r} is already revoked", reason="ALREADY_REVOKED")
        revoked = await self._store.revoke_api_key(key_id, self._clock())
        assert revoked is not None
        return revoked

    async def rotate_api_key(self, key_id: str) -> tuple[str, ApiKeyRecord]:
        existing = await self.get_api_key(key_id)
        if existing.revoked_at is not None:
            raise FailedPrecondition(f"api key {key_id!r} is revoked", reason="ALREADY_REVOKED")
        secret = new_api_key_secret()
        rotated = await self._store.rotate_api_key(key_id, digest(secret), self._clock())
        assert rotated is not None
        return secret, rotated

    # seed 000: GET /token -------------------------------------------------------------------------------

    async def legacy_token(self, email: str | None, renew: bool, caller: Principal) -> LegacyAnswer:
        """The seed's `/token`: a bare token for an allowed caller, its error bodies otherwise."""
        if not email:
            return LegacyAnswer(400, '{"error":"missing email"}')
        if caller.has("tokens.issue"):
            try:
                secret, _ = await self.current_or_new_token(email, issued_by=caller.subject, renew=renew)
            except InvalidArgument:
                return LegacyAnswer(400, '{"error":"invalid email"}')
            return LegacyAnswer(200, secret, "text/plain; charset=utf-8")
        if not self._legacy_policy.admits(email, caller.client_ip):
            return LegacyAnswer(403, '{"error":"forbidden"}')
        if self._legacy_bucket.take(caller.client_ip or "unknown", self._clock().timestamp()) > 0:
            return LegacyAnswer(429, '{"error":"rate limited"}')
        try:
            secret, _ = await self.current_or_new_token(
                email,
                issued_by=f"legacy:{caller.client_ip}",
                renew=renew,
                issued_to_ip=caller.client_ip,
                # An unauthenticated caller can only replace tokens handed to its own address.
                revoke_only_issued_to=caller.client_ip,
            )
        except InvalidArgument:
            return LegacyAnswer(400, '{"error":"invalid email"}')
        return LegacyAnswer(200, secret, "text/plain; charset=utf-8")
