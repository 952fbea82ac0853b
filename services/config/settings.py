"""Settings of the config service (environment, prefix CLEARFRAME_)."""

from __future__ import annotations

from pydantic import Field

from clearframe_runtime import topology
from clearframe_runtime.settings import ServiceSettings


class ConfigSettings(ServiceSettings):
    listen: str = topology.local_address("config")
    #: Seconds a resolved configuration stays cached (`CLEARFRAME_CONFIG_CACHE_TTL_S`; the seed: 10 minutes).
    #: Every change drops the affected entries at once, so the TTL only bounds staleness across replicas.
    config_cache_ttl_s: float = Field(default=600.0, ge=0)
    #: Most concurrent WatchAnalysisConfigs streams per process (`CLEARFRAME_CONFIG_MAX_WATCHERS`).
    config_max_watchers: int = Field(default=1000, ge=1)
    #: Seconds without changes after which a watch stream gets a HEARTBEAT event.
    config_watch_heartbeat_s: float = Field(default=30.0, gt=0)
