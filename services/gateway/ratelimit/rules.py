"""The rules file (YAML): parsing and validation, with every error naming its field.

```yaml
rules:
  - name: scans-per-principal          # unique; [A-Za-z0-9_.-]
    match:                             # descriptor key -> value or list of values; "x*" is a prefix
      rpc: /clearframe.scanner.v1.ScannerService/CreateScan
    key: [principal]                   # one counter per value of these keys
    strategy: gcra                     # token_bucket | fixed_window | sliding_window | gcra
    limit: 60
    window: 1m                         # 500ms, 30s, 1m, 1h, 1d or a number of seconds
    cost: 1                            # units one request takes (Envoy's hits_addend multiplies it)
    shadow: false                      # count and log refusals, never refuse
    fail_mode: open                    # open | closed: when the counter store cannot answer in time
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from services.gateway.ratelimit.domain import KNOWN_KEYS, FailMode, Limit, Rule, RuleSet, Strategy

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
RULE_FIELDS = ("name", "match", "key", "strategy", "limit", "window", "cost", "shadow", "fail_mode")
MAX_LIMIT = 10_000_000


class RulesError(ValueError):
    """The file is not a valid rules file; ``problems`` lists every error as ``field: why``."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def parse_duration(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    if isinstance(value, str):
        match = DURATION_RE.match(value)
        if match:
            seconds = float(match.group(1)) * UNITS[match.group(2)]
            return seconds if seconds > 0 else None
    return None


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    return None


def _rule(raw: object, where: str, problems: list[str]) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    before = len(problems)
    for unknown in sorted(set(map(str, raw)) - set(RULE_FIELDS)):
        problems.append(f"{where}.{unknown}: unknown field (known: {', '.join(RULE_FIELDS)})")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(f"{where}.name: required, 1-64 characters of A-Z a-z 0-9 _ . -")
    match: dict[str, tuple[str, ...]] = {}
    raw_match = raw.get("match", {})
    if not isinstance(raw_match, dict):
        problems.append(f"{where}.match: must be a mapping of descriptor key to value(s)")
    else:
        for key, value in raw_match.items():
            if key not in KNOWN_KEYS:
                problems.append(f"{where}.match.{key}: unknown descriptor key (known: {', '.join(sorted(KNOWN_KEYS))})")
                continue
            values = _strings(value)
            if values is None:
                problems.append(f"{where}.match.{key}: must be a non-empty string or list of strings")
                continue
            match[key] = values
    raw_key = raw.get("key", [])
    key = () if raw_key == [] else _strings(raw_key)
    if key is None:
        problems.append(f"{where}.key: must be a descriptor key or a list of them")
        key = ()
    for unknown in [k for k in key if k not in KNOWN_KEYS]:
        problems.append(f"{where}.key: unknown descriptor key {unknown!r} (known: {', '.join(sorted(KNOWN_KEYS))})")
    strategy = None
    try:
        strategy = Strategy(raw.get("strategy"))
    except ValueError:
        problems.append(f"{where}.strategy: required, one of {', '.join(s.value for s in Strategy)}")
    limit = raw.get("limit")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        problems.append(f"{where}.limit: required, an integer from 1 to {MAX_LIMIT}")
    window = parse_duration(raw.get("window"))
    if window is None:
        problems.append(f"{where}.window: required, a positive duration such as 500ms, 30s, 1m, 1h or 1d")
    cost = raw.get("cost", 1)
    if not isinstance(cost, int) or isinstance(cost, bool) or cost < 1:
        problems.append(f"{where}.cost: must be an integer of at least 1")
    shadow = raw.get("shadow", False)
    if not isinstance(shadow, bool):
        problems.append(f"{where}.shadow: must be true or false")
    fail_mode = FailMode.OPEN
    try:
        fail_mode = FailMode(raw.get("fail_mode", "open"))
    except ValueError:
        problems.append(f"{where}.fail_mode: must be open or closed")
    if len(problems) > before:
        return None
    assert isinstance(name, str) and strategy is not None and isinstance(limit, int) and window is not None
    return Rule(
        name=name,
        limit=Limit(strategy, limit, window),
        match=match,
        key=key,
        cost=int(cost),
        shadow=bool(shadow),
        fail_mode=fail_mode,
    )


def parse_rules(text: str, source: str = "rules") -> RuleSet:
    """The rules of a YAML document; raises :class:`RulesError` naming every bad field."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(source, [f"not valid YAML: {exc}"]) from exc
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise RulesError(source, ["the document must be a mapping with a `rules` list"])
    problems = [f"{k}: unknown top-level field (known: rules)" for k in sorted(map(str, document)) if k != "rules"]
    raw_rules = document.get("rules", [])
    if not isinstance(raw_rules, list):
        raise RulesError(source, [*problems, "rules: must be a list"])
    rules = [_rule(raw, f"rules[{index}]", problems) for index, raw in enumerate(raw_rules)]
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule is None:
            continue
        if rule.name in seen:
            problems.append(f"rules[{index}].name: duplicate name {rule.name!r}")
        seen.add(rule.name)
    if problems:
        raise RulesError(source, problems)
    return RuleSet(tuple(r for r in rules if r is not None), source=source)


def load_rules(path: Path) -> RuleSet:
    try:
        text = path.read_text()
    except OSError as exc:
        raise RulesError(str(path), [f"cannot be read: {exc.strerror or exc}"]) from exc
    return parse_rules(text, str(path))


__all__ = ["RulesError", "load_rules", "parse_duration", "parse_rules"]
