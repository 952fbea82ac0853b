"""Domain errors carry no transport; the interceptor alone maps them to gRPC status (with ErrorInfo)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clearframe_mesh.process import free_port
from clearframe_runtime import errors
from clearframe_runtime.errors import DomainError, InvalidArgument, NotFound, Unavailable
from clearframe_runtime.status import STATUS_CODES, ErrorInterceptor, error_info, status_code, status_message

ROOT = Path(__file__).resolve().parents[2]


def domain_modules() -> list[str]:
    """Every service's domain module or package (services/**/domain.py, services/**/domain/)."""
    found = [*ROOT.glob("services/**/domain.py"), *ROOT.glob("services/**/domain/__init__.py")]
    names = []
    for path in found:
        relative = path.relative_to(ROOT).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        names.append(".".join(parts))
    return sorted(names)


def test_there_are_domains_to_check() -> None:
    assert {"services.auth.domain", "services.config.domain", "services.frames.domain"} <= set(domain_modules())


@pytest.mark.parametrize("module", ["clearframe_runtime.errors", *domain_modules()])
def test_domains_import_neither_grpc_nor_generated_code(module: str) -> None:
    probe = (
        f"import sys, {module}\n"
        "bad = sorted(n for n in sys.modules if n == 'grpc' or n.startswith('grpc.') or n.endswith('_pb2'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} pulls in {result.stdout.strip()[:300]}"


def test_every_error_kind_has_a_status_code() -> None:
    kinds = [k for name in errors.__all__ if isinstance(k := getattr(errors, name), type)]
    assert set(kinds) == set(STATUS_CODES)
    assert len(set(STATUS_CODES.values())) == len(STATUS_CODES), "two kinds share a code"


def test_a_service_specific_error_inherits_its_kinds_code() -> None:
    class MediaUndecodable(InvalidArgument):
        default_reason = "MEDIA_UNDECODABLE"

    error = MediaUndecodable("not an image", field="content")
    assert status_code(error) == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.reason, error.field, error.metadata) == ("MEDIA_UNDECODABLE", "content", {"field": "content"})


def test_status_message_carries_code_message_and_error_info() -> None:
    message = status_message(Unavailable("frames is down", reason="FRAMES_UNAVAILABLE", metadata={"target": "x"}))
    assert (message.code, message.message) == (grpc.StatusCode.UNAVAILABLE.value[0], "frames is down")
    (detail,) = message.details
    assert detail.type_url.endswith("google.rpc.ErrorInfo")


class _Failing(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    """A real servicer whose calls raise: a domain error on Check, a bug on Watch."""

    async def Check(self, request: Any, context: Any) -> Any:
        raise NotFound("no such scan", reason="SCAN_NOT_FOUND", metadata={"scan_id": request.service})

    async def Watch(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
        raise RuntimeError("secret internals: /var/db password=hunter2")


async def test_the_interceptor_maps_domain_errors_and_hides_crashes() -> None:
    server = grpc.aio.server(interceptors=[ErrorInterceptor()])
    health_pb2_grpc.add_HealthServicer_to_server(_Failing(), server)
    target = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(target)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await stub.Check(health_pb2.HealthCheckRequest(service="s-1"), timeout=5)
            assert failure.value.code() == grpc.StatusCode.NOT_FOUND
            assert failure.value.details() == "no such scan"
            info = error_info(failure.value)
            assert info is not None
            assert (info.reason, info.domain, dict(info.metadata)) == (
                "SCAN_NOT_FOUND",
                "clearframe",
                {"scan_id": "s-1"},
            )

            stream = stub.Watch(health_pb2.HealthCheckRequest(), timeout=5)
            with pytest.raises(grpc.aio.AioRpcError) as crash:
                async for _ in stream:
                    pass
            assert crash.value.code() == grpc.StatusCode.INTERNAL
            assert crash.value.details() == "internal error"
            assert "hunter2" not in str(crash.value.debug_error_string())
    finally:
        await server.stop(None)


def test_a_plain_domain_error_is_unknown() -> None:
    assert status_code(DomainError("?")) == grpc.StatusCode.UNKNOWN
