"""Raw events kept for a number of whole UTC days; their counts kept for good.

With a retention of ``days``, the raw events of every UTC day before :meth:`RawRetention.horizon` — today's
midnight less ``days`` days — are dropped, a day at a time (on PostgreSQL the day's partition), and their
ids forgotten. The hourly rollups and every count built from them stay, so the metrics of any range made of
whole hours stay exact after the raw events are gone. Two rules keep the rest consistent:

- an event older than the retention is refused at ingest (its ``max_age`` is at most ``days``): an
  accepted event never lands in a day that is dropped, and its id stays registered as long as a producer
  may still send it;
- a time range whose start or end lies before the horizon cannot be counted to the microsecond there (the
  edge's partial hour would need the raw events): that edge is widened to its whole hour, the start down
  to the hour's first microsecond, the end up to its last (:meth:`RawRetention.widen`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.analytics.domain.hours import HOUR, MICROSECOND
from services.analytics.domain.model import TimeRange

DAY = timedelta(days=1)


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class RawRetention:
    """How many whole UTC days of raw events are kept before today (at least 1)."""

    days: int

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("a raw retention keeps at least one day")

    @property
    def max_age(self) -> timedelta:
        """The oldest event time ingest may accept."""
        return self.days * DAY

    def horizon(self, now: datetime) -> datetime:
        """The first instant whose raw events are kept: a UTC midnight, ``days`` days before today's."""
        return now.replace(hour=0, minute=0, second=0, microsecond=0) - self.days * DAY

    def widen(self, time_range: TimeRange, now: datetime) -> TimeRange:
        """``time_range`` with each end before the horizon moved to its hour's edge (outwards)."""
        horizon = self.horizon(now)
        start, end = time_range.start, time_range.end
        if start is not None and start < horizon:
            start = _hour(start)
        if end is not None and end < horizon:
            end = _hour(end) + HOUR - MICROSECOND
        return replace(time_range, start=start, end=end)
