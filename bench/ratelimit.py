"""Rate limiting: what the gateway's limiter costs.

1. Decisions: ``ShouldRateLimit`` called over gRPC, ``CONCURRENCY`` calls at a time (one asyncio client),
   on a gateway companion process of its own (``python -m services.gateway`` on a free port) with
   in-memory counters, then with Redis counters (a redis-server of its own on a free port, no
   persistence). Each request is a descriptor like Envoy's (client address, gRPC path, principal, API key)
   from one of ``CLIENTS`` clients; ``RULES`` match every one of them and never refuse, so every decision
   is two real counter updates (per address and per principal). An answer without the
   ``x-ratelimit-remaining`` header is a decision the store did not answer in time (``RATELIMIT_TIMEOUT_S``,
   0.1 s), answered by the fail mode: the section reports how many there were.
2. The filter on a cheap route: ``GET /v1/caller`` with an API key (ext_authz, the transcoder, the auth
   service's GetCaller; no model, no database write) through Envoy's listener with the rate limit filter
   vs. a second listener of the same Envoy with the same routes and filters but no rate limit filter
   (``MeshOptions.gateway_unlimited_port``), in alternating rounds; the mesh counts in memory. Both are
   driven by the same asyncio HTTP client at the same concurrency.

Usage: ``python -m bench.ratelimit [--quick]`` prints the "## Rate limiting" section of BENCHMARKS.md;
``run(quick)`` returns its lines. It boots its own mesh on free ports (take the mesh lock).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx

from bench.stats import percentile
from clearframe_mesh.launcher import REPO_ROOT, Mesh, MeshOptions
from clearframe_mesh.process import dying_with_parent, free_port
from clearframe_mesh.readiness import wait_serving
from envoycompat import ratelimit_pb2, ratelimit_pb2_grpc

ADMIN_KEY = "cfk_bench-ratelimit-admin-0123456789abcdef"
CONCURRENCY = 16
#: Distinct clients (addresses and principals) the decisions cycle through.
CLIENTS = 256
ROUTE = "/v1/caller"
NO_PERSISTENCE = ("--save", "", "--appendonly", "no", "--dir")
RPC = "/clearframe.auth.v1.AuthService/GetCaller"
#: Every request matches both rules; the limits are far above anything the benchmark reaches.
RULES = """rules:
  - name: bench-per-address
    key: [remote_address]
    strategy: token_bucket
    limit: 10000000
    window: 1s
  - name: bench-per-principal
    key: [principal]
    strategy: gcra
    limit: 10000000
    window: 1s
