"""Scan throughput: the scanner's whole image work against a baseline doing the same work, GIF and video
scans against the seed's method, and how the cost of a scan grows with the media.

1. Images (the photos of bench/__main__.py's image check, JPEG): every analyzer the scanner runs on an
   image — NudeNet, OpenNSFW, age on NudeNet's faces, PDQ and pHash — with the scanner's own pre/post-
   processing (imported from services/scanner/analyzers), called in-process with onnxruntime, then with
   the three models on Triton directly (PDQ and pHash, which have no model, in the caller), then
   `POST /check` through Envoy. p50 at concurrency 1, images/s at concurrency 8.
2. GIF (60 frames 320×240, 13 scanned) and 10-s video (300 frames 640×480, 16 scanned): `POST /batch`
   through Envoy against the seed's method (bench/scanning.py's ``seed_method``) on the same clips.
3. Scaling: `POST /v1/scans` through Envoy of generated media (bench/samples.py): mosaics of 0.3, 1, 4
   and 12 megapixels as JPEG and PNG, and pans of 10, 60, 300 and 3000 frames as MP4 and GIF. Each row
   shows the client's time and the per-analyzer wall times the scan result reports, so the table shows
   where the time goes. Media over the upload limit are listed, not sent.

Usage: ``python -m bench.scan [--quick]`` prints the "## Scan throughput" section of BENCHMARKS.md;
``run(quick)`` returns its lines (``python -m bench.sections scan`` puts it in place). It boots its own
mesh on free ports (take the mesh lock).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import samples, scanning
from bench.scanning import PHOTOS, Direct, api_key, legacy_token, mesh_options, running_mesh, seed_method
from bench.stats import percentile
from services.scanner.domain.scans import ScanLimits
from services.scanner.settings import ScannerSettings
from tests.media_samples import animated_gif, encoded, video

HEADING = "## Scan throughput"
LIMITS = ScanLimits()
#: Analyzers of a scan result, in the order the tables show them.
ANALYZERS = ("nudenet", "opennsfw", "age", "pdq", "text")
#: Analyzers the pipeline runs side by side on a batch of frames (age waits for NudeNet's faces).
FIRST_WAVE = ("nudenet", "opennsfw", "pdq")
#: Frames per batch (the scanner's default CLEARFRAME_SCANNER_BATCH_SIZE).
ONE_BATCH: int = ScannerSettings.model_fields["scanner_batch_size"].default
#: The issue's goals.
THROUGHPUT_GOAL = 0.8
LATENCY_GOAL = 1.25
MEDIA_GOAL = 4.0


@dataclass(frozen=True)
class Sizes:
    calls_c1: int
    calls_c8: int
    media_runs: int
    scale_runs: int


def sizes(quick: bool) -> Sizes:
    return Sizes(8, 16, 1, 1) if quick else Sizes(40, 96, 3, 2)


@dataclass(frozen=True)
class Measured:
    label: str
    p50_ms: float
    p95_ms: float
    per_s: float

    def row(self) -> str:
        return f"| {self.label} | {self.p50_ms:.1f} | {self.p95_ms:.1f} | {self.per_s:.1f} |"


@dataclass(frozen=True)
class VsSeed:
    label: str
    scanned: int
    ours_s: float
    seed_s: float

    @property
    def speedup(self) -> float:
        return self.seed_s / self.ours_s


@dataclass(frozen=True)
class Scaled:
    """One generated medium through `/v1/scans` (medians over the runs), or why it was not sent."""

    label: str
    size_bytes: int
    total_ms: float = 0.0
    analyzers_ms: dict[str, float] = field(default_factory=dict)
    frames_total: int = 0
    frames_analyzed: int = 0
    refused: str = ""

    @property
    def outside_ms(self) -> float | None:
        """Time outside the analyzers: total minus the slowest of the first wave and age. None for media of
        more than one batch: batches overlap, so the analyzers' summed times no longer fit in the total."""
        if self.frames_analyzed > ONE_BATCH:
            return None
        first = max((self.analyzers_ms.get(name, 0.0) for name in FIRST_WAVE), default=0.0)
        return max(0.0, self.total_ms - first - self.analyzers_ms.get("age", 0.0))


