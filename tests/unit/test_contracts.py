"""The contracts: buf lint is clean and the committed generated code matches protos/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_stubs_and_descriptor_are_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_protos.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_seed_routes_are_bound_exactly() -> None:
    from google.api import annotations_pb2
    from google.protobuf import descriptor_pb2

    files = descriptor_pb2.FileDescriptorSet.FromString(
        (ROOT / "services/gateway/generated/clearframe.binpb").read_bytes()
    )
    bindings = set()
    for proto in files.file:
        for service in proto.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                rules = [rule, *rule.additional_bindings]
                for r in rules:
                    verb = r.WhichOneof("pattern")
                    if verb == "custom":
                        bindings.add((r.custom.kind, r.custom.path))
                    elif verb:
                        bindings.add((verb.upper(), getattr(r, verb)))
    base = "/api/v1/analysis/config"
    expected = {
        ("GET", "/token"),
        ("POST", "/check"),
        ("POST", "/batch"),
        ("GET", "/stats"),
        ("GET", f"{base}/{{usage_intent}}"),
        ("PUT", f"{base}/{{usage_intent}}"),
        ("DELETE", f"{base}/{{usage_intent}}"),
        ("GET", f"{base}/{{usage_intent}}/{{model_id}}"),
        ("PUT", f"{base}/{{usage_intent}}/{{model_id}}"),
        ("DELETE", f"{base}/{{usage_intent}}/{{model_id}}"),
        ("GET", f"{base}/{{usage_intent}}/audit"),
        ("POST", f"{base}/validate"),
        ("POST", f"{base}/cache/clear"),
    }
    assert expected <= bindings, expected - bindings


# --- the access table -----------------------------------------------------------------------------------


def _rpc_paths() -> set[str]:
    from clearframe_runtime.access import contract_methods, contract_services

    return {f"/{m.containing_service.full_name}/{m.name}" for m in contract_methods(contract_services())}


def test_every_rpc_of_every_service_has_an_access_rule_and_every_rule_an_rpc() -> None:
    from clearframe_runtime.access import RULES

    rpcs = _rpc_paths()
    assert len(rpcs) > 60
    assert sorted(rpcs - set(RULES)) == [], "RPCs without an access rule (add them to clearframe_runtime.access.RULES)"
    assert sorted(set(RULES) - rpcs) == [], "rules for RPCs that no contract has"


def test_the_readme_lists_exactly_the_permissions_of_the_table() -> None:
    import re

    from clearframe_runtime.access import used_permissions
    from clearframe_runtime.principal import PERMISSIONS

    readme = (ROOT / "README.md").read_text()
    paragraph = readme[readme.index("\nPermissions") :].split("\n\n", 1)[0]
    listed = set(re.findall(r"`([a-z]+(?:\.[a-z]+)?)`", paragraph))
    assert listed == set(PERMISSIONS) == set(used_permissions())


def test_the_proto_comments_name_the_permissions_of_the_table() -> None:
    """Every `Needs …` sentence in a contract's RPC comment says what the table decides."""
    import re

    from clearframe_runtime.access import RULES

    checked = 0
    for proto in sorted((ROOT / "protos").rglob("*.proto")):
        text = proto.read_text()
        package = re.search(r"^package ([\w.]+);", text, re.M)
        assert package is not None
        service = ""
        comment: list[str] = []
        for line in text.splitlines():
            stripped = line.strip()
            if match := re.match(r"service (\w+)", stripped):
                service = match.group(1)
            if stripped.startswith("//"):
                comment.append(stripped[2:].strip())
                continue
            if match := re.match(r"rpc (\w+)\(", stripped):
                sentence = re.search(r"Needs ((?:`[\w.]+`(?:,? or |, )?)+)", " ".join(comment))
                rule = RULES[f"/{package.group(1)}.{service}/{match.group(1)}"]
                # A public RPC's comment describes the servicer's own policy (LegacyGetToken's allow-list).
                if sentence and not rule.public:
                    named = set(re.findall(r"`([\w.]+)`", sentence.group(1)))
                    assert named == set(rule.any_of), (proto.name, match.group(1), named, rule.describe())
                    checked += 1
            comment = []
    assert checked > 40


def test_the_seed_000_dialect_covers_exactly_the_four_seed_routes() -> None:
    from clearframe_runtime.access import Dialect, rest_routes

    seed = {(r.verb, r.template) for r in rest_routes() if r.rule.dialect is Dialect.SEED_000}
    assert seed == {("GET", "/token"), ("POST", "/check"), ("POST", "/batch"), ("GET", "/stats")}
    musenest = {r.template for r in rest_routes() if r.rule.dialect is Dialect.MUSENEST}
    assert musenest and all(t.startswith("/api/v1/analysis/config") for t in musenest)
