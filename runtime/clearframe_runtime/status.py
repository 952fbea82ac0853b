"""Domain errors as gRPC status: the one mapping, the server interceptor, and ErrorInfo for clients.

Domain code raises :mod:`clearframe_runtime.errors` exceptions and never imports grpc. Here each kind of
error gets its status code (:data:`STATUS_CODES`), and :class:`ErrorInterceptor` ends a failing call with a
``google.rpc.Status`` carrying one ``google.rpc.ErrorInfo`` (AIP-193): REST clients behind the gateway get
``{"code", "message", "details"}``, gRPC clients get rich status details.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from clearframe_runtime.errors import CANONICAL_CODES, DOMAIN, DomainError, Internal, Unavailable, canonical_code

log = structlog.get_logger(__name__)

#: Each kind of domain error → the gRPC status code it ends a call with (from the canonical names that
#: :data:`clearframe_runtime.errors.CANONICAL_CODES` gives each kind; subclasses inherit theirs).
STATUS_CODES: Mapping[type[DomainError], grpc.StatusCode] = {
    kind: grpc.StatusCode[name] for kind, name in CANONICAL_CODES.items()
}


def status_code(error: DomainError) -> grpc.StatusCode:
    """The status code of ``error``."""
    return grpc.StatusCode[canonical_code(error)]


def status_message(error: DomainError) -> status_pb2.Status:
    """The ``google.rpc.Status`` of ``error`` (code, message, one ErrorInfo), e.g. for a per-item result."""
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata))
    code: int = status_code(error).value[0]
    return status_pb2.Status(code=code, message=error.message, details=[detail])


def to_status(error: DomainError) -> grpc.Status:
    """What the interceptor ends the call with."""
    status: grpc.Status = rpc_status.to_status(status_message(error))
    return status


def error_info(exc: grpc.aio.AioRpcError | grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo of a failed call, for clients and tests."""
    status = rpc_status.from_call(exc)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


_KIND_OF_CODE: Mapping[str, type[DomainError]] = {name: kind for kind, name in CANONICAL_CODES.items()}
#: Codes that say the other side could not answer (rather than refused the request).
_UNREACHABLE = frozenset({"UNAVAILABLE", "UNKNOWN", "INTERNAL", "CANCELLED", "DATA_LOSS", "UNIMPLEMENTED"})


def from_rpc_error(exc: grpc.aio.AioRpcError | grpc.RpcError, service: str) -> DomainError:
    """A failed call to another Clearframe service as the domain error to raise on: the callee's own
    refusals (its code, reason, metadata and message) pass through; a callee that could not answer becomes
    Unavailable with the reason ``{SERVICE}_UNAVAILABLE``."""
    code = exc.code().name if isinstance(exc.code(), grpc.StatusCode) else "UNKNOWN"
    details = exc.details() or code
    if code in _UNREACHABLE:
        return Unavailable(
            f"the {service} service is unavailable ({code}: {details})", reason=f"{service.upper()}_UNAVAILABLE"
        )
    info = error_info(exc)
    kind = _KIND_OF_CODE.get(code, DomainError)
    return kind(details, reason=info.reason if info else None, metadata=dict(info.metadata) if info else None)


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no type information
    """Maps :class:`DomainError` (and unexpected exceptions) raised by handlers to gRPC status."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    return await inner_uu(request, context)
                except Exception as exc:
                    await _abort(context, exc, method)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                try:
                    async for item in inner_us(request, context):
                        yield item
                except Exception as exc:
                    await _abort(context, exc, method)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            inner_su = handler.stream_unary

            async def stream_unary(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
                try:
                    return await inner_su(requests, context)
                except Exception as exc:
                    await _abort(context, exc, method)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, handler.request_deserializer, handler.response_serializer
            )
        return handler


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, method: str) -> None:
    if isinstance(exc, grpc.aio.AbortError | grpc.aio.UsageError):
        raise exc
    if isinstance(exc, DomainError):
        log.info("rpc.failed", method=method, code=status_code(exc).name, reason=exc.reason, error=exc.message)
        await context.abort_with_status(to_status(exc))
    log.exception("rpc.crashed", method=method)
    await context.abort_with_status(to_status(Internal("internal error")))


__all__ = [
    "STATUS_CODES",
    "ErrorInterceptor",
    "error_info",
    "from_rpc_error",
    "status_code",
    "status_message",
    "to_status",
]