def seconds(duration: str) -> float:
    """A protobuf Duration in JSON ("0.123s") in seconds."""
    return float(duration.removesuffix("s"))


def _summary(label: str, latencies: list[float], calls: int, wall_s: float) -> Measured:
    return Measured(label, statistics.median(latencies) * 1000, percentile(latencies, 0.95) * 1000, calls / wall_s)


def measure_paths(
    paths: list[tuple[str, Callable[[bytes], object]]], images: list[bytes], size: Sizes
) -> list[Measured]:
    measured = []
    for label, fn in paths:
        latencies, _ = scanning.run(fn, images, size.calls_c1, 1)
        _, wall = scanning.run(fn, images, size.calls_c8, 8)
        measured.append(_summary(label, latencies, size.calls_c8, wall))
        print(f"{label}: p50 {measured[-1].p50_ms:.1f} ms, {measured[-1].per_s:.1f} images/s at 8", flush=True)
    return measured


def scan_v1(http: httpx.Client, key: str, data: bytes, mime: str) -> tuple[float, dict[str, Any]]:
    """Client time (s) and the result of one `POST /v1/scans`."""
    started = time.perf_counter()
    response = http.post("/v1/scans", headers={"X-API-Key": key, "content-type": mime}, content=data)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    scan = response.json()["scan"]
    if scan["state"] != "SCAN_STATE_SUCCEEDED":
        raise RuntimeError(f"scan ended {scan['state']}: {scan.get('error')}")
    result: dict[str, Any] = scan["result"]
    errors = {name: a["error"] for name, a in result["analyzers"].items() if a.get("error")}
    if errors:
        raise RuntimeError(f"analyzers failed: {errors}")
    return elapsed, result


def scaled(http: httpx.Client, key: str, label: str, data: bytes, mime: str, runs: int) -> Scaled:
    if len(data) > LIMITS.max_media_bytes:
        return Scaled(label, len(data), refused=f"over the {LIMITS.max_media_bytes // 2**20} MiB upload limit")
    totals: list[float] = []
    per_analyzer: dict[str, list[float]] = {}
    result: dict[str, Any] = {}
    for _ in range(runs):
        elapsed, result = scan_v1(http, key, data, mime)
        totals.append(elapsed)
        for name, evidence in result["analyzers"].items():
            per_analyzer.setdefault(name, []).append(seconds(evidence.get("latency", "0s")))
    measured = Scaled(
        label,
        len(data),
        statistics.median(totals) * 1000,
        {name: statistics.median(values) * 1000 for name, values in per_analyzer.items()},
        int(result.get("frames_total", 1) or 1),
        int(result.get("frames_analyzed", 1) or 1),
    )
    shares = ", ".join(f"{n} {measured.analyzers_ms.get(n, 0):.0f}" for n in ANALYZERS)
    print(f"{label}: {measured.total_ms:.0f} ms ({shares}; outside {_opt(measured.outside_ms)})", flush=True)
    return measured


