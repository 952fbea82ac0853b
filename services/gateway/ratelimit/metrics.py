"""The rate limiter's decisions as metrics, read from the limiter's own counts at each collection (the
decision path stays as it is):

- ``clearframe_ratelimit_decisions_total`` by ``outcome``: allowed, limited, shadow_limited, unmatched,
  store_errors, failed_open, failed_closed;
- ``clearframe_ratelimit_refusals_total`` by ``rule`` and ``shadow`` (true: would have refused): one
  decision may be refused by several rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

meter = metrics.get_meter("clearframe.ratelimit")
_PER_RULE = {"limited": "false", "shadow_limited": "true"}


def decisions(counts: Counter[str]) -> list[Observation]:
    return [Observation(value, {"outcome": key}) for key, value in counts.items() if ":" not in key]


def refusals(counts: Counter[str]) -> list[Observation]:
    found = []
    for key, value in counts.items():
        outcome, _, rule = key.partition(":")
        if rule and outcome in _PER_RULE:
            found.append(Observation(value, {"rule": rule, "shadow": _PER_RULE[outcome]}))
    return found


def observe_decisions(counts: Callable[[], Counter[str]]) -> None:
    def of(read: Callable[[Counter[str]], list[Observation]]) -> Callable[[CallbackOptions], Iterable[Observation]]:
        return lambda options: read(counts())

    meter.create_observable_counter(
        "clearframe.ratelimit.decisions", [of(decisions)], unit="{decision}",
        description="Rate-limit decisions by outcome",
    )  # fmt: skip
    meter.create_observable_counter(
        "clearframe.ratelimit.refusals", [of(refusals)], unit="{decision}",
        description="Refusals (and shadow refusals) by rule",
    )  # fmt: skip
