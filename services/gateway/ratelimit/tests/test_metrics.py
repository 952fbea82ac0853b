"""The limiter's counts as metric observations: outcomes alone, refusals per rule."""

from __future__ import annotations

from collections import Counter

from services.gateway.ratelimit.metrics import decisions, refusals

COUNTS = Counter({"allowed": 7, "limited": 2, "limited:scans": 2, "shadow_limited": 1, "shadow_limited:keys": 1})


def test_decisions_by_outcome_without_the_per_rule_keys() -> None:
    assert {o.attributes["outcome"]: o.value for o in decisions(COUNTS)} == {  # type: ignore[index]
        "allowed": 7,
        "limited": 2,
        "shadow_limited": 1,
    }


def test_refusals_by_rule_and_shadow() -> None:
    assert sorted((o.attributes["rule"], o.attributes["shadow"], o.value) for o in refusals(COUNTS)) == [  # type: ignore[index]
        ("keys", "true", 1),
        ("scans", "false", 2),
    ]