def measure(
    quick: bool, size: Sizes
) -> tuple[list[Measured], dict[str, dict[str, float]], list[VsSeed], list[Scaled], list[Scaled]]:
    workdir = Path(tempfile.mkdtemp(prefix="clearframe-bench-scan-"))
    # Generated (or read from the cache) before the mesh starts: never inside a measurement.
    stills = [
        (f"{fmt} {mp:g} MP {'×'.join(map(str, samples.dimensions(mp)))}", samples.image(mp, fmt), samples.MIME[fmt])
        for mp in samples.MEGAPIXELS
        for fmt in samples.IMAGE_FORMATS
    ]
    clips = [
        (
            f"{kind.upper()} {frames} frames {'×'.join(map(str, samples.CLIP_SIZES[kind]))}",
            samples.clip(frames, kind),
            samples.MIME[kind],
        )
        for frames in samples.FRAME_COUNTS
        for kind in samples.CLIP_KINDS
    ]
    gif = animated_gif(60, size=(320, 240))
    clip = video(workdir / "clip.mp4", frames=300, fps=30, size=(640, 480))
    photos = [encoded(name, "JPEG", quality=90) for name in PHOTOS]
    with running_mesh(mesh_options(workdir)) as mesh:
        http = httpx.Client(base_url=mesh.gateway_url, timeout=180)
        token = legacy_token(http)
        key = api_key(http, "scans.create")
        direct = Direct(mesh.triton.grpc_url)
        direct_one = Direct(mesh.triton.grpc_url, threads=1)
        triton_threads = mesh.options.triton_cpu_threads

        def check(data: bytes) -> object:
            response = http.post(
                "/check", headers={"Authorization": token}, files={"image": ("a.jpg", data, "image/jpeg")}
            )
            response.raise_for_status()
            return response

        paths = measure_paths(
            [
                ("in-process onnxruntime, every analyzer, onnxruntime's threads", direct.all_in_process),
                ("in-process onnxruntime, every analyzer, 1 thread per model", direct_one.all_in_process),
                (
                    f"Triton directly ({_threads(triton_threads)} per model; PDQ/pHash in the caller)",
                    direct.all_via_triton,
                ),
                ("/check through Envoy", check),
                ("in-process, NudeNet + OpenNSFW only (what /batch runs), onnxruntime's threads", direct.in_process),
                ("in-process, NudeNet + OpenNSFW only, 1 thread per model", direct_one.in_process),
            ],
            photos,
            size,
        )
        cpu = {
            "in-process": scanning.cpu_per_call(direct_one.all_in_process, photos, size.calls_c8, 8),
            "/check": scanning.cpu_per_call(check, photos, size.calls_c8, 8),
        }
        print(f"CPU ms per image: {cpu}", flush=True)

        versus = []
        for label, data, suffix, mime, step in (
            ("GIF, 60 frames 320×240", gif, ".gif", "image/gif", LIMITS.gif_step),
            ("MP4, 10 s 640×480 30 fps", clip, ".mp4", "video/mp4", LIMITS.video_step),
        ):
            ours, seeds, scanned = [], [], 0
            for _ in range(size.media_runs):
                started = time.perf_counter()
                response = http.post(
                    "/batch", headers={"Authorization": token}, files={"file": ("m" + suffix, data, mime)}
                )
                response.raise_for_status()
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                scanned = seed_method(data, suffix, step)
                seeds.append(time.perf_counter() - started)
            versus.append(VsSeed(label, scanned, statistics.median(ours), statistics.median(seeds)))
            print(f"{label}: /batch {versus[-1].ours_s:.2f} s, seed {versus[-1].seed_s:.2f} s", flush=True)

        images = [scaled(http, key, label, data, mime, size.scale_runs) for label, data, mime in stills]
        media = [
            scaled(http, key, label, data, mime, 1 if label.split()[1] == "3000" else size.scale_runs)
            for label, data, mime in clips
        ]
    return paths, cpu, versus, images, media


def _ms(row: Scaled, name: str) -> str:
    value = row.analyzers_ms.get(name)
    return "–" if value is None else f"{value:.0f}"


def _opt(ms: float | None) -> str:
    return "–" if ms is None else f"{ms:.0f}"


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f}"


def scaling_rows(rows: list[Scaled], per: Callable[[Scaled], str]) -> list[str]:
    lines = []
    for row in rows:
        if row.refused:
            blank = " | ".join(["–"] * (len(ANALYZERS) + 3))
            lines.append(f"| {row.label} | {_mib(row.size_bytes)} | {row.refused}, not sent | {blank} |")
            continue
        lines.append(
            f"| {row.label} | {_mib(row.size_bytes)} | {row.frames_total} / {row.frames_analyzed} | "
            f"{row.total_ms:.0f} | {per(row)} | "
            + " | ".join(_ms(row, name) for name in ANALYZERS)
            + f" | {_opt(row.outside_ms)} |"
        )
    return lines


def _threads(count: int | None) -> str:
    return "onnxruntime's threads" if count is None else f"{count} thread{'s' if count > 1 else ''}"


