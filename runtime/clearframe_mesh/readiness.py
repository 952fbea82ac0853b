"""Wait until a gRPC server reports SERVING on the standard health service, with a deadline.

The launcher, `make run` and every test that starts a service of its own use this one loop: it gives up
when the deadline passes (naming the last status it saw) or as soon as the watched process exits.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

_SERVING = health_pb2.HealthCheckResponse.SERVING


class NotServing(RuntimeError):
    """The server did not report SERVING before the deadline, or its process exited first."""


def wait_serving(
    target: str,
    *,
    deadline: float | None = None,
    timeout_s: float = 30.0,
    process: subprocess.Popen[bytes] | None = None,
    service: str = "",
    poll_s: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Return once ``target`` answers SERVING for ``service`` ("" = the whole server).

    ``deadline`` is a ``clock()`` value; without one the wait lasts ``timeout_s``. Raises
    :class:`NotServing` when ``process`` exits or the deadline passes.
    """
    end = deadline if deadline is not None else clock() + timeout_s
    last = "no answer"
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if process is not None and process.poll() is not None:
                raise NotServing(f"exited with code {process.returncode}")
            remaining = end - clock()
            try:
                answer = stub.Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=max(0.05, min(1.0, remaining))
                )
                if answer.status == _SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
            except grpc.RpcError as exc:
                code = exc.code() if isinstance(exc, grpc.Call) else None
                last = code.name if code is not None else str(exc)
            if clock() >= end:
                raise NotServing(f"did not become SERVING in time (last: {last})")
            time.sleep(poll_s)
