"""Settings of moderation (environment, prefix CLEARFRAME_MODERATION_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ModerationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEARFRAME_MODERATION_", extra="ignore", frozen=True)

    #: Plain-http webhooks to loopback addresses (local development and the test mesh). Set false in
    #: production: the manifests do.
    webhook_allow_loopback: bool = True
    #: Webhook targets in private or link-local ranges (10/8, 192.168/16, 169.254/16 …) are refused
    #: unless their host is listed here (comma-separated hosts or IPs).
    webhook_allowed_private_hosts: str = ""
    #: Deadline of one delivery attempt; a 2xx answer within it is success.
    webhook_timeout_s: float = 10.0
    #: Deliveries attempted at once by the worker.
    webhook_concurrency: int = 8
    #: Longest the worker sleeps between looks at the table (new deliveries wake it at once).
    webhook_poll_s: float = 5.0
    #: Longest a WatchDecisions stream waits before looking at the feed table again: the wake-up for
    #: events written by other scanner replicas (this replica's own writes wake its streams at once).
    watch_poll_s: float = 1.0
    #: A heartbeat is sent after this long without events.
    watch_heartbeat_s: float = 15.0
    #: WatchDecisions streams one replica serves at once (more answer RESOURCE_EXHAUSTED).
    watch_max_streams: int = 256