def _verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def cpu_lines(cpu: dict[str, dict[str, float]], throughput: float) -> list[str]:
    """Where each image's CPU goes: the in-process baseline against /check, process by process."""
    local, check = cpu["in-process"], cpu["/check"]
    local_ms, check_ms = sum(local.values()), sum(check.values())
    models = check.get("Triton model stubs", 0.0)
    shown = {name: ms for name, ms in check.items() if ms >= 0.5}
    rest = check_ms - sum(shown.values())
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(shown.items(), key=lambda item: -item[1]))
    parts += f", the rest {rest:.1f}" if rest >= 0.05 else ""
    return [
        f"- CPU per image at concurrency 8 (ms, user + system, every process of the run): the in-process baseline "
        f"{local_ms:.1f} (all in the caller); `/check` {check_ms:.1f} — {parts}. On cores that are all busy, "
        f"images/s follow the inverse: {local_ms / check_ms:.2f} predicted, ×{throughput:.2f} measured.",
        f"- So ×{THROUGHPUT_GOAL} needs `/check` at ≤ {local_ms / THROUGHPUT_GOAL:.0f} ms of CPU per image on these "
        f"cores; the models in Triton's python-backend stubs alone take {models:.0f} (onnxruntime, the same "
        f"work as in-process, plus the stub's copies), leaving {max(0.0, local_ms / THROUGHPUT_GOAL - models):.0f} "
        f"ms for everything else, which takes {check_ms - models:.0f} here.",
    ]


def lines(
    quick: bool,
    size: Sizes,
    paths: list[Measured],
    cpu: dict[str, dict[str, float]],
    versus: list[VsSeed],
    images: list[Scaled],
    media: list[Scaled],
) -> list[str]:
    local_default, local_one, triton, check, two_default, two_one = paths
    # The baseline at its best: whichever thread setting gave it more images/s in this run.
    local = max(local_default, local_one, key=lambda m: m.per_s)
    two = max(two_default, two_one, key=lambda m: m.per_s)
    throughput = check.per_s / local.per_s
    latency = check.p50_ms / triton.p50_ms
    header = (
        "| media | MiB | frames total / scanned | total ms | {per} | "
        + " | ".join(ANALYZERS)
        + " | outside analyzers ms |"
    )
    rule = "|---|---:|---:|---:|---:|" + "---:|" * len(ANALYZERS) + "---:|"
    megapixels = {row.label: float(row.label.split()[1]) for row in images}
    return [
        HEADING,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {_cpus()} CPU cores, no GPU, with "
        f"`python -m bench.sections scan{' --quick' if quick else ''}` (its own mesh; the client, Envoy, the "
        f"services and Triton share the cores). Medians of {size.calls_c1} calls at concurrency 1, throughput over "
        f"{size.calls_c8} calls at concurrency 8.",
        "",
        "### Images: the scanner's whole work vs. the same analyzers without it (same photos, JPEG)",
        "",
        "| path | p50 ms | p95 ms | images/s at 8 |",
        "|---|---:|---:|---:|",
        *(m.row() for m in paths[:4]),
        "",
        f"- The in-process baseline is taken at its best, whichever thread setting gave it more images/s here "
        f"({local.label.split(', ')[-1]}); local Triton's thread count per model is `CLEARFRAME_TRITON_CPU_THREADS` "
        "(default cores ÷ 3, at least 1).",
        "- Every path runs NudeNet 320n, OpenNSFW, age on NudeNet's faces (score ≥ "
        "0.3), PDQ and pHash, with the scanner's own pre/post-processing functions; `/check` also runs the text "
        "analyzer (no text: nothing to score) and stores the image's evidence copy and tag statistics.",
        f"- `/check` at concurrency 8 vs. the in-process baseline: ×{throughput:.2f} images/s (goal ≥ "
        f"{THROUGHPUT_GOAL}: {_verdict(throughput >= THROUGHPUT_GOAL)}).",
        f"- `/check` p50 at concurrency 1 vs. Triton directly for the same models: ×{latency:.2f} (goal ≤ "
        f"{LATENCY_GOAL}: {_verdict(latency <= LATENCY_GOAL)}); Triton directly vs. in-process: p50 "
        f"×{triton.p50_ms / local.p50_ms:.2f}, images/s ×{triton.per_s / local.per_s:.2f}, so of the throughput "
        f"goal the Triton hop alone leaves ×{triton.per_s / local.per_s:.2f} and `/check` reaches "
        f"×{check.per_s / triton.per_s:.2f} of calling Triton directly (gateway, auth, multipart, the hardened "
        "decode, text, storing the evidence copy).",
        *cpu_lines(cpu, throughput),
        "",
        "### GIF / video vs. the seed's method (`POST /batch`, same clips, same sampled frames)",
        "",
        "| media | frames scanned | Clearframe /batch s | seed method s | speed-up |",
        "|---|---:|---:|---:|---:|",
        *(f"| {v.label} | {v.scanned} | {v.ours_s:.2f} | {v.seed_s:.2f} | ×{v.speedup:.1f} |" for v in versus),
        "",
        *(
            f"- {v.label}: ×{v.speedup:.1f} (goal ≥ ×{MEDIA_GOAL:g}: {_verdict(v.speedup >= MEDIA_GOAL)}); "
            f"×{MEDIA_GOAL:g} means {v.seed_s / MEDIA_GOAL:.2f} s, while the same two models in-process at their "
            f"best throughput here ({two.per_s:.1f} images/s at concurrency 8, photos of 0.2–0.3 MP) need "
            f"{v.scanned / two.per_s:.2f} s for its {v.scanned} frames alone."
            for v in versus
        ),
        "",
        f"### Scaling through `POST /v1/scans` (generated media, bench/samples.py; medians of {size.scale_runs} "
        "run(s), one for 3000 frames)",
        "",
        "Per-analyzer columns are the wall times the scan result reports (`analyzers[*].latency`, ms, summed "
        "over the scan's batches; *pdq* is PDQ and pHash); NudeNet, OpenNSFW and PDQ run side by side on each "
        "batch, age after NudeNet, "
        "so *outside analyzers* is the total minus the slowest of the first three and age: upload, gateway, "
        "decoding (for GIF/video: what the frames service's decoding did not overlap with inference), "
        f"storing the result. Media of more than one batch ({ONE_BATCH} frames) have two batches analyzed at "
        "once, so their summed analyzer times exceed the total and *outside* is not shown (–).",
        "",
        header.format(per="ms per MP"),
        rule,
        *scaling_rows(images, lambda r: f"{r.total_ms / megapixels[r.label]:.0f}"),
        "",
        header.format(per="ms per source frame"),
        rule,
        *scaling_rows(media, lambda r: f"{r.total_ms / max(r.frames_total, 1):.1f}"),
        "",
        *where_time_goes(images, media),
    ]


