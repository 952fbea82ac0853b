"""The wall clock, as domains take it: a callable injected by each service's wiring, moved by tests.

Domains never read the time from a module global; they are given a :data:`Clock` (``utcnow`` in the
service, a fake that tests advance), so time-dependent rules are unit-tested without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: What a domain calls for "now": an aware UTC datetime.
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


__all__ = ["Clock", "utcnow"]
