"""Settings of the auth service (environment, prefix CLEARFRAME_)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from clearframe_runtime import topology
from clearframe_runtime.settings import ServiceSettings
from services.auth.domain import derive_token_key


class AuthSettings(ServiceSettings):
    listen: str = topology.local_address("auth")
    #: Lifetime of a token when the request does not say (the seed: 30 days).
    token_ttl_days: float = 30.0
    #: Becomes the first admin key when no API key is stored yet; otherwise one is generated and printed.
    admin_key: SecretStr | None = None
    #: Key of the token HMAC (token = HMAC(key, token id); the database holds only ids and digests).
    #: Unset: derived from CLEARFRAME_INTERNAL_SECRET. Changing it makes `GET /token` issue new tokens;
    #: tokens already handed out keep working until they expire.
    auth_token_key: SecretStr | None = Field(default=None, min_length=16)
    #: Migration setting for seed-000 bots: subjects that may get tokens from GET /token without a key.
    auth_legacy_token_subjects: str = ""
    #: Same, for client networks (CIDR list, e.g. "10.0.0.0/8,127.0.0.1/32").
    auth_legacy_token_networks: str = ""
    #: How many keyless /token calls a client address may make per window.
    auth_legacy_token_burst: int = 5
    auth_legacy_token_window_s: float = 60.0
    #: Seconds a credential found stays in the lookup cache (0: ask the database every time). Revocations
    #: through this replica apply at once; another replica's are seen within this time.
    auth_credential_cache_s: float = Field(default=1.0, ge=0, le=60)
    #: The gateway companion, whose rate limit service counts failed authentications per address
    #: (rule `event: auth_failure`); empty: not counted.
    gateway_url: str = topology.local_address("gateway")
    #: The most a failed-authentication count may take; then the request goes on uncounted (fail open).
    auth_failure_limit_timeout_s: float = 0.2
    #: Seconds an address found not over the failed-authentication limit is not asked about again
    #: (0: asked before every secret is checked). Any failure from the address forgets the answer.
    auth_failure_clear_cache_s: float = Field(default=1.0, ge=0, le=10)
    #: Lifetime of a review page session (the cookie), 60 s – 24 h.
    review_session_ttl_s: float = Field(default=900.0, ge=60, le=86400)
    #: `Secure` on the review cookie: true / false; unset: when the gateway saw HTTPS (X-Forwarded-Proto).
    #: Set it to true behind a load balancer that terminates TLS and speaks plain HTTP to Envoy.
    review_cookie_secure: bool | None = None

    def token_key(self) -> bytes:
        """The configured token key, else one derived from the internal secret."""
        if self.auth_token_key is not None:
            return self.auth_token_key.get_secret_value().encode()
        return derive_token_key(self.internal_secret.get_secret_value())
