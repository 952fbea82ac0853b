"""Run the gateway companion service: `python -m services.gateway`.

It answers the mesh's health (`/healthz`), Envoy's rate limit filter (``ShouldRateLimit``) and the rate
limits' admin RPCs.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import pkgutil

import clearframe
from clearframe.gateway.v1 import gateway_pb2, gateway_pb2_grpc, ratelimit_service_pb2, ratelimit_service_pb2_grpc
from clearframe_runtime.server import Servicer, run_service, serve
from clearframe_runtime.settings import load_settings
from envoycompat import ratelimit_pb2, ratelimit_pb2_grpc
from services.gateway.health import GatewayServicer
from services.gateway.ratelimit.adapters.memory import MemoryCounterStore
from services.gateway.ratelimit.adapters.redis_store import RedisCounterStore, connect
from services.gateway.ratelimit.api import RateLimitAdminServicer, RateLimitServicer, rpc_resolver
from services.gateway.ratelimit.limiter import RateLimiter
from services.gateway.ratelimit.ports import CounterStore
from services.gateway.ratelimit.reload import WatchedRules
from services.gateway.settings import GatewaySettings


def contract_service_names() -> list[str]:
    """Every service of every Clearframe contract, so reflection through the gateway lists them all."""
    names = []
    for module_info in pkgutil.walk_packages(clearframe.__path__, "clearframe."):
        if module_info.name.endswith("_pb2"):
            module = importlib.import_module(module_info.name)
            names += [service.full_name for service in module.DESCRIPTOR.services_by_name.values()]
    return sorted(names)


async def main() -> None:
    settings = load_settings("gateway", GatewaySettings)
    health = GatewayServicer(settings.services(), settings.triton_url, settings.health_timeout_s)
    rules = WatchedRules(settings.ratelimit_rules, interval_s=settings.ratelimit_reload_s)
    store: CounterStore
    if settings.ratelimit_redis_url:
        client = connect(settings.ratelimit_redis_url, timeout_s=settings.ratelimit_timeout_s)
        store, store_name = RedisCounterStore(client, prefix=settings.ratelimit_redis_prefix), "redis"
    else:
        store, store_name = MemoryCounterStore(), "memory"
    limiter = RateLimiter(
        store,
        rules.current,
        timeout_s=settings.ratelimit_timeout_s,
        retry_store_after_s=settings.ratelimit_retry_store_s,
    )
    resolve = rpc_resolver()
    watcher: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal watcher
        watcher = asyncio.create_task(rules.run(), name="ratelimit-rules")

    async def stop() -> None:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await store.close()
        await health.close()

    await serve(
        "gateway",
        settings,
        [
            Servicer(
                health,
                gateway_pb2_grpc.add_GatewayServiceServicer_to_server,
                gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"],
            ),
            Servicer(
                RateLimitServicer(limiter, resolve),
                ratelimit_pb2_grpc.add_RateLimitServiceServicer_to_server,
                ratelimit_pb2.DESCRIPTOR.services_by_name["RateLimitService"],
            ),
            Servicer(
                RateLimitAdminServicer(limiter, resolve, store_name, lambda: rules.last_error),
                ratelimit_service_pb2_grpc.add_RateLimitAdminServiceServicer_to_server,
                ratelimit_service_pb2.DESCRIPTOR.services_by_name["RateLimitAdminService"],
            ),
        ],
        reflection_names=contract_service_names(),
        on_start=start,
        on_stop=stop,
    )


if __name__ == "__main__":
    run_service("gateway", main)
