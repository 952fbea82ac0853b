"""The gateway's rate limits counting in Redis, through Envoy: a Redis of the test's own is stopped under a
running mesh, then started again.

While Redis is down every request is still answered promptly: rules that fail open let it through (no
rate limit headers: nothing was counted), a rule with ``fail_mode: closed`` refuses with 429 and
``Retry-After: 1``; the gateway reports the store unavailable. Once Redis is back the next request after
the pause (``CLEARFRAME_RATELIMIT_RETRY_STORE_S``) counts in it again, without a restart.

This module boots a mesh of its own (the session mesh counts in memory), with a redis-server on a free
port that only it uses (the shared Redis is never touched).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from clearframe_mesh.launcher import Mesh, MeshOptions
from clearframe_mesh.process import dying_with_parent, free_port
from clearframe_runtime.testing import PostgresRequired, postgres_url, temporary_postgres_database
from tests.conftest import ADMIN_KEY, make_key

#: Requests must be answered well within this while Redis is down (Envoy waits 0.5 s for the limiter,
#: the limiter 0.1 s for Redis; the rest is the machine's load).
ANSWER_WITHIN_S = 1.5
RETRY_STORE_S = 0.5
RULES = """rules:
  - name: caller-per-principal
    match: {rpc: /clearframe.auth.v1.AuthService/GetCaller}
    key: [principal]
    strategy: fixed_window
    limit: 100000
    window: 1m
  - name: delivery-per-address
    match: {path: "/a/*"}
    key: [remote_address]
    strategy: token_bucket
    limit: 100000
    window: 1m
    fail_mode: closed
"""
MISSING_ASSET = "/a/0123456789abcdef"


class OwnRedis:
    """A redis-server on a free port, no persistence; stop() and start() keep the port."""

    def __init__(self, directory: Path):
        self.no_persistence = ("--save", "", "--appendonly", "no", "--dir", str(directory))
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (this test starts its own)")
        self.binary, self.port = binary, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            dying_with_parent([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *self.no_persistence]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_mesh(tmp_path_factory: pytest.TempPathFactory, redis_server: OwnRedis) -> Iterator[Mesh]:
    workdir = tmp_path_factory.mktemp("redis-mesh")
    rules = workdir / "ratelimit_rules.yaml"
    rules.write_text(RULES)
    with ExitStack() as stack:
        try:
            server_url = postgres_url()
        except PostgresRequired as exc:
            pytest.fail(str(exc))
        database = stack.enter_context(temporary_postgres_database(server_url)) if server_url else None
        mesh = Mesh(
            MeshOptions.free(
                workdir,
                database_url=database,
                extra_env={
                    "CLEARFRAME_ADMIN_KEY": ADMIN_KEY,
                    "CLEARFRAME_RATELIMIT_RULES": str(rules),
                    "CLEARFRAME_RATELIMIT_REDIS_URL": redis_server.url,
                    "CLEARFRAME_RATELIMIT_RETRY_STORE_S": str(RETRY_STORE_S),
                },
            )
        )
        stack.callback(mesh.stop)
        mesh.start()
        mesh.wait_ready(timeout=120)
        yield mesh


def _status(http: httpx.Client) -> dict[str, object]:
    response = http.get("/v1/ratelimit/status", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _timed(http: httpx.Client, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    started = time.monotonic()
    response = http.get(path, headers=headers or {})
    elapsed = time.monotonic() - started
    assert elapsed < ANSWER_WITHIN_S, f"{path} took {elapsed:.2f} s"
    return response


def _counted_in_redis(redis_server: OwnRedis) -> list[str]:
    import redis

    client = redis.Redis(port=redis_server.port, socket_timeout=2)
    try:
        return sorted(k.decode() for k in client.scan_iter(match="clearframe:rl:*"))
    finally:
        client.close()


def test_redis_down_fails_open_and_closed_in_time_then_counts_again(redis_mesh: Mesh, redis_server: OwnRedis) -> None:
    with httpx.Client(base_url=redis_mesh.gateway_url, timeout=30) as http:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        caller = {"Authorization": f"Bearer {make_key(http, admin, 'moderation.read')}"}

        # Redis up: both rules count there.
        answer = _timed(http, "/v1/caller", caller)
        assert answer.status_code == 200 and '"caller-per-principal"' in answer.headers["ratelimit-policy"]
        delivery = _timed(http, MISSING_ASSET)
        assert delivery.status_code == 404 and '"delivery-per-address"' in delivery.headers["ratelimit-policy"]
        keys = _counted_in_redis(redis_server)
        assert any("caller-per-principal" in k for k in keys) and any("delivery-per-address" in k for k in keys)
        status = _status(http)
        assert status["store"] == "redis" and status["store_available"] is True

        redis_server.stop()
        for _ in range(5):
            # Fail open: answered, nothing counted, so no rate limit headers.
            answer = _timed(http, "/v1/caller", caller)
            assert answer.status_code == 200, answer.text
            assert "ratelimit-policy" not in answer.headers
            # Fail closed: refused at once.
            refused = _timed(http, MISSING_ASSET)
            assert refused.status_code == 429, refused.text
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["details"][0]["metadata"]["rule"] == "delivery-per-address"
        status = _status(http)
        assert status["store_available"] is False
        counts = status["counts"]
        assert isinstance(counts, dict)
        assert int(counts["store_errors"]) >= 1
        assert int(counts["failed_open"]) >= 5 and int(counts["failed_closed"]) >= 5

        redis_server.start()
        deadline = time.monotonic() + 10
        while True:
            answer = _timed(http, "/v1/caller", caller)
            if "ratelimit-policy" in answer.headers or time.monotonic() > deadline:
                break
            time.sleep(RETRY_STORE_S / 2)
        assert answer.status_code == 200 and '"caller-per-principal"' in answer.headers["ratelimit-policy"]
        delivery = _timed(http, MISSING_ASSET)
        assert delivery.status_code == 404, delivery.text
        assert _status(http)["store_available"] is True
        # The counters live in the new (empty) Redis again.
        assert any("delivery-per-address" in k for k in _counted_in_redis(redis_server))
