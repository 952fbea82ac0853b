"""Day totals, hourly rollups and exact time ranges: which part of a range the day counts answer, which
the hourly counts, which the raw events must.

A range is inclusive at both ends and kept to the microsecond. An hour ``[h, h + 1 h)`` is answered by its
rollup when it lies wholly inside the range; the partial hours at the two edges (at most one each) are
counted from the raw events. So every answer is exact, and a range of days reads a few hundred rollup rows
plus at most two hours of events per group. A UTC day ``[d, d + 24 h)`` wholly inside the range may be
answered by its day total instead of its 24 hourly rollups (:func:`split_days`): then a range reads its
whole days' totals, at most 23 whole hours at each end, and the two partial edge hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.analytics.domain.model import Count, EventType, Platform, TimeRange

HOUR = timedelta(hours=1)
MICROSECOND = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch (an aware datetime)."""
    return (moment - EPOCH) // MICROSECOND


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def hour_of(value_us: int) -> int:
    """Start (µs) of the hour holding ``value_us``."""
    return value_us - value_us % HOUR_US


@dataclass(frozen=True)
class RangeSplit:
    """``rollup_hours``: hour starts ``[from, to)`` (µs, ``None`` unbounded) the rollups answer, or ``None``
    for no whole hour; ``raw``: inclusive µs spans (``None`` unbounded) the raw events answer."""

    rollup_hours: tuple[int | None, int | None] | None
    raw: tuple[tuple[int | None, int | None], ...]


def split(time_range: TimeRange) -> RangeSplit:
    start = None if time_range.start is None else to_us(time_range.start)
    end = None if time_range.end is None else to_us(time_range.end)
    # First whole hour: the hour of `start` when it begins there, else the next one.
    first = None if start is None else (start if start % HOUR_US == 0 else hour_of(start) + HOUR_US)
    # Whole hours end (exclusive) at the hour holding end + 1 µs: the hour ending exactly at end + 1 µs is whole.
    stop = None if end is None else hour_of(end + 1)
    if first is not None and stop is not None and first >= stop:
        return RangeSplit(None, ((start, end),))
    raw: list[tuple[int | None, int | None]] = []
    if start is not None and first is not None and start < first:
        raw.append((start, first - 1))
    if end is not None and stop is not None and stop <= end:
        raw.append((stop, end))
    return RangeSplit((first, stop), tuple(raw))


def day_of(value_us: int) -> int:
    """Start (µs) of the UTC day holding ``value_us``."""
    return value_us - value_us % DAY_US


def midnight_us(day: datetime) -> int:
    """``day``, an aware UTC midnight, as µs since the epoch; ``ValueError`` for any other moment."""
    if day.tzinfo is None:
        raise ValueError("a day starts at an aware UTC midnight")
    value = to_us(day)
    if value % DAY_US:
        raise ValueError(f"{day.isoformat()} is not a UTC midnight")
    return value


@dataclass(frozen=True)
class DaySplit:
    """``days``: day starts ``[from, to)`` (µs, ``None`` unbounded) the day totals answer, or ``None``;
    ``hours``: hour-start spans ``[from, to)`` the hourly rollups answer (at most two, none empty);
    ``raw``: inclusive µs spans the raw events answer (as :class:`RangeSplit`)."""

    days: tuple[int | None, int | None] | None
    hours: tuple[tuple[int | None, int | None], ...]
    raw: tuple[tuple[int | None, int | None], ...]


def split_days(time_range: TimeRange) -> DaySplit:
    """:func:`split`, with the whole UTC days among the whole hours answered by day totals."""
    parts = split(time_range)
    if parts.rollup_hours is None:
        return DaySplit(None, (), parts.raw)
    first, stop = parts.rollup_hours
    # First whole day: the day of `first` when it begins there, else the next one; whole days end
    # (exclusive) at the day holding `stop` (an hour start: the day starting exactly at `stop` is not in).
    first_day = None if first is None else (first if first % DAY_US == 0 else day_of(first) + DAY_US)
    stop_day = None if stop is None else day_of(stop)
    if first_day is not None and stop_day is not None and first_day >= stop_day:
        return DaySplit(None, ((first, stop),), parts.raw)
    hours: list[tuple[int | None, int | None]] = []
    if first is not None and first_day is not None and first < first_day:
        hours.append((first, first_day))
    if stop is not None and stop_day is not None and stop_day < stop:
        hours.append((stop_day, stop))
    return DaySplit((first_day, stop_day), tuple(hours), parts.raw)


def counts_of(dims: Sequence[str], totals: Mapping[tuple[Any, ...], Sequence[int]]) -> list[Count]:
    """A store's grouped totals as counts: each key holds the values of ``dims`` (Dimension values, the
    hour as its starting µs) then the event type; each total is (humans, bots). Empty groups are left out."""
    counts: list[Count] = []
    for key, (humans, bots) in totals.items():
        if humans == 0 and bots == 0:
            continue
        named = dict(zip([*dims, "event_type"], key, strict=True))
        counts.append(
            Count(
                EventType(named["event_type"]),
                humans,
                bots,
                asset_id=named.get("asset_id", ""),
                short_code=named.get("short_code", ""),
                platform=Platform(named["platform"]) if "platform" in named else None,
                hour=from_us(int(named["hour_us"])) if "hour_us" in named else None,
            )
        )
    return counts
