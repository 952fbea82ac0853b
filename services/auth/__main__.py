"""Run the auth service: `python -m services.auth`."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from clearframe.auth.v1 import auth_pb2, auth_pb2_grpc
from clearframe_runtime import db
from clearframe_runtime.health import database_component
from clearframe_runtime.principal import PrincipalCodec
from clearframe_runtime.server import Servicer, run_service, serve
from clearframe_runtime.settings import DatabaseSettings, load_settings
from envoycompat import ext_authz_pb2, ext_authz_pb2_grpc
from services.auth.adapters.cached import CachedCredentials
from services.auth.adapters.ratelimit import GatewayFailedAuthLimit, RememberedClear
from services.auth.adapters.sql import SqlCredentialStore
from services.auth.api import AuthServicer, ExtAuthzServicer
from services.auth.domain import Authority, LegacyTokenPolicy, TokenBucket
from services.auth.sessions import ReviewSessions
from services.auth.settings import AuthSettings

MIGRATIONS = Path(__file__).parent / "migrations"


async def main() -> None:
    settings, database = load_settings("auth", AuthSettings, DatabaseSettings)
    engine = db.create_engine(database.database_url)
    authority = Authority(
        CachedCredentials(SqlCredentialStore(db.session_factory(engine)), ttl_s=settings.auth_credential_cache_s),
        token_ttl=timedelta(days=settings.token_ttl_days),
        token_key=settings.token_key(),
        legacy_policy=LegacyTokenPolicy.parse(settings.auth_legacy_token_subjects, settings.auth_legacy_token_networks),
        legacy_bucket=TokenBucket(settings.auth_legacy_token_burst, settings.auth_legacy_token_window_s),
    )
    codec = PrincipalCodec(settings.internal_secret.get_secret_value())
    sessions = ReviewSessions(
        settings.internal_secret.get_secret_value(),
        ttl_s=settings.review_session_ttl_s,
        secure=settings.review_cookie_secure,
    )
    gateway = (
        GatewayFailedAuthLimit(settings.gateway_url, timeout_s=settings.auth_failure_limit_timeout_s)
        if settings.gateway_url
        else None
    )
    failures = RememberedClear(gateway, ttl_s=settings.auth_failure_clear_cache_s) if gateway is not None else None

    async def stop() -> None:
        if gateway is not None:
            await gateway.close()
        await engine.dispose()

    async def start() -> None:
        await db.migrate(database.database_url, MIGRATIONS)
        admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
        generated = await authority.bootstrap_admin_key(admin_key)
        if generated:
            # Shown once, on stdout (the console under `make run`), never in the structured logs on stderr.
            print(
                f"\nauth: no API key existed, so an admin key was created. Keep it now, it is not shown again:\n"
                f"  {generated}\n",
                file=sys.stdout,
                flush=True,
            )

    await serve(
        "auth",
        settings,
        [
            Servicer(
                AuthServicer(authority, codec, sessions),
                auth_pb2_grpc.add_AuthServiceServicer_to_server,
                auth_pb2.DESCRIPTOR.services_by_name["AuthService"],
            ),
            Servicer(
                ExtAuthzServicer(authority, codec, failures=failures, sessions=sessions),
                ext_authz_pb2_grpc.add_AuthorizationServicer_to_server,
                ext_authz_pb2.DESCRIPTOR.services_by_name["Authorization"],
            ),
        ],
        on_start=start,
        on_stop=stop,
        # Without its database no call can be answered: NOT_SERVING while it is unreachable.
        components=[database_component(engine)],
    )


if __name__ == "__main__":
    run_service("auth", main)
