"""The shared runtime on its own: principal signing, settings, error mapping, graceful stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from clearframe_mesh.process import free_port
from clearframe_mesh.readiness import wait_serving
from clearframe_runtime.errors import InvalidArgument
from clearframe_runtime.principal import Principal, PrincipalCodec
from clearframe_runtime.status import to_status
from services.auth.domain import CredentialSource, parse_credential


def test_principal_round_trip_and_tampering() -> None:
    codec = PrincipalCodec("a-secret-of-enough-length")
    principal = Principal("alice@example.org", "token", frozenset({"scans.create"}), "10.0.0.1")
    value, signature = codec.encode(principal)
    assert codec.decode(value, signature) == principal
    assert codec.decode(value, signature[:-2] + "AA") is None
    assert PrincipalCodec("another-secret-of-length").decode(value, signature) is None
    old_value, old_signature = codec.encode(principal, now=time.time() - 3600)
    assert codec.decode(old_value, old_signature) is None


def test_admin_implies_every_permission() -> None:
    assert Principal("root", "api_key", frozenset({"admin"})).has("config.delete")
    assert not Principal("bot", "token", frozenset({"scans.create"})).has("config.read")


def test_short_internal_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        PrincipalCodec("short")


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"authorization": "Bearer abc"}, "", ("abc", CredentialSource.BEARER)),
        ({"authorization": "bearer abc"}, "", ("abc", CredentialSource.BEARER)),
        ({"authorization": "abc"}, "", ("abc", CredentialSource.BARE)),
        ({"x-api-key": "k"}, "", ("k", CredentialSource.API_KEY_HEADER)),
        ({}, "limit=5&api_key=q%2Bk", ("q+k", CredentialSource.API_KEY_QUERY)),
        ({}, "limit=5", None),
        ({"authorization": "Basic dXNlcjpwYXNz"}, "", None),
    ],
)
def test_credential_parsing(headers: dict[str, str], query: str, expected: tuple[str, CredentialSource] | None) -> None:
    found = parse_credential(headers, query)
    if expected is None:
        assert found is None
    else:
        assert found is not None and (found.secret, found.source) == expected


def test_invalid_argument_names_the_field() -> None:
    status = to_status(InvalidArgument("bad weight", field="scoring_config.detection_weights.GENITALIA"))
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    assert b"scoring_config.detection_weights.GENITALIA" in dict(status.trailing_metadata)["grpc-status-details-bin"]


def _run_auth(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.auth"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_missing_required_setting_fails_fast_naming_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLEARFRAME_INTERNAL_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "services.auth"],
        env={**env, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CLEARFRAME_INTERNAL_SECRET" in result.stderr


def test_service_drains_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "CLEARFRAME_INTERNAL_SECRET": "x" * 32,
        "CLEARFRAME_LISTEN": f"127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite:///{tmp_path}/a.db",
        "CLEARFRAME_ADMIN_KEY": "k" * 30,
    }
    with _run_auth(env) as process:  # closes the pipes and reaps the process however the test ends
        try:
            wait_serving(f"127.0.0.1:{port}", timeout_s=30, process=process)
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=15)
            assert process.returncode == 0
            log = err.decode()
            assert '"event": "server.draining"' in log and '"event": "server.stopped"' in log
        finally:
            if process.poll() is None:
                process.kill()


def test_a_free_mesh_gets_distinct_ports() -> None:
    from dataclasses import astuple
    from pathlib import Path

    from clearframe_mesh.launcher import MeshOptions

    for _ in range(20):
        options = MeshOptions.free(Path("unused"))
        ports = [
            options.envoy_port,
            options.envoy_admin_port,
            *astuple(options.triton_ports),
            *options.service_ports.values(),
            *options.metrics_ports.values(),
            options.traces_grpc_port,
            options.traces_http_port,
        ]
        assert len(set(ports)) == len(ports)
