"""Counter stores for the unit tests: in memory, and a real Redis (CLEARFRAME_TEST_REDIS_URL, by default
the local server on 6379). Without a reachable Redis the Redis tests fail, never skip: CI has one.
Each test gets its own key prefix, removed afterwards, so a shared server is left as it was."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.gateway.ratelimit.adapters.memory import MemoryCounterStore
from services.gateway.ratelimit.adapters.redis_store import RedisCounterStore, connect
from services.gateway.ratelimit.ports import CounterStore

REDIS_URL = os.environ.get("CLEARFRAME_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def redis_client() -> Redis:
    client = connect(REDIS_URL, timeout_s=2.0, max_connections=16)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose(close_connection_pool=True)
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); start one or set CLEARFRAME_TEST_REDIS_URL")
    return client


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[CounterStore]:
    if request.param == "memory":
        yield MemoryCounterStore()
        return
    client = await redis_client()
    redis_store = RedisCounterStore(client, prefix=f"clearframe-test:{secrets.token_hex(4)}:")
    try:
        yield redis_store
    finally:
        await redis_store.clear()
        await redis_store.close()
