"""Times and durations between the domain (``datetime``, seconds as ``float``) and protobuf messages.

The one place the rules live:

- a naive ``datetime`` is UTC (SQLite hands stored times back without a zone), never the machine's local
  time; an aware one is converted to UTC;
- a time read from a message is an aware UTC ``datetime``; an unset field is ``None``;
- seconds become a ``Duration`` rounded to the nearest nanosecond (``1.001`` is 1 s 1 ms, not
  1 s 999 999 ns as truncation would give).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import Message


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(as_utc(value))
    return stamp


def optional_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """For message fields that stay unset when the domain has no time (pass it as a constructor keyword)."""
    return None if value is None else timestamp(value)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The seconds a Timestamp may hold (0001-01-01 to 9999-12-31, what ``datetime`` can hold too).
TIMESTAMP_SECONDS = _SECONDS = (-62_135_596_800, 253_402_300_799)


def to_datetime(stamp: timestamp_pb2.Timestamp) -> datetime:
    """The time in ``stamp`` (truncated to the microsecond); ``ValueError`` for one out of range.

    The same value as ``stamp.ToDatetime(tzinfo=UTC)``, computed without its checks and conversions in the
    usual case: ingest reads thousands per call."""
    seconds, nanos = stamp.seconds, stamp.nanos
    if _SECONDS[0] <= seconds <= _SECONDS[1] and 0 <= nanos < 1_000_000_000:
        return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    value: datetime = stamp.ToDatetime(tzinfo=UTC)  # raises the ValueError that says why
    return value


def field_datetime(message: Message, name: str) -> datetime | None:
    """The time in ``message.<name>``, or ``None`` when the field is unset."""
    if not message.HasField(name):
        return None
    stamp = getattr(message, name)
    if not isinstance(stamp, timestamp_pb2.Timestamp):
        raise TypeError(f"{type(message).__name__}.{name} is not a Timestamp")
    return to_datetime(stamp)


def duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(round(seconds * 1_000_000_000))
    return value


def to_seconds(value: duration_pb2.Duration) -> float:
    seconds: float = value.seconds + value.nanos / 1_000_000_000
    return seconds


__all__ = [
    "TIMESTAMP_SECONDS",
    "as_utc",
    "duration",
    "field_datetime",
    "optional_timestamp",
    "timestamp",
    "to_datetime",
    "to_seconds",
]
