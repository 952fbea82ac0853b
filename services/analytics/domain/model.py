"""The analytics records: events, the filters and groupings the metrics are computed with, and the metrics
themselves with seed 002's formulas (``ctr`` and ``play_rate`` in percent, rounded to 2 decimals, 0.0
without views, never capped).

Times are aware UTC ``datetime`` values kept to the microsecond (what every store keeps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class EventType(Enum):
    """Kind of engagement event."""

    VIEW = "view"
    PLAY = "play"
    CLICK = "click"


class Platform(Enum):
    """Where an event happened (seed 002), in the contract's order."""

    WEB = "web"
    SLACK = "slack"
    DISCORD = "discord"
    TEAMS = "teams"
    TWITTER = "twitter"
    FACEBOOK = "facebook"
    OTHER = "other"


#: Platforms in their order (GetPlatformMetrics answers in this order).
PLATFORM_ORDER: tuple[Platform, ...] = tuple(Platform)


@dataclass(frozen=True)
class Event:
    """One stored event."""

    event_id: str
    asset_id: str
    event_type: EventType
    platform: Platform
    #: The short link involved; "" for none.
    short_code: str
    event_time: datetime
    receive_time: datetime
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: The client's user agent ("" when unknown).
    user_agent: str = ""
    #: A known crawler's event: stored, not counted in the metrics.
    bot: bool = False


@dataclass(frozen=True)
class TimeRange:
    """Inclusive at both ends; ``None`` is open."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and (self.end is None or moment <= self.end)


ALL_TIME = TimeRange()


@dataclass(frozen=True)
class EventFilter:
    """Which events a query is about; empty / ``None`` fields do not filter."""

    asset_id: str = ""
    short_code: str = ""
    event_type: EventType | None = None
    platform: Platform | None = None
    time_range: TimeRange = ALL_TIME

    def matches(self, event: Event) -> bool:
        return (
            (not self.asset_id or event.asset_id == self.asset_id)
            and (not self.short_code or event.short_code == self.short_code)
            and (self.event_type is None or event.event_type is self.event_type)
            and (self.platform is None or event.platform is self.platform)
            and self.time_range.contains(event.event_time)
        )


class Dimension(Enum):
    """What counts can be grouped by (besides the event type, which they always are)."""

    ASSET = "asset_id"
    SHORT_CODE = "short_code"
    PLATFORM = "platform"
    #: The hour (UTC) the event happened in.
    HOUR = "hour_us"


@dataclass(frozen=True)
class Count:
    """Events of one group and one type: counted ones (humans) and bots apart.

    Dimensions not grouped by are ``""`` (asset, short code) or ``None`` (platform, hour)."""

    event_type: EventType
    humans: int
    bots: int
    asset_id: str = ""
    short_code: str = ""
    platform: Platform | None = None
    #: Start of the hour (UTC).
    hour: datetime | None = None


def ratio(numerator: int, views: int) -> float:
    """Seed 002: round(n / views × 100, 2), 0.0 when there are no views, no cap."""
    return round(numerator / views * 100, 2) if views else 0.0


@dataclass(frozen=True)
class Metrics:
    """Engagement counts (bots excluded) and rates, plus the bots' events counted apart."""

    views: int = 0
    plays: int = 0
    clicks: int = 0
    bot_events: int = 0

    @property
    def ctr(self) -> float:
        return ratio(self.clicks, self.views)

    @property
    def play_rate(self) -> float:
        return ratio(self.plays, self.views)

    @property
    def total_events(self) -> int:
        return self.views + self.plays + self.clicks

    def __add__(self, other: Metrics) -> Metrics:
        return Metrics(
            self.views + other.views,
            self.plays + other.plays,
            self.clicks + other.clicks,
            self.bot_events + other.bot_events,
        )

    @classmethod
    def of(cls, counts: Iterable[Count]) -> Metrics:
        # Summed as plain integers: ListTopAssets builds one per asset, thousands per call.
        humans = {EventType.VIEW: 0, EventType.PLAY: 0, EventType.CLICK: 0}
        bots = 0
        for count in counts:
            humans[count.event_type] += count.humans
            bots += count.bots
        return cls(humans[EventType.VIEW], humans[EventType.PLAY], humans[EventType.CLICK], bots)


class RankBy(Enum):
    """What ListTopAssets ranks by."""

    VIEWS = "views"
    PLAYS = "plays"
    CLICKS = "clicks"
    CTR = "ctr"
    PLAY_RATE = "play_rate"

    @property
    def is_ratio(self) -> bool:
        return self in (RankBy.CTR, RankBy.PLAY_RATE)

    def value_of(self, metrics: Metrics) -> float:
        value: float = getattr(metrics, self.value)
        return value

    def order_key(self, ranked: RankedAsset) -> tuple[float, int, str]:
        """ListTopAssets' order: this metric (as the answer shows it, rounded) high to low, then total
        events high to low, then asset id."""
        return (-self.value_of(ranked.metrics), -ranked.metrics.total_events, ranked.asset_id)


@dataclass(frozen=True)
class RankedAsset:
    asset_id: str
    metrics: Metrics


def rank(candidates: Iterable[RankedAsset], rank_by: RankBy, min_views: int, limit: int) -> list[RankedAsset]:
    """The first ``limit`` of the candidates with at least ``min_views`` views and one counted event, in
    :meth:`RankBy.order_key` order: what every store's ``top_assets`` answers from its candidates."""
    kept = [r for r in candidates if r.metrics.views >= min_views and r.metrics.total_events > 0]
    kept.sort(key=rank_by.order_key)
    return kept[:limit]
