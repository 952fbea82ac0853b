"""Settings of the analytics service (environment, prefix CLEARFRAME_ANALYTICS_ except the shared ones)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from clearframe_runtime import topology
from clearframe_runtime.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    listen: str = topology.local_address("analytics")


class IngestSettings(BaseSettings):
    """Ingest and query limits (``CLEARFRAME_ANALYTICS_…``)."""

    model_config = SettingsConfigDict(env_prefix="CLEARFRAME_ANALYTICS_", extra="ignore", frozen=True)

    #: Where events are stored: "" = the service's SQL database (CLEARFRAME_DATABASE_URL: SQLite or
    #: PostgreSQL); ``clickhouse://user:password@host:8123/database`` (``clickhouses://`` for TLS) = ClickHouse.
    events_url: str = ""
    #: Group commit: how long the writer waits for more calls before a transaction (milliseconds), the most
    #: events one transaction takes, and the most events that may wait (beyond: RESOURCE_EXHAUSTED).
    linger_ms: float = Field(default=2.0, ge=0, le=1000)
    max_group_events: int = Field(default=5000, ge=1000)
    max_pending_events: int = Field(default=50_000, ge=1000)
    #: Group commit: how many groups may be written at once, each in its own transaction on its own
    #: connection (PostgreSQL and ClickHouse; SQLite, with one writer at a time, always takes 1).
    writers: int = Field(default=2, ge=1, le=16)
    #: PostgreSQL: how often the counts that writes append (analytics_deltas) are folded into the count
    #: tables (seconds; reads add what is still pending, so this changes no answer, only how much a read adds).
    fold_every_s: float = Field(default=0.25, gt=0, le=60)
    #: The retry advice given with RESOURCE_EXHAUSTED.
    retry_after_ms: int = Field(default=200, ge=1)
    #: Accepted event times: at most this far ahead of the server's clock, at most this old.
    max_future_s: float = Field(default=300.0, ge=0)
    max_age_days: int = Field(default=400, ge=1)
    #: Raw events kept for this many whole UTC days before today (older days are dropped, their counts
    #: kept; events older than this are refused); 0 keeps them until purged.
    raw_retention_days: int = Field(default=0, ge=0)
    #: How often the retention looks for days to drop (seconds; also once at start).
    retention_every_s: float = Field(default=3600.0, gt=0)
    #: ListTopAssets by CTR or PLAY_RATE leaves out assets with fewer views (unless min_views says otherwise).
    ratio_min_views: int = Field(default=10, ge=0)
    #: The public tracking pixel (GET /v1/pingback): events one client address may record per minute on
    #: one replica; 0 switches the route off.
    pingback_per_minute: int = Field(default=60, ge=0)
