"""Asset delivery and publication: `GET /a/{id}` through Envoy vs. Envoy answering the same bytes from a
static `direct_response` route (same listener, same filter chain), 304 revalidations, and the time from
upload to APPROVED and to the renditions.

Both delivery targets are driven by the same asyncio HTTP client at the same concurrency, so the client's
own cost (on the same 2 cores) weighs on both alike.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from bench.stats import percentile

STATIC_PATH = "/bench/static.gif"


@dataclass(frozen=True)
class Throughput:
    requests_per_s: float
    p50_ms: float
    p99_ms: float


async def _load(base_url: str, path: str, n: int, concurrency: int, headers: dict[str, str], status: int) -> Throughput:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        for _ in range(concurrency):  # warm-up: open the connections
            warm = await client.get(path, headers=headers)
            assert warm.status_code == status, (path, warm.status_code, warm.text[:200])
        latencies: list[float] = []
        queue = iter(range(n))

        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == status, (path, response.status_code, response.text[:200])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return Throughput(n / wall, statistics.median(latencies) * 1000, percentile(latencies, 0.99) * 1000)


def load(
    base_url: str, path: str, n: int, concurrency: int, headers: dict[str, str] | None = None, status: int = 200
) -> Throughput:
    return asyncio.run(_load(base_url, path, n, concurrency, headers or {}, status))


def wait_for(check: Any, timeout_s: float) -> float:
    """Seconds until ``check()`` is truthy (polled every 20 ms)."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError("benchmark step did not finish in time")
        time.sleep(0.02)
    return time.perf_counter() - started


@dataclass(frozen=True)
class Publication:
    asset_id: str
    approved_s: float
    renditions_s: float


def publish(http: httpx.Client, api_key: str, model: str, data: bytes, content_type: str) -> Publication:
    """Upload, then time until APPROVED and until every rendition is READY."""
    headers = {"X-API-Key": api_key}
    started = time.perf_counter()
    created = http.post(
        "/v1/assets",
        params={"usage_intent": "store", "model_id": model},
        headers={**headers, "content-type": content_type},
        content=data,
    )
    created.raise_for_status()
    asset_id = created.json()["asset"]["asset_id"]

    def state() -> dict[str, Any]:
        answer = http.get(f"/v1/assets/{asset_id}", headers=headers)
        answer.raise_for_status()
        asset: dict[str, Any] = answer.json()["asset"]
        return asset

    wait_for(lambda: state()["moderation_status"] != "MODERATION_STATUS_PENDING", 300)
    approved = time.perf_counter() - started
    status = state()["moderation_status"]
    if status != "MODERATION_STATUS_APPROVED":
        raise RuntimeError(f"benchmark asset was {status}, not approved")

    def renditions_ready() -> bool:
        renditions = state()["renditions"]
        return bool(renditions) and all(r["state"] == "RENDITION_STATE_READY" for r in renditions)

    wait_for(renditions_ready, 600)
    return Publication(asset_id, approved, time.perf_counter() - started - approved)


def lenient_model(http: httpx.Client, admin_headers: dict[str, str], body: dict[str, Any]) -> str:
    model = "bench" + uuid.uuid4().hex[:8]
    http.put(f"/api/v1/analysis/config/store/{model}", headers=admin_headers, json=body).raise_for_status()
    return model


def takedown(http: httpx.Client, assets_key: str, review_key: str, asset_id: str) -> float:
    """Seconds from a reviewer's REJECTED decision on an approved asset until `/a/{id}` answers 404
    (polled every 20 ms, so the figure is an upper bound within that)."""
    scan_id = http.get(f"/v1/assets/{asset_id}", headers={"X-API-Key": assets_key}).json()["asset"]["scan_id"]
    started = time.perf_counter()
    decided = http.post(
        "/v1/decisions",
        headers={"X-API-Key": review_key},
        json={"scan_id": scan_id, "verdict": "VERDICT_REJECTED", "notes": "benchmark takedown"},
    )
    decided.raise_for_status()
    wait_for(lambda: http.get(f"/a/{asset_id}").status_code == 404, 30)
    return time.perf_counter() - started