def where_time_goes(images: list[Scaled], media: list[Scaled]) -> list[str]:
    """Bullets read off the scaling tables: the largest image's biggest analyzer, the clips' cost per frame."""
    bullets = []
    for fmt in samples.IMAGE_FORMATS:
        rows = [r for r in images if r.label.startswith(fmt) and not r.refused]
        if len(rows) < 2:
            continue
        small, large = rows[0], rows[-1]
        top = max(ANALYZERS, key=lambda name: large.analyzers_ms.get(name, 0.0))
        grown = ", ".join(
            f"{name} ×{large.analyzers_ms.get(name, 0.0) / small.analyzers_ms[name]:.1f}"
            for name in FIRST_WAVE
            if small.analyzers_ms.get(name)
        )
        lo, hi = small.label.split()[1], large.label.split()[1]
        bullets.append(
            f"- {fmt}, {lo} → {hi} MP: total ×{large.total_ms / small.total_ms:.1f}; "
            f"at {hi} MP {top} is {large.analyzers_ms[top] / large.total_ms:.0%} of the time and "
            f"outside the analyzers {(large.outside_ms or 0.0) / large.total_ms:.0%}; per analyzer: {grown}."
        )
    for kind in samples.CLIP_KINDS:
        rows = [r for r in media if r.label.startswith(kind.upper()) and not r.refused]
        if rows:
            per_frame = ", ".join(f"{r.frames_total} → {r.total_ms / max(r.frames_analyzed, 1):.0f}" for r in rows)
            outside = ", ".join(f"{r.frames_total} → {r.outside_ms:.0f}" for r in rows if r.outside_ms is not None)
            bullets.append(
                f"- {kind.upper()}: ms per scanned frame by source frames: {per_frame}; outside the analyzers "
                f"(ms, single-batch media): {outside or '–'}."
            )
    return [*bullets, ""] if bullets else []


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def run(quick: bool) -> list[str]:
    """Boot a mesh, measure, and return the "## Scan throughput" section."""
    size = sizes(quick)
    return lines(quick, size, *measure(quick, size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and runs (a smoke run)")
    args = parser.parse_args()
    print("\n".join(run(args.quick)))


if __name__ == "__main__":
    main()
