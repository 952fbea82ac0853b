"""Pure rate-limit logic: the four strategies, rules and what a request is matched on.

Nothing here imports grpc, redis or generated code. Times are seconds as floats from an injected clock.
The Redis adapter runs the same arithmetic in Lua (adapters/redis_store.py); the unit tests run one
suite of semantics against both.

Semantics (seed 002's RateLimiter, extended):

* token bucket: ``limit`` tokens, refilled continuously at ``limit`` per ``window``, starts full; a
  request of cost n needs n tokens; a refused request takes nothing.
* fixed window: a window opens at the first request and lasts ``window``; allowed while
  ``count + n <= limit``; refused requests are not counted; the count resets when the window elapsed.
* sliding window (log): events older than ``now - window`` are dropped; allowed while
  ``len(events) + n <= limit``.
* GCRA: a theoretical arrival time advances by ``window / limit`` per unit of cost; a burst of
  ``limit`` is allowed from idle, then one per ``window / limit``.

A clock that steps back refills nothing and takes nothing back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Strategy(Enum):
    TOKEN_BUCKET = "token_bucket"
    FIXED_WINDOW = "fixed_window"
    SLIDING_WINDOW = "sliding_window"
    GCRA = "gcra"


class FailMode(Enum):
    """What a rule answers when its counter store cannot be asked in time."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Limit:
    strategy: Strategy
    limit: int
    window_s: float


