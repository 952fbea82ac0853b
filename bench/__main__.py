"""Measure Clearframe against its baselines in one run and write BENCHMARKS.md.

1. Image check: `POST /check` through Envoy vs. the same two models (NudeNet 320n + OpenNSFW, same
   pre/post-processing) called on Triton directly vs. run in-process with onnxruntime: p50/p95 latency
   at concurrency 1 and images/s at concurrency 8, on the same photos.
2. GIF and video: `POST /batch` through Envoy vs. the seed's method — ffmpeg writes every frame as a PNG
   file, then the sampled frames are scanned one by one in-process (NudeDetector + OpenNSFW) — on the
   same clips, with the same sampled frames.
3. Delivery (bench/delivery.py): `GET /a/{id}` of a ~500 KB GIF through Envoy vs. Envoy's own
   `direct_response` of the same bytes, at concurrency 16; 304 revalidations; upload → APPROVED and
   rendition times for a GIF and a 10-s video.
4. Short links (bench/links.py): `GET /s/{code}` through Envoy vs. Envoy's own `direct_response` 302, at
   concurrency 32; then the same with the analytics service stopped.

Usage: `python -m bench [--quick] [--out BENCHMARKS.md]`. It boots its own mesh on free ports.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import delivery, links, sections
from bench.scanning import ADMIN_KEY, PHOTOS, Direct, legacy_token, mesh_options, run, running_mesh, seed_method
from bench.stats import percentile
from tests.media_samples import animated_gif, encoded, panning_gif, video
from tests.test_moderation import config as scoring_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    n1, n8, media_runs = (8, 16, 1) if args.quick else (40, 96, 3)

    workdir = Path(tempfile.mkdtemp(prefix="clearframe-bench-"))
    big_gif = panning_gif()  # a photographic GIF of about 500 KB
    static_file = workdir / "static.gif"
    static_file.write_bytes(big_gif)
    options = mesh_options(
        workdir,
        gateway_static_files=((delivery.STATIC_PATH, str(static_file)),),
        gateway_static_redirects=((links.STATIC_REDIRECT_PATH, "/a/0123456789abcdef"),),
    )
    with running_mesh(options) as mesh:
        http = httpx.Client(base_url=mesh.gateway_url, timeout=120)
        token = legacy_token(http)
        images = [encoded(name, "JPEG", quality=90) for name in PHOTOS]
        direct = Direct(mesh.triton.grpc_url)

        def via_envoy(data: bytes) -> object:
            response = http.post(
                "/check", headers={"Authorization": token}, files={"image": ("a.jpg", data, "image/jpeg")}
            )
            response.raise_for_status()
            return response

        rows = []
        for label, fn in (
            ("/check through Envoy", via_envoy),
            ("Triton directly", direct.via_triton),
            ("in-process onnxruntime", direct.in_process),
        ):
            latencies, _ = run(fn, images, n1, 1)
            _, wall = run(fn, images, n8, 8)
            rows.append((label, statistics.median(latencies) * 1000, percentile(latencies, 0.95) * 1000, n8 / wall))
            print(f"{label}: p50 {rows[-1][1]:.1f} ms, p95 {rows[-1][2]:.1f} ms, {rows[-1][3]:.1f} img/s", flush=True)

        gif = animated_gif(60, size=(320, 240))
        clip = video(workdir / "clip.mp4", frames=300, fps=30, size=(640, 480))
        media_rows = []
        for label, data, suffix, mime, step, source_frames in (
            ("GIF, 60 frames 320×240", gif, ".gif", "image/gif", 5, 60),
            ("MP4, 10 s 640×480 30 fps", clip, ".mp4", "video/mp4", 20, 300),
        ):
            ours, seeds, scanned = [], [], 0
            for _ in range(media_runs):
                started = time.perf_counter()
                response = http.post(
                    "/batch", headers={"Authorization": token}, files={"file": ("m" + suffix, data, mime)}
                )
                response.raise_for_status()
                ours.append(time.perf_counter() - started)
                # Seed 000's frameCount: frames extracted, capped at 60 (not the frames scanned).
                assert response.json()["frameCount"] == min(source_frames, 60), response.json()
                started = time.perf_counter()
                scanned = seed_method(data, suffix, step)
                seeds.append(time.perf_counter() - started)
            media_rows.append((label, scanned, statistics.median(ours), statistics.median(seeds)))
            print(f"{label}: clearframe {media_rows[-1][2]:.2f} s, seed {media_rows[-1][3]:.2f} s", flush=True)

        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        model = delivery.lenient_model(http, admin, scoring_config(0, webhooks=False))
        key = http.post("/v1/apikeys", headers=admin, json={"display_name": "bench", "permissions": ["assets.write"]})
        key.raise_for_status()
        api_key = key.json()["secret"]
        published = [
            (label, delivery.publish(http, api_key, model, data, mime))
            for label, data, mime in (
                (f"GIF, 12 frames 288×216, {len(big_gif) // 1024} KB", big_gif, "image/gif"),
                ("MP4, 10 s 640×480 30 fps", clip, "video/mp4"),
            )
        ]
        for label, publication in published:
            print(f"{label}: approved {publication.approved_s:.2f} s, renditions {publication.renditions_s:.2f} s")
        asset_path = f"/a/{published[0][1].asset_id}"
        n_get = 400 if args.quick else 2000
        served = delivery.load(mesh.gateway_url, asset_path, n_get, 16)
        static = delivery.load(mesh.gateway_url, delivery.STATIC_PATH, n_get, 16)
        etag = http.get(asset_path).headers["etag"]
        revalidated = delivery.load(mesh.gateway_url, asset_path, n_get, 16, {"if-none-match": etag}, status=304)
        code = links.create_link(http, api_key, published[1][1].asset_id)
        redirected = links.redirects(mesh.gateway_url, code, n_get)
        static_redirected = links.static_redirects(mesh.gateway_url, n_get)
        links.stop_service(mesh.processes["analytics"])
        without_analytics = links.redirects(mesh.gateway_url, code, n_get)
        clicks = int(http.get(f"/v1/links/{code}", headers={"X-API-Key": api_key}).json()["link"]["clicks"])
        redirect_ratio = redirected.requests_per_s / static_redirected.requests_per_s
        analytics_ratio = without_analytics.requests_per_s / redirected.requests_per_s
        print(
            f"redirects: {redirected.requests_per_s:.0f}/s (p99 {redirected.p99_ms:.1f} ms) vs static "
            f"{static_redirected.requests_per_s:.0f}/s; analytics stopped {without_analytics.requests_per_s:.0f}/s"
        )
        reviewer = http.post(
            "/v1/apikeys",
            headers=admin,
            json={"display_name": "bench review", "permissions": ["moderation.read", "moderation.review"]},
        )
        reviewer.raise_for_status()
        taken_down = delivery.takedown(http, api_key, reviewer.json()["secret"], published[0][1].asset_id)
        print(f"takedown: delivery stopped {taken_down * 1000:.0f} ms after the decision")
        print(
            f"delivery: {served.requests_per_s:.0f}/s vs static {static.requests_per_s:.0f}/s, "
            f"304 {revalidated.requests_per_s:.0f}/s"
        )

    envoy, triton, local = rows
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {_cpus()} CPU cores, no GPU "
        f"(Triton on CPU through the python backend), Python {sys.version.split()[0]}.",
        f"Command: `make bench` (`python -m bench{' --quick' if args.quick else ''}`); medians of "
        f"{n1} calls at concurrency 1, throughput over {n8} calls at concurrency 8, "
        f"media medians of {media_runs} run(s).",
        "",
        "## Image check (same photos, same two models, same pre/post-processing)",
        "",
        "| path | p50 ms | p95 ms | images/s at 8 |",
        "|---|---:|---:|---:|",
        *(f"| {label} | {p50:.1f} | {p95:.1f} | {rate:.1f} |" for label, p50, p95, rate in rows),
        "",
        f"- Everything Clearframe adds on top of Triton (gateway, auth, multipart, hardened decode, the other "
        f"analyzers: age, PDQ/pHash, text; tag statistics, image storage): p50 ×{envoy[1] / triton[1]:.2f} of Triton "
        f"directly ({(envoy[1] - triton[1]) / envoy[1] * 100:.0f}% of the latency), "
        f"throughput ×{envoy[3] / triton[3]:.2f}.",
        f"- Triton directly vs. in-process onnxruntime: p50 ×{triton[1] / local[1]:.2f}, throughput "
        f"×{triton[3] / local[3]:.2f}.",
        "",
        "## GIF / video scan vs. the seed's method (same clip, same sampled frames)",
        "",
        "| media | frames scanned | Clearframe /batch s | seed method s | speed-up |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {label} | {frames} | {ours:.2f} | {seed:.2f} | ×{seed / ours:.1f} |"
            for label, frames, ours, seed in media_rows
        ),
        "",
        "The seed's method writes every decoded frame as a PNG file and scans the sampled ones one at a time;",
        "Clearframe decodes in memory through pipes, streams the sampled frames as raw RGB, and batches them to",
        "Triton while decoding goes on.",
        "",
        f"## Asset delivery (`GET /a/{{id}}`, {len(big_gif) // 1024} KB GIF, concurrency 16, {n_get} requests each)",
        "",
        "| path | requests/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *(
            f"| {label} | {t.requests_per_s:.0f} | {t.p50_ms:.1f} | {t.p99_ms:.1f} |"
            for label, t in (
                ("/a/{id} through Envoy → sharelinks", served),
                ("Envoy direct_response, same bytes", static),
            )
        ),
        f"| /a/{{id}} revalidation (If-None-Match → 304) | {revalidated.requests_per_s:.0f} | "
        f"{revalidated.p50_ms:.1f} | {revalidated.p99_ms:.1f} |",
        "",
        f"- Delivery vs. Envoy alone: requests/s ×{served.requests_per_s / static.requests_per_s:.2f} (goal ≥ 0.5), "
        f"p99 ×{served.p99_ms / static.p99_ms:.1f}. The client (Python, asyncio) shares the 2 cores with Envoy and "
        "the service in both runs.",
        "",
        f"- Takedown: `/a/{{id}}` answered 404 {taken_down * 1000:.0f} ms after a reviewer's REJECTED decision "
        "(the decision's own request included; polled every 20 ms).",
        "",
        "## Publication (upload → APPROVED, then all six renditions)",
        "",
        "| media | upload → APPROVED s | renditions s |",
        "|---|---:|---:|",
        *(f"| {label} | {p.approved_s:.2f} | {p.renditions_s:.2f} |" for label, p in published),
        "",
        f"## Short-link redirects (`GET /s/{{code}}` → 302, concurrency {links.CONCURRENCY}, {n_get} requests each)",
        "",
        "| path | requests/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *(
            f"| {label} | {t.requests_per_s:.0f} | {t.p50_ms:.1f} | {t.p99_ms:.1f} |"
            for label, t in (
                ("/s/{code} through Envoy → sharelinks", redirected),
                ("Envoy direct_response 302", static_redirected),
                ("/s/{code}, analytics service stopped", without_analytics),
            )
        ),
        "",
        f"- Redirects vs. Envoy alone: requests/s ×{redirect_ratio:.2f} "
        f"(goal ≥ 0.5), p99 {redirected.p99_ms:.1f} ms (goal ≤ 25 ms).",
        f"- Analytics stopped vs. running: requests/s ×{analytics_ratio:.2f} "
        "(goal: within 10%); clicks wait in the sender's buffer.",
        f"- Clicks counted on the link after the runs: {clicks} of {2 * (n_get + links.CONCURRENCY)} redirects "
        "(warm-up included; exact).",
        "",
    ]
    # Benchmarks that boot their own mesh (bench/sections.py), after this one's is stopped.
    for section in sections.measure(sections.MODULES, args.quick):
        lines += [*([] if lines[-1] == "" else [""]), *section]
    args.out.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"wrote {args.out}")


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
