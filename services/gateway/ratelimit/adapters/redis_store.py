"""Counters in Redis: one Lua script per decision, so a decision is atomic across gateway replicas.

Each counter is one key, ``<prefix>{<rule>|<identity>}``: the braces are a hash tag, so the key (and
any future companion key of the same counter) lands in one cluster slot. Every write sets an expiry
(the time after which the counter equals a fresh one), so idle clients cost nothing. Time comes from
the caller's clock in milliseconds, not from Redis's ``TIME``: the tests inject a clock, and replicas
are expected to keep their clocks in sync (NTP) as for any token system.

The arithmetic is that of :mod:`services.gateway.ratelimit.domain`, in milliseconds.
"""

from __future__ import annotations

import secrets
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from services.gateway.ratelimit.domain import Decision, Limit

DEFAULT_PREFIX = "clearframe:rl:"

# KEYS[1] counter; ARGV: strategy, limit, window_ms, cost, now_ms, consume (1/0), member prefix.
# Returns {allowed, remaining, reset_ms, retry_ms}; retry_ms -1: the cost exceeds the whole limit.
DECIDE = r"""
local key = KEYS[1]
local strategy = ARGV[1]
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
local consume = ARGV[6] == "1"
local allowed, remaining, reset, retry

if strategy == "token_bucket" then
  local rate = limit / window
  local stored = redis.call("HMGET", key, "t", "l")
  local tokens = tonumber(stored[1]) or limit
  local last = tonumber(stored[2]) or now
  if now > last then
    tokens = math.min(limit, tokens + (now - last) * rate)
    last = now
  end
  allowed = tokens >= cost
  if allowed and consume then tokens = tokens - cost end
  if consume then
    redis.call("HSET", key, "t", string.format("%.17g", tokens), "l", string.format("%.17g", last))
    redis.call("PEXPIRE", key, math.ceil((limit - tokens) / rate) + 1000)
  end
  remaining = math.floor(tokens + 1e-9)
  reset = (limit - tokens) / rate
  if allowed then retry = 0 elseif cost > limit then retry = -1 else retry = (cost - tokens) / rate end

elseif strategy == "fixed_window" then
  local stored = redis.call("HMGET", key, "s", "c")
  local start = tonumber(stored[1]) or now
  local count = tonumber(stored[2]) or 0
  if now - start >= window then start = now; count = 0 end
  allowed = count + cost <= limit
  if allowed and consume then count = count + cost end
  if consume then
    redis.call("HSET", key, "s", string.format("%.17g", start), "c", count)
    redis.call("PEXPIRE", key, math.max(1, math.ceil(start + window - now)) + 1000)
  end
  remaining = math.max(0, limit - count)
  reset = math.max(0, start + window - now)
  if allowed then retry = 0 elseif cost > limit then retry = -1 else retry = reset end

elseif strategy == "sliding_window" then
  redis.call("ZREMRANGEBYSCORE", key, "-inf", now - window)
  local count = redis.call("ZCARD", key)
  allowed = count + cost <= limit
  if allowed and consume then
    for i = 1, cost do
      redis.call("ZADD", key, now, ARGV[7] .. ":" .. i)
    end
    count = count + cost
  end
  if consume then redis.call("PEXPIRE", key, math.ceil(window) + 1000) end
  remaining = math.max(0, limit - count)
  reset = 0
  local oldest = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
  if oldest[2] then reset = math.max(0, tonumber(oldest[2]) + window - now) end
  if allowed then
    retry = 0
  elseif cost > limit then
    retry = -1
  else
    local index = count + cost - limit - 1
    local blocking = redis.call("ZRANGE", key, index, index, "WITHSCORES")
    retry = math.max(0, tonumber(blocking[2]) + window - now)
  end

elseif strategy == "gcra" then
  local interval = window / limit
  local tat = math.max(tonumber(redis.call("GET", key)) or now, now)
  local new_tat = tat + cost * interval
  local allow_at = new_tat - window
  allowed = now >= allow_at - 1e-6
  if allowed and consume then
    tat = new_tat
    redis.call("SET", key, string.format("%.17g", tat), "PX", math.max(1, math.ceil(tat - now)) + 1000)
  end
  remaining = math.max(0, math.floor((window - (tat - now)) / interval + 1e-9))
  reset = math.max(0, tat - now)
  if allowed then retry = 0 elseif cost > limit then retry = -1 else retry = allow_at - now end
else
  return redis.error_reply("unknown strategy " .. strategy)
end

return {allowed and 1 or 0, remaining, tostring(reset), tostring(retry)}
"""


def connect(url: str, *, timeout_s: float = 0.1, max_connections: int = 64) -> Redis:
    """A client for the limiter: short connect and socket timeouts (a dead or slow Redis answers with an
    error quickly), and a bounded pool that makes callers wait for a connection rather than fail."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=max(timeout_s, 0.01),
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry_on_timeout=False,
    )
    return Redis(connection_pool=pool)


class RedisCounterStore:
    """``redis`` is a ``redis.asyncio.Redis`` built with short socket timeouts (the limiter also bounds
    every decision itself)."""

    def __init__(self, redis: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script: Any = redis.register_script(DECIDE)

    def key(self, counter: str) -> str:
        return f"{self._prefix}{{{counter}}}"

    async def hit(self, counter: str, limit: Limit, cost: int, now: float, *, consume: bool = True) -> Decision:
        reply = await self._script(
            keys=[self.key(counter)],
            args=[
                limit.strategy.value,
                limit.limit,
                limit.window_s * 1000.0,
                cost,
                repr(now * 1000.0),
                "1" if consume else "0",
                f"{now * 1000.0!r}:{secrets.token_hex(6)}",
            ],
        )
        allowed, remaining, reset_ms, retry_ms = reply
        retry = float(retry_ms)
        return Decision(
            allowed=bool(int(allowed)),
            limit=limit.limit,
            remaining=int(remaining),
            reset_s=float(reset_ms) / 1000.0,
            retry_after_s=limit.window_s if retry < 0 else retry / 1000.0,
        )

    async def reset(self, fragment: str) -> int:
        pattern = f"{self._prefix}{{*{_glob_escape(fragment)}*}}"
        doomed = [key async for key in self._redis.scan_iter(match=pattern, count=500)]
        return int(await self._redis.delete(*doomed)) if doomed else 0

    async def clear(self) -> int:
        doomed = [key async for key in self._redis.scan_iter(match=f"{_glob_escape(self._prefix)}*", count=500)]
        return int(await self._redis.delete(*doomed)) if doomed else 0

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


__all__ = ["DECIDE", "DEFAULT_PREFIX", "RedisCounterStore", "connect"]
