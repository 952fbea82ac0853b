"""Domain errors: plain exceptions that say what went wrong, with no transport in them.

Domain code raises these; neither it nor this module imports grpc. Each error has a kind (its class), a
``reason`` (an UPPER_SNAKE ``ErrorInfo.reason``), a ``message`` for people, the offending ``field`` where
there is one, and string ``metadata``. :mod:`clearframe_runtime.status` holds the one mapping of each
kind to a gRPC status code and the interceptor that ends calls with it (AIP-193 ``ErrorInfo``).

Hierarchy (the gRPC code each becomes, in :mod:`clearframe_runtime.status`)::

    DomainError              UNKNOWN
    ├── InvalidArgument      INVALID_ARGUMENT (field names the offending field)
    ├── NotFound             NOT_FOUND
    ├── AlreadyExists        ALREADY_EXISTS
    ├── FailedPrecondition   FAILED_PRECONDITION
    ├── Unauthenticated      UNAUTHENTICATED
    ├── PermissionDenied     PERMISSION_DENIED
    ├── ResourceExhausted    RESOURCE_EXHAUSTED
    ├── Unavailable          UNAVAILABLE
    ├── DeadlineExceeded     DEADLINE_EXCEEDED
    ├── Unimplemented        UNIMPLEMENTED (contract exists, implementation has not landed)
    └── Internal             INTERNAL (unexpected exceptions become this)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

#: ``ErrorInfo.domain`` of every error Clearframe reports.
DOMAIN = "clearframe"


class DomainError(Exception):
    """Base of every error a service reports to its callers."""

    default_reason: ClassVar[str] = "UNKNOWN"

    def __init__(self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})
        self.field: str | None = self.metadata.get("field")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, reason={self.reason!r}, metadata={self.metadata!r})"


class InvalidArgument(DomainError):
    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ):
        meta = dict(metadata or {})
        if field:
            meta["field"] = field
        super().__init__(message, reason=reason, metadata=meta)


class NotFound(DomainError):
    default_reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    default_reason = "FAILED_PRECONDITION"


class Unauthenticated(DomainError):
    default_reason = "INVALID_CREDENTIALS"


class PermissionDenied(DomainError):
    default_reason = "INSUFFICIENT_PERMISSIONS"


class ResourceExhausted(DomainError):
    default_reason = "RATE_LIMITED"


class Unavailable(DomainError):
    default_reason = "UNAVAILABLE"


class DeadlineExceeded(DomainError):
    default_reason = "DEADLINE_EXCEEDED"


class Unimplemented(DomainError):
    """The RPC exists in the contract but its implementation has not landed yet."""

    default_reason = "NOT_IMPLEMENTED_YET"


class Internal(DomainError):
    """A bug or an unexpected failure; the message never carries internals to the caller."""

    default_reason = "INTERNAL"


#: Each kind of error → its canonical status name (``google.rpc.Code``), as plain strings so that domains
#: can record why something failed without importing grpc; :mod:`clearframe_runtime.status` turns them
#: into ``grpc.StatusCode`` (subclasses inherit theirs).
CANONICAL_CODES: Mapping[type[DomainError], str] = {
    DomainError: "UNKNOWN",
    InvalidArgument: "INVALID_ARGUMENT",
    NotFound: "NOT_FOUND",
    AlreadyExists: "ALREADY_EXISTS",
    FailedPrecondition: "FAILED_PRECONDITION",
    Unauthenticated: "UNAUTHENTICATED",
    PermissionDenied: "PERMISSION_DENIED",
    ResourceExhausted: "RESOURCE_EXHAUSTED",
    Unavailable: "UNAVAILABLE",
    DeadlineExceeded: "DEADLINE_EXCEEDED",
    Unimplemented: "UNIMPLEMENTED",
    Internal: "INTERNAL",
}


def canonical_code(error: DomainError) -> str:
    """The canonical status name of ``error``: that of the nearest class in its MRO with an entry."""
    for cls in type(error).__mro__:
        name = CANONICAL_CODES.get(cls)
        if name is not None:
            return name
    return "UNKNOWN"


__all__ = [
    "CANONICAL_CODES",
    "DOMAIN",
    "AlreadyExists",
    "DeadlineExceeded",
    "DomainError",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "canonical_code",
]
