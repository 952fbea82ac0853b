"""Settings every service shares, read from the environment (prefix ``CLEARFRAME_``).

Each service extends :class:`ServiceSettings` with its own fields and reads them with :func:`load_settings`:
a required value that is missing fails at start-up with a message naming the variable, never later at the
first request, and the listen address defaults to the service's entry in the port map
(:mod:`clearframe_runtime.topology`).
"""

from __future__ import annotations

from typing import TypeVar, overload

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from clearframe_runtime.topology import local_address


class ServiceSettings(BaseSettings):
    """Common settings of a gRPC service."""

    model_config = SettingsConfigDict(env_prefix="CLEARFRAME_", extra="ignore", frozen=True)

    #: host:port the gRPC server binds. Each service's class defaults it to the service's address in the port
    #: map; left empty (the base class), load_settings fills that in.
    listen: str = ""
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


def describe_missing(exc: Exception, prefix: str = "CLEARFRAME_") -> str:
    """Turn a pydantic validation error into one line that names the environment variables."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for error in exc.errors():
        name = "_".join(str(p) for p in error.get("loc", ())).upper()
        parts.append(f"{prefix}{name}: {error.get('msg')}")
    return "invalid settings: " + "; ".join(parts)


S1 = TypeVar("S1", bound=BaseSettings)
S2 = TypeVar("S2", bound=BaseSettings)
S3 = TypeVar("S3", bound=BaseSettings)


@overload
def load_settings(service: str, first: type[S1], /) -> S1: ...
@overload
def load_settings(service: str, first: type[S1], second: type[S2], /) -> tuple[S1, S2]: ...
@overload
def load_settings(service: str, first: type[S1], second: type[S2], third: type[S3], /) -> tuple[S1, S2, S3]: ...
def load_settings(service: str, *classes: type[BaseSettings]) -> BaseSettings | tuple[BaseSettings, ...]:
    """Read each settings class from the environment, the one way a service starts.

    A missing or invalid value ends the process (``SystemExit``) with one line naming the service and every
    offending variable. A :class:`ServiceSettings` whose ``CLEARFRAME_LISTEN`` is not set listens on the
    service's address in the port map. One class gives one object, several give a tuple in the same order.
    """
    loaded: list[BaseSettings] = []
    for cls in classes:
        try:
            settings = cls()
        except ValidationError as exc:
            prefix = str(cls.model_config.get("env_prefix", ""))
            raise SystemExit(f"{service}: {describe_missing(exc, prefix)}") from exc
        if isinstance(settings, ServiceSettings) and not settings.listen:
            settings = settings.model_copy(update={"listen": local_address(service)})
        loaded.append(settings)
    return loaded[0] if len(loaded) == 1 else tuple(loaded)