@dataclass(frozen=True)
class Decision:
    """One counter's answer. ``retry_after_s`` is 0 when allowed; ``reset_s`` is when the counter is
    back to its full quota (token bucket, GCRA) or its window ends (fixed, sliding)."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    retry_after_s: float


# --- the strategies on explicit state (the in-memory store keeps these dicts) -------------------------

State = dict[str, Any]


def _never(limit: Limit) -> float:
    """Wait reported when a cost exceeds the whole limit: it can never pass; say one window."""
    return limit.window_s


def token_bucket(state: State | None, limit: Limit, cost: int, now: float, consume: bool) -> tuple[State, Decision]:
    rate = limit.limit / limit.window_s
    tokens = float(state["tokens"]) if state else float(limit.limit)
    last = float(state["last"]) if state else now
    if now > last:
        tokens = min(float(limit.limit), tokens + (now - last) * rate)
        last = now
    allowed = tokens >= cost
    if allowed and consume:
        tokens -= cost
    retry = 0.0 if allowed else (_never(limit) if cost > limit.limit else (cost - tokens) / rate)
    decision = Decision(allowed, limit.limit, math.floor(tokens + 1e-9), (limit.limit - tokens) / rate, retry)
    return {"tokens": tokens, "last": last}, decision


def fixed_window(state: State | None, limit: Limit, cost: int, now: float, consume: bool) -> tuple[State, Decision]:
    start = float(state["start"]) if state else now
    count = int(state["count"]) if state else 0
    if now - start >= limit.window_s:
        start, count = now, 0
    allowed = count + cost <= limit.limit
    if allowed and consume:
        count += cost
    reset = max(0.0, start + limit.window_s - now)
    retry = 0.0 if allowed else (_never(limit) if cost > limit.limit else reset)
    return {"start": start, "count": count}, Decision(allowed, limit.limit, max(0, limit.limit - count), reset, retry)


def sliding_window(state: State | None, limit: Limit, cost: int, now: float, consume: bool) -> tuple[State, Decision]:
    events = [t for t in (state["events"] if state else []) if t > now - limit.window_s]
    allowed = len(events) + cost <= limit.limit
    if allowed and consume:
        events = sorted(events + [now] * cost)
    remaining = max(0, limit.limit - len(events))
    reset = max(0.0, events[0] + limit.window_s - now) if events else 0.0
    if allowed:
        retry = 0.0
    elif cost > limit.limit:
        retry = _never(limit)
    else:
        # The oldest (len + cost - limit) events must expire first.
        retry = max(0.0, events[len(events) + cost - limit.limit - 1] + limit.window_s - now)
    return {"events": events}, Decision(allowed, limit.limit, remaining, reset, retry)


def gcra(state: State | None, limit: Limit, cost: int, now: float, consume: bool) -> tuple[State, Decision]:
    interval = limit.window_s / limit.limit
    tat = max(float(state["tat"]) if state else now, now)
    new_tat = tat + cost * interval
    allow_at = new_tat - limit.window_s
    allowed = now >= allow_at - 1e-9
    if allowed and consume:
        tat = new_tat
    used = tat
    remaining = max(0, math.floor((limit.window_s - (used - now)) / interval + 1e-9))
    retry = 0.0 if allowed else (_never(limit) if cost > limit.limit else allow_at - now)
    return {"tat": tat}, Decision(allowed, limit.limit, remaining, max(0.0, used - now), retry)


STRATEGIES = {
    Strategy.TOKEN_BUCKET: token_bucket,
    Strategy.FIXED_WINDOW: fixed_window,
    Strategy.SLIDING_WINDOW: sliding_window,
    Strategy.GCRA: gcra,
}


def state_ttl(state: State, limit: Limit, now: float) -> float:
    """How long a counter must be kept; after that it is equivalent to a fresh one."""
    if "tokens" in state:
        return (limit.limit - float(state["tokens"])) * limit.window_s / limit.limit
    if "start" in state:
        return float(state["start"]) + limit.window_s - now
    if "events" in state:
        return (max(state["events"]) + limit.window_s - now) if state["events"] else 0.0
    return float(state["tat"]) - now


# --- rules -----------------------------------------------------------------------------------------------

#: Descriptor keys Envoy sends (services/gateway/envoy_config.py) or the service derives.
KNOWN_KEYS = frozenset({"remote_address", "principal", "api_key", "method", "path", "rpc", "authenticated", "event"})


@dataclass(frozen=True)
class Rule:
    """One limit: which requests it counts (``match``), per what (``key``), how (``limit``).

    ``match`` maps a descriptor key to accepted values; a value ending in ``*`` is a prefix. Every listed
    key must match. A rule whose ``key`` names an attribute the request lacks does not apply (a
    per-principal rule skips anonymous requests).
    """

    name: str
    limit: Limit
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    key: tuple[str, ...] = ()
    cost: int = 1
    shadow: bool = False
    fail_mode: FailMode = FailMode.OPEN

    def applies(self, attributes: Mapping[str, str]) -> bool:
        if any(not attributes.get(k) for k in self.key):
            return False
        return all(_matches(attributes.get(k, ""), accepted) for k, accepted in self.match.items())

    def counter(self, attributes: Mapping[str, str]) -> str:
        """The counter's identity: the rule's name and the values of its key, each closed by ``|`` (so
        ``|remote_address=10.0.0.1|`` names that address and not 10.0.0.10)."""
        return "|".join([self.name, *(f"{k}={attributes[k]}" for k in self.key)]) + "|"


def _matches(value: str, accepted: tuple[str, ...]) -> bool:
    for pattern in accepted:
        if pattern.endswith("*") and value.startswith(pattern[:-1]):
            return True
        if value == pattern:
            return True
    return False


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    #: Where they came from and when (shown by the admin status RPC and in logs).
    source: str = "built-in empty set"

    def matching(self, attributes: Mapping[str, str]) -> list[Rule]:
        return [rule for rule in self.rules if rule.applies(attributes)]


def attributes_of(entries: list[tuple[str, str]], rpc_of: Any = None) -> dict[str, str]:
    """One request's attributes from its descriptor entries (later entries win), plus the derived ones:
    ``path`` without its query, ``authenticated`` and ``rpc`` (``rpc_of(method, path)``, or the gRPC path)."""
    attributes = {k: v for k, v in entries if v}
    # After the transcoder, :path is the RPC's gRPC path and the REST path is the original one.
    original = attributes.pop("original_path", "")
    if original:
        attributes.setdefault("rpc", attributes.get("path", ""))
        attributes["path"] = original
    path = attributes.get("path", "").partition("?")[0]
    if path:
        attributes["path"] = path
    attributes["authenticated"] = "true" if attributes.get("principal") else "false"
    if "rpc" not in attributes and path:
        rpc = rpc_of(attributes.get("method", ""), path) if rpc_of is not None else None
        if rpc:
            attributes["rpc"] = rpc
        elif is_grpc_path(path):
            attributes["rpc"] = path
    return attributes


def is_grpc_path(path: str) -> bool:
    """``/package.Service/Method``."""
    parts = path.split("/")
    return len(parts) == 3 and not parts[0] and "." in parts[1] and bool(parts[2])


__all__ = [
    "KNOWN_KEYS",
    "STRATEGIES",
    "Decision",
    "FailMode",
    "Limit",
    "Rule",
    "RuleSet",
    "State",
    "Strategy",
    "attributes_of",
    "fixed_window",
    "gcra",
    "is_grpc_path",
    "sliding_window",
    "state_ttl",
    "token_bucket",
]