"""


@dataclass(frozen=True)
class Measured:
    label: str
    per_s: float
    p50_ms: float
    p99_ms: float
    #: Decisions answered by a fail mode (the store did not answer in time), not by a counter.
    uncounted: int = 0

    def row(self) -> str:
        return f"| {self.label} | {self.per_s:.0f} | {self.p50_ms:.2f} | {self.p99_ms:.2f} |"


def _summary(label: str, latencies: list[float], wall_s: float, uncounted: int = 0) -> Measured:
    return Measured(
        label,
        len(latencies) / wall_s,
        statistics.median(latencies) * 1000,
        percentile(latencies, 0.99) * 1000,
        uncounted,
    )


# decisions ----------------------------------------------------------------------------------------------


def _request(i: int) -> ratelimit_pb2.RateLimitRequest:
    client = i % CLIENTS
    Entry = ratelimit_pb2.RateLimitDescriptor.Entry
    entries = [
        Entry(key="remote_address", value=f"10.{client // 65536}.{client // 256 % 256}.{client % 256}"),
        Entry(key="path", value=RPC),
        Entry(key="original_path", value=ROUTE),
        Entry(key="principal", value=f"apikey:bench{client:04d}"),
        Entry(key="api_key", value=f"bench{client:04d}"),
    ]
    return ratelimit_pb2.RateLimitRequest(
        domain="clearframe", descriptors=[ratelimit_pb2.RateLimitDescriptor(entries=entries)]
    )


async def _decide(target: str, n: int, concurrency: int) -> tuple[list[float], float, int]:
    """(latencies, wall time, answers without counter headers) of n decisions after a warm-up."""
    requests = [_request(i) for i in range(CLIENTS)]
    async with grpc.aio.insecure_channel(target) as channel:
        stub = ratelimit_pb2_grpc.RateLimitServiceStub(channel)
        OK = ratelimit_pb2.RateLimitResponse.OK
        latencies: list[float] = []
        uncounted = 0

        async def one(i: int) -> None:
            nonlocal uncounted
            started = time.perf_counter()
            answer = await stub.ShouldRateLimit(requests[i % CLIENTS], timeout=5)
            latencies.append(time.perf_counter() - started)
            if answer.overall_code != OK:
                raise RuntimeError(f"benchmark decision refused: {answer}")
            if not any(h.key == "x-ratelimit-remaining" for h in answer.response_headers_to_add):
                uncounted += 1

        queue = iter(range(n))

        async def worker() -> None:
            for i in queue:
                await one(i)

        for i in range(2 * CLIENTS):  # warm-up: the channel, the counters, Redis's script cache
            await one(i)
        latencies.clear()
        uncounted = 0
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started, uncounted


class _Redis:
    """A redis-server of the benchmark's own on a free port, no persistence."""

    def __init__(self, directory: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (the benchmark starts its own)")
        self.port = free_port()
        self.process = subprocess.Popen(
            dying_with_parent(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", *NO_PERSISTENCE, str(directory)]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, self.process)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _wait_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with code {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def _companion(workdir: Path, rules: Path, redis_url: str) -> tuple[subprocess.Popen[bytes], str]:
    """A gateway companion process (health, ShouldRateLimit, admin) on a free port."""
    target = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "CLEARFRAME_LISTEN": target,
        "CLEARFRAME_INTERNAL_SECRET": "bench-ratelimit-internal-secret",
        "CLEARFRAME_MESH_SERVICES": "",
        "CLEARFRAME_LOG_LEVEL": "WARNING",
        "CLEARFRAME_RATELIMIT_RULES": str(rules),
        "CLEARFRAME_RATELIMIT_REDIS_URL": redis_url,
        "CLEARFRAME_RATELIMIT_REDIS_PREFIX": "clearframe-bench:rl:",
        "PYTHONUNBUFFERED": "1",
    }
    log = (workdir / f"gateway-{'redis' if redis_url else 'memory'}.log").open("ab")
    process = subprocess.Popen(
        dying_with_parent([sys.executable, "-m", "services.gateway"]),
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    log.close()
    wait_serving(target, timeout_s=60, process=process)
    return process, target


def decisions(workdir: Path, n: int) -> list[Measured]:
    """Decisions/s and per-decision latency of the limiter with each counter store."""
    rules = workdir / "bench_rules.yaml"
    rules.write_text(RULES)
    redis = _Redis(workdir)
    results = []
    try:
        for label, url in (("in-memory counters", ""), ("Redis counters", redis.url)):
            process, target = _companion(workdir, rules, url)
            try:
                latencies, wall, uncounted = asyncio.run(_decide(target, n, CONCURRENCY))
            finally:
                process.terminate()
                process.wait(timeout=15)
            results.append(_summary(f"ShouldRateLimit, {label}", latencies, wall, uncounted))
            print(f"{results[-1].label}: {results[-1].per_s:.0f}/s, p99 {results[-1].p99_ms:.2f} ms", flush=True)
    finally:
        redis.stop()
    return results


# the filter on a route ----------------------------------------------------------------------------------


async def _round(base_url: str, n: int, headers: dict[str, str], limited: bool) -> tuple[list[float], float, int]:
    """(latencies, wall time, answers of the limited listener without the limiter's headers)."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    unlimited = 0
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def one() -> float:
            nonlocal unlimited
            started = time.perf_counter()
            response = await client.get(ROUTE, headers=headers)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (response.status_code, response.text[:200])
            # The limited listener's answers carry the limiter's headers (unless Envoy gave up waiting for
            # it: fail open after 0.5 s); the other listener's never do.
            if "ratelimit-policy" not in response.headers:
                assert limited is False or elapsed >= 0.4, dict(response.headers)
                unlimited += limited
            else:
                assert limited, dict(response.headers)
            return elapsed

        for _ in range(CONCURRENCY):  # warm-up: open the connections
            await one()
        latencies: list[float] = []
        queue = iter(range(n))

        async def worker() -> None:
            for _ in queue:
                latencies.append(await one())

        unlimited = 0
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return latencies, time.perf_counter() - started, unlimited


def route(workdir: Path, n: int, rounds: int) -> tuple[Measured, Measured, list[float]]:
    """GET /v1/caller through the listener with the rate limit filter and the one without, alternately;
    also each round's requests/s ratio (with / without), to show the run's own spread."""
    rules = workdir / "mesh_rules.yaml"
    rules.write_text(RULES)
    unlimited_port = free_port()
    mesh = Mesh(
        MeshOptions.free(
            workdir / "mesh",
            gateway_unlimited_port=unlimited_port,
            trace_keeper=False,  # measured as before: no span export to a local trace keeper
            extra_env={
                "CLEARFRAME_ADMIN_KEY": ADMIN_KEY,
                "CLEARFRAME_LOG_LEVEL": "WARNING",
                "CLEARFRAME_RATELIMIT_RULES": str(rules),
            },
        )
    )
    mesh.start()
    try:
        mesh.wait_ready(timeout=180)
        with httpx.Client(base_url=mesh.gateway_url, timeout=30) as http:
            created = http.post(
                "/v1/apikeys",
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                json={"display_name": "bench ratelimit", "permissions": ["moderation.read"]},
            )
            created.raise_for_status()
        headers = {"X-API-Key": created.json()["secret"]}
        unlimited_url = f"http://{mesh.options.host}:{unlimited_port}"
        pooled: dict[bool, tuple[list[float], float, int]] = {True: ([], 0.0, 0), False: ([], 0.0, 0)}
        ratios = []
        for _ in range(rounds):
            walls = {}
            for limited, url in ((True, mesh.gateway_url), (False, unlimited_url)):
                latencies, wall, uncounted = asyncio.run(_round(url, n, headers, limited))
                before = pooled[limited]
                pooled[limited] = (before[0] + latencies, before[1] + wall, before[2] + uncounted)
                walls[limited] = wall
            ratios.append(walls[False] / walls[True])
    finally:
        mesh.stop()
    with_filter = _summary(f"`GET {ROUTE}` through Envoy, rate limit filter (memory)", *pooled[True])
    without = _summary(f"`GET {ROUTE}`, same Envoy, listener without the filter", *pooled[False])
    for m in (with_filter, without):
        print(f"{m.label}: {m.per_s:.0f}/s, p50 {m.p50_ms:.2f} ms, p99 {m.p99_ms:.2f} ms", flush=True)
    return with_filter, without, ratios


# the section --------------------------------------------------------------------------------------------


def run(quick: bool) -> list[str]:
    """The "## Rate limiting" section of BENCHMARKS.md (boots a companion per store, then a mesh)."""
    n_decisions, n_route, rounds = (2000, 400, 2) if quick else (20000, 2000, 3)
    workdir = Path(tempfile.mkdtemp(prefix="clearframe-bench-ratelimit-"))
    try:
        memory, redis = decisions(workdir, n_decisions)
        limited, unlimited, ratios = route(workdir, n_route, rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return [
        f"## Rate limiting (concurrency {CONCURRENCY})",
        "",
        f"Decisions: `ShouldRateLimit` over gRPC on a gateway companion process of its own, {n_decisions} "
        f"decisions per store, each two counter updates (per address and per principal, {CLIENTS} clients, "
        "limits never reached: every decision a real update unless the store did not answer within 0.1 s).",
        "",
        "| target | decisions/s | p50 ms | p99 ms | answered by the fail mode |",
        "|---|---:|---:|---:|---:|",
        *(f"{m.row()} {m.uncounted} |" for m in (memory, redis)),
        "",
        f"- Redis vs. in memory: decisions/s ×{redis.per_s / memory.per_s:.2f}, "
        f"p50 ×{redis.p50_ms / memory.p50_ms:.2f}, p99 ×{redis.p99_ms / memory.p99_ms:.2f} "
        "(one Lua script call per rule and decision).",
        "",
        f"The filter on a cheap route: `GET {ROUTE}` with an API key (ext_authz → auth, transcoder, GetCaller; "
        f"no model) through one Envoy's two listeners, same routes and filters, one without the rate limit "
        f"filter; {rounds} alternating rounds of {n_route} requests each, pooled; the mesh counts in memory.",
        "",
        "| path | requests/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        limited.row(),
        unlimited.row(),
        "",
        *(
            [
                f"- {limited.uncounted} request(s) went on without the limiter's answer (Envoy waits 0.5 s, then lets "
                "the request through)."
            ]
            if limited.uncounted
            else []
        ),
        f"- With the filter vs. without: requests/s ×{limited.per_s / unlimited.per_s:.2f}, "
        f"p50 ×{limited.p50_ms / unlimited.p50_ms:.2f} ({limited.p50_ms - unlimited.p50_ms:+.2f} ms), "
        f"p99 ×{limited.p99_ms / unlimited.p99_ms:.2f} ({limited.p99_ms - unlimited.p99_ms:+.2f} ms). "
        "The client (Python, asyncio) shares the cores with Envoy and the services in both.",
        f"- Requests/s with vs. without, round by round: {', '.join(f'×{r:.2f}' for r in ratios)}; a difference "
        "inside that spread is the machine's noise, not the filter.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    args = parser.parse_args()
    print("\n".join(run(args.quick)))


if __name__ == "__main__":
    main()
