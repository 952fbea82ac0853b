"""Times and durations between the domain and protobuf: the one set of rules every service uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from clearframe.auth.v1 import auth_pb2
from clearframe_runtime.protoconv import (
    as_utc,
    duration,
    field_datetime,
    optional_timestamp,
    timestamp,
    to_datetime,
    to_seconds,
)

INSTANT = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)


def test_a_naive_time_is_utc_not_local_time() -> None:
    naive = INSTANT.replace(tzinfo=None)
    assert timestamp(naive) == timestamp(INSTANT)
    assert timestamp(naive).ToJsonString() == "2026-03-01T12:30:15.250Z"


def test_an_aware_time_is_converted_to_utc() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    local = INSTANT.astimezone(berlin_winter)
    assert local.hour == 13
    assert timestamp(local) == timestamp(INSTANT)
    assert as_utc(local) == INSTANT and as_utc(local).tzinfo is UTC


def test_round_trip_is_exact_to_the_microsecond() -> None:
    back = to_datetime(timestamp(INSTANT))
    assert back == INSTANT and back.tzinfo is UTC


def test_unset_times_stay_unset() -> None:
    assert optional_timestamp(None) is None
    token = auth_pb2.Token(token_id="t", expire_time=optional_timestamp(None))
    assert not token.HasField("expire_time")
    assert field_datetime(token, "expire_time") is None
    token.expire_time.CopyFrom(timestamp(INSTANT))
    assert field_datetime(token, "expire_time") == INSTANT


def test_field_datetime_refuses_a_field_that_is_not_a_time() -> None:
    key = auth_pb2.IssueTokenRequest(ttl=duration(60))
    with pytest.raises(TypeError, match=r"IssueTokenRequest\.ttl is not a Timestamp"):
        field_datetime(key, "ttl")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1.001, (1, 1_000_000)),  # 1.001 * 1e9 is 1000999999.9999999: truncation would lose a nanosecond
        (0.1, (0, 100_000_000)),
        (2.675, (2, 675_000_000)),
        (0.0, (0, 0)),
        (1e-9, (0, 1)),
        (4e-10, (0, 0)),
        (-1.5, (-1, -500_000_000)),
        (600.0, (600, 0)),
    ],
)
def test_durations_round_to_the_nearest_nanosecond(seconds: float, expected: tuple[int, int]) -> None:
    value = duration(seconds)
    assert (value.seconds, value.nanos) == expected


@pytest.mark.parametrize("seconds", [0.0, 0.04, 1.001, 59.999, 3600.5, -2.25])
def test_duration_round_trip(seconds: float) -> None:
    assert to_seconds(duration(seconds)) == pytest.approx(seconds, abs=1e-9)


def test_to_seconds_reads_seconds_and_nanos() -> None:
    assert to_seconds(duration_pb2.Duration(seconds=3, nanos=250_000_000)) == 3.25
    assert isinstance(timestamp(INSTANT), timestamp_pb2.Timestamp)
