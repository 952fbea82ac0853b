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
                    if verb:
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
