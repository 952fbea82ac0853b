"""Moderation rules without a database: rates, backoff, signatures, URL policy, state transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clearframe_runtime.errors import InvalidArgument
from services.scanner.moderation.domain import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SUCCEEDED,
    FLAGGED,
    REJECTED,
    StatCounts,
    TimeRange,
    UrlPolicy,
    attempt_outcome,
    backoff_delay,
    new_delivery,
    sign,
    statistics,
    verify,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_rates_are_percentages_of_all_scans_and_zero_when_none() -> None:
    empty = statistics(StatCounts(by_verdict={}, manual_decisions=0, open_review_cases=0))
    assert (empty.total_scans, empty.approval_rate, empty.rejection_rate, empty.flag_rate) == (0, 0.0, 0.0, 0.0)
    stats = statistics(
        StatCounts(by_verdict={"APPROVED": 1, "REJECTED": 1, "FLAGGED": 1}, manual_decisions=2, open_review_cases=1)
    )
    assert stats.total_scans == 3
    assert (stats.approval_rate, stats.rejection_rate, stats.flag_rate) == (33.33, 33.33, 33.33)
    with_pending = statistics(
        StatCounts(by_verdict={"APPROVED": 3, "PENDING": 1}, manual_decisions=0, open_review_cases=0)
    )
    assert (with_pending.total_scans, with_pending.pending, with_pending.approval_rate) == (4, 1, 75.0)


def test_backoff_doubles_from_one_second_to_one_hour() -> None:
    assert [backoff_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 32, 64]
    assert backoff_delay(12) == 2048 and backoff_delay(13) == 3600 and backoff_delay(500) == 3600


def test_attempt_outcomes_retry_then_fail_after_a_day() -> None:
    delivery = new_delivery("w1", "DECISION_CREATED", {"a": 1}, T0)
    failed_once = attempt_outcome(delivery, status=500, error="", now=T0)
    assert failed_once.state == DELIVERY_PENDING and failed_once.attempt_count == 1
    assert failed_once.next_attempt_at == T0 + timedelta(seconds=1) and failed_once.last_error == "HTTP 500"
    timeout = attempt_outcome(failed_once, status=0, error="timeout after 10s", now=T0 + timedelta(seconds=1))
    assert timeout.next_attempt_at == T0 + timedelta(seconds=3) and timeout.last_http_status == 0
    ok = attempt_outcome(timeout, status=204, error="", now=T0 + timedelta(seconds=3))
    assert (ok.state, ok.attempt_count, ok.next_attempt_at, ok.last_error) == (DELIVERY_SUCCEEDED, 3, None, "")
    late = attempt_outcome(timeout, status=503, error="", now=T0 + timedelta(hours=23, minutes=59, seconds=59))
    assert late.state == DELIVERY_FAILED and late.next_attempt_at is None


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"batch_id":"s1"}'
    expected = hmac.new(b"0123456789abcdef", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("0123456789abcdef", 1700000000, body) == f"sha256={expected}"
    assert verify("0123456789abcdef", 1700000000, body, f"sha256={expected}")
    assert not verify("0123456789abcdef", 1700000001, body, f"sha256={expected}")
    assert not verify("another-secret-000", 1700000000, body, f"sha256={expected}")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/hook",
        "example.org/hook",
        "https://",
        "http://example.org/hook",
        "https://user:pw@example.org/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest",
        "https://192.168.0.1:99999/x",
        "https://exa mple.org/",
        "javascript:alert(1)",
    ],
)
def test_wrong_webhook_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        UrlPolicy().check(url)
    assert caught.value.reason == "INVALID_WEBHOOK_URL"


def test_loopback_and_allow_listed_private_hosts() -> None:
    assert UrlPolicy().check("http://127.0.0.1:8999/hook")
    assert UrlPolicy().check("https://hooks.example.org/x?y=1")
    with pytest.raises(InvalidArgument):
        UrlPolicy(allow_loopback=False).check("http://localhost/hook")
    assert UrlPolicy(allowed_private_hosts=frozenset({"10.0.0.5"})).check("https://10.0.0.5/hook")


def test_time_ranges_must_not_run_backwards() -> None:
    TimeRange(T0, T0)
    with pytest.raises(InvalidArgument) as caught:
        TimeRange(T0, T0 - timedelta(seconds=1))
    assert caught.value.reason == "INVALID_TIME_RANGE"


def test_constants_name_the_verdicts_the_proto_uses() -> None:
    assert (FLAGGED, REJECTED) == ("FLAGGED", "REJECTED")
