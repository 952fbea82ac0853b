"""Short-link redirects: `GET /s/{code}` through Envoy → sharelinks vs. Envoy answering a 302 itself
(`direct_response` on the same listener and filter chain), and the same redirect with the analytics
service stopped (clicks then wait in the sender's buffer: the redirect must not notice).

The redirect is not followed: what is measured is the short link's own answer.
"""

from __future__ import annotations

import subprocess

import httpx

from bench.delivery import Throughput, load

STATIC_REDIRECT_PATH = "/bench/redirect"
CONCURRENCY = 32


def create_link(http: httpx.Client, api_key: str, asset_id: str) -> str:
    created = http.post("/v1/links", headers={"X-API-Key": api_key}, json={"asset_id": asset_id})
    created.raise_for_status()
    code: str = created.json()["link"]["code"]
    return code


def redirects(base_url: str, code: str, n: int) -> Throughput:
    return load(base_url, f"/s/{code}", n, CONCURRENCY, {"user-agent": "Mozilla/5.0 (bench)"}, status=302)


def static_redirects(base_url: str, n: int) -> Throughput:
    return load(base_url, STATIC_REDIRECT_PATH, n, CONCURRENCY, status=302)


def stop_service(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    process.terminate()
    process.wait(timeout=timeout_s)
