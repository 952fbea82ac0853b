"""Apply the rules to one request: every matching rule must allow.

Each matching rule asks its counter store once (all rules at the same time), within ``timeout_s``
altogether. When the store fails or is slow, each rule answers by its ``fail_mode`` (open: allow;
closed: refuse for a second); the store is then left alone for ``retry_store_after_s`` (answers come
from the fail modes at once, so a dead Redis costs no time per request) and asked again after that,
so it recovers without a restart. Failures are counted and logged once per outage.

A rule that allows takes its cost even when another rule refuses the request (counters are separate
keys; see docs/ratelimit.md). Shadow rules count and log their refusals and never refuse.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from services.gateway.ratelimit.domain import Decision, FailMode, Rule, RuleSet
from services.gateway.ratelimit.ports import CounterStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """One rule's part in a verdict. ``decision`` is None when the store could not answer."""

    rule: Rule
    decision: Decision | None
    store_failed: bool = False

    @property
    def refuses(self) -> bool:
        """Whether this rule refuses the request (shadow rules never do)."""
        return not self.rule.shadow and self.decision is not None and not self.decision.allowed


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    outcomes: tuple[Outcome, ...]

    @property
    def enforced(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.rule.shadow and o.decision is not None]

    def binding(self) -> Outcome | None:
        """The outcome the response headers describe: the refusal with the longest wait, else the
        enforced rule closest to its limit."""
        refusals = [o for o in self.outcomes if o.refuses]
        if refusals:
            return max(refusals, key=lambda o: o.decision.retry_after_s if o.decision else 0.0)
        enforced = self.enforced
        if not enforced:
            return None
        return min(enforced, key=lambda o: (o.decision.remaining / o.decision.limit) if o.decision else 1.0)

    @property
    def retry_after_s(self) -> int:
        binding = self.binding()
        if self.allowed or binding is None or binding.decision is None:
            return 0
        return max(1, math.ceil(binding.decision.retry_after_s))


def fail_closed(rule: Rule) -> Decision:
    return Decision(False, rule.limit.limit, 0, 1.0, 1.0)


class RateLimiter:
    """The use case: decide, check without consuming, reset, clear."""

    def __init__(
        self,
        store: CounterStore,
        rules: Callable[[], RuleSet],
        clock: Callable[[], float] = time.time,
        *,
        timeout_s: float = 0.1,
        retry_store_after_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._rules = rules
        self._clock = clock
        self._monotonic = monotonic
        self._timeout_s = timeout_s
        self._retry_store_after_s = retry_store_after_s
        self._store_down_until: float | None = None
        #: allowed, limited, shadow_limited, store_errors, failed_open, failed_closed, …
        self.counts: Counter[str] = Counter()

    @property
    def rules(self) -> RuleSet:
        return self._rules()

    @property
    def store_available(self) -> bool:
        return self._store_down_until is None

    async def decide(self, attributes: Mapping[str, str], hits: int = 1, *, consume: bool = True) -> Verdict:
        rules = self._rules().matching(attributes)
        if not rules:
            self.counts["unmatched"] += 1
            return Verdict(True, ())
        now = self._clock()
        decisions = await self._ask(rules, attributes, max(1, hits), now, consume)
        outcomes = tuple(
            Outcome(rule, decision if decision is not None else self._failed(rule), decision is None)
            for rule, decision in zip(rules, decisions, strict=True)
        )
        allowed = not any(o.refuses for o in outcomes)
        if consume:
            self._account(outcomes, allowed, attributes)
        return Verdict(allowed, outcomes)

    def _failed(self, rule: Rule) -> Decision | None:
        if rule.fail_mode is FailMode.CLOSED:
            self.counts["failed_closed"] += 1
            return fail_closed(rule)
        self.counts["failed_open"] += 1
        return None

    async def _ask(
        self, rules: list[Rule], attributes: Mapping[str, str], hits: int, now: float, consume: bool
    ) -> list[Decision | None]:
        if self._store_down_until is not None and self._monotonic() < self._store_down_until:
            return [None] * len(rules)
        calls = [
            self._store.hit(rule.counter(attributes), rule.limit, rule.cost * hits, now, consume=consume)
            for rule in rules
        ]
        try:
            async with asyncio.timeout(self._timeout_s):
                results = await asyncio.gather(*calls, return_exceptions=True)
        except TimeoutError:
            self._store_failed("timeout", f"no answer within {self._timeout_s * 1000:.0f} ms")
            return [None] * len(rules)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            self._store_failed(type(errors[0]).__name__, str(errors[0]))
        elif self._store_down_until is not None:
            self._store_down_until = None
            log.warning("ratelimit.store_recovered")
        return [r if isinstance(r, Decision) else None for r in results]

    def _store_failed(self, kind: str, detail: str) -> None:
        self.counts["store_errors"] += 1
        if self._store_down_until is None:
            log.error("ratelimit.store_failed", error=kind, detail=detail[:300], retry_s=self._retry_store_after_s)
        self._store_down_until = self._monotonic() + self._retry_store_after_s

    def _account(self, outcomes: tuple[Outcome, ...], allowed: bool, attributes: Mapping[str, str]) -> None:
        self.counts["allowed" if allowed else "limited"] += 1
        for outcome in outcomes:
            decision = outcome.decision
            if decision is None or decision.allowed:
                continue
            if outcome.rule.shadow:
                self.counts["shadow_limited"] += 1
                self.counts[f"shadow_limited:{outcome.rule.name}"] += 1
                log.info("ratelimit.shadow_limited", rule=outcome.rule.name, counter=outcome.rule.counter(attributes))
            else:
                self.counts[f"limited:{outcome.rule.name}"] += 1
                log.info(
                    "ratelimit.limited",
                    rule=outcome.rule.name,
                    counter=outcome.rule.counter(attributes),
                    retry_after_s=round(decision.retry_after_s, 3),
                    store_failed=outcome.store_failed,
                )

    async def reset(self, fragment: str) -> int:
        return await self._store.reset(fragment)

    async def clear(self) -> int:
        return await self._store.clear()


__all__ = ["Outcome", "RateLimiter", "Verdict", "fail_closed"]
