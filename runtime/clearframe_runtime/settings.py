"""Settings every service shares, read from the environment (prefix ``CLEARFRAME_``).

Each service extends :class:`ServiceSettings` with its own fields. A required value that is missing
fails at start-up with a message naming the variable, never later at the first request.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Common settings of a gRPC service."""

    model_config = SettingsConfigDict(env_prefix="CLEARFRAME_", extra="ignore", frozen=True)

    #: host:port the gRPC server binds.
    listen: str = "127.0.0.1:50051"
    #: Shared secret that signs the principal metadata the auth service hands to the gateway. Required.
    internal_secret: SecretStr = Field(min_length=16)
    #: structlog level name.
    log_level: str = "INFO"
    #: Seconds a stopping server keeps answering in-flight calls before it cancels them.
    shutdown_grace_s: float = 5.0
    #: Largest gRPC message accepted or sent, in bytes (uploads travel as one message).
    max_message_bytes: int = 32 * 1024 * 1024


class DatabaseSettings(BaseSettings):
    """Where a service that owns tables keeps them: ``DATABASE_URL`` (no prefix, the usual name)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    #: SQLAlchemy URL. ``postgresql://`` and ``sqlite:///`` are accepted and given their async drivers.
    database_url: str = "sqlite:///var/clearframe.db"


def describe_missing(exc: Exception) -> str:
    """Turn a pydantic validation error into one line that names the environment variables."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for error in errors():
        name = "_".join(str(p) for p in error.get("loc", ())).upper()
        parts.append(f"CLEARFRAME_{name}: {error.get('msg')}")
    return "invalid settings: " + "; ".join(parts)
