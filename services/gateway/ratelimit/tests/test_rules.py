"""The rules file: every error names its field; reload keeps the last good rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.gateway.ratelimit.domain import FailMode, Strategy, attributes_of
from services.gateway.ratelimit.reload import WatchedRules
from services.gateway.ratelimit.rules import RulesError, parse_duration, parse_rules
from services.gateway.settings import DEFAULT_RATELIMIT_RULES

GOOD = """
rules:
  - name: scans
    match: {rpc: [/clearframe.scanner.v1.ScannerService/CreateScan]}
    key: principal
    strategy: gcra
    limit: 10
    window: 1m
    cost: 2
    shadow: true
    fail_mode: closed
  - name: public
    match: {path: "/a/*"}
    key: [remote_address]
    strategy: token_bucket
    limit: 100
    window: 30s
"""


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as error:
        parse_rules(text)
    return error.value.problems


def test_a_good_file_parses_with_defaults() -> None:
    scans, public = parse_rules(GOOD).rules
    assert scans.limit.strategy is Strategy.GCRA and scans.limit.window_s == 60.0
    assert scans.key == ("principal",) and scans.cost == 2 and scans.shadow
    assert scans.fail_mode is FailMode.CLOSED
    assert public.fail_mode is FailMode.OPEN and public.cost == 1 and not public.shadow


def test_the_shipped_defaults_are_valid() -> None:
    names = {r.name for r in WatchedRules(DEFAULT_RATELIMIT_RULES).current().rules}
    assert {"failed-auth-per-address", "keyless-token-per-address", "scans-per-principal"} <= names
    assert {"public-delivery-per-address", "redirects-per-address"} <= names


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("limit: 10", "limit: 0"), "rules[0].limit"),
        (("limit: 10", "limit: ten"), "rules[0].limit"),
        (("window: 1m", "window: soon"), "rules[0].window"),
        (("window: 1m", "window: -5"), "rules[0].window"),
        (("strategy: gcra", "strategy: leaky"), "rules[0].strategy"),
        (("cost: 2", "cost: 0"), "rules[0].cost"),
        (("shadow: true", "shadow: maybe"), "rules[0].shadow"),
        (("fail_mode: closed", "fail_mode: sideways"), "rules[0].fail_mode"),
        (("key: principal", "key: user"), "rules[0].key"),
        (("match: {rpc:", "match: {route:"), "rules[0].match.route"),
        (("name: public", "name: scans"), "rules[1].name"),
        (("name: public", "name: 'has space'"), "rules[1].name"),
        (("    window: 30s", "    window: 30s\n    burst: 5"), "rules[1].burst"),
    ],
)
def test_every_error_names_its_field(change: tuple[str, str], field: str) -> None:
    found = problems(GOOD.replace(*change, 1))
    assert any(p.startswith(f"{field}:") for p in found), found


def test_all_errors_are_reported_at_once_and_bad_documents_too() -> None:
    assert len(problems(GOOD.replace("limit: 10\n", "limit: 0\n").replace("window: 30s", "window: x"))) == 2
    assert problems("rules: {}") == ["rules: must be a list"]
    assert problems("- a list") == ["the document must be a mapping with a `rules` list"]
    assert problems("rules: [\n")[0].startswith("not valid YAML")
    assert problems("rule: []")[0].startswith("rule: unknown top-level field")


def test_durations() -> None:
    assert parse_duration("500ms") == 0.5
    assert parse_duration("2h") == 7200.0
    assert parse_duration(15) == 15.0
    assert parse_duration("0s") is None and parse_duration(True) is None


def test_matching_exact_prefix_and_key_presence() -> None:
    scans, public = parse_rules(GOOD).rules
    grpc = attributes_of([("remote_address", "10.0.0.1"), ("path", "/clearframe.scanner.v1.ScannerService/CreateScan")])
    assert not scans.applies(grpc)  # anonymous: a per-principal rule does not apply
    assert scans.applies({**grpc, "principal": "bot@example.org"})
    rest = attributes_of([("remote_address", "10.0.0.1"), ("path", "/x.v1.S/M"), ("original_path", "/a/abc?x=1")])
    assert rest["path"] == "/a/abc" and rest["rpc"] == "/x.v1.S/M"
    assert public.applies(rest) and not public.applies({**rest, "path": "/ab"})
    assert public.counter(rest) == "public|remote_address=10.0.0.1|"


def test_reload_applies_changes_and_keeps_the_last_good_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    watched = WatchedRules(path, interval_s=0.01)
    assert not watched.check()  # unchanged
    path.write_text(GOOD.replace("limit: 10", "limit: 20"))
    assert watched.check()
    assert watched.current().rules[0].limit.limit == 20
    path.write_text(GOOD.replace("limit: 10", "limit: -1"))
    assert not watched.check()
    assert "rules[0].limit" in watched.last_error
    assert watched.current().rules[0].limit.limit == 20
    path.unlink()
    assert not watched.check() and "cannot be read" in watched.last_error
    path.write_text(GOOD)
    assert watched.check() and watched.last_error == ""


def test_an_invalid_file_at_start_stops_the_service_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD.replace("window: 1m", "window: never"))
    with pytest.raises(SystemExit, match=r"CLEARFRAME_RATELIMIT_RULES: .*rules\[0\]\.window"):
        WatchedRules(path)
