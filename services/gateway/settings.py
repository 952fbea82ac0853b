"""Settings of the gateway companion service (environment, prefix CLEARFRAME_)."""

from __future__ import annotations

from pathlib import Path

from clearframe_runtime import topology
from clearframe_runtime.settings import ServiceSettings

DEFAULT_RATELIMIT_RULES = Path(__file__).parent / "ratelimit" / "default_rules.yaml"


class GatewaySettings(ServiceSettings):
    listen: str = topology.local_address("gateway")
    #: The services /healthz asks: "name=host:port,name=host:port".
    mesh_services: str = topology.mesh_services()
    #: Triton's gRPC address; /healthz also needs Triton ready when set.
    triton_url: str = ""
    #: How long /healthz waits for each answer.
    health_timeout_s: float = 1.0
    #: The rate-limit rules file (YAML, see docs/ratelimit.md); re-read when it changes.
    ratelimit_rules: Path = DEFAULT_RATELIMIT_RULES
    #: How often the rules file is looked at.
    ratelimit_reload_s: float = 1.0
    #: Redis for counters shared by every gateway replica ("redis://host:6379/0"); empty: in memory.
    ratelimit_redis_url: str = ""
    #: Key prefix of the counters in Redis.
    ratelimit_redis_prefix: str = "clearframe:rl:"
    #: The most one decision may wait for the counter store; then each rule's fail mode answers.
    ratelimit_timeout_s: float = 0.1
    #: After a store failure, answers come from the fail modes for this long before Redis is asked again.
    ratelimit_retry_store_s: float = 1.0

    def services(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.mesh_services.split(",") if item.strip())
        return {name.strip(): target.strip() for name, target in pairs}
