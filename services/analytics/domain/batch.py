"""A batch of events as columns: what a producer sent (:class:`DraftColumns`) and the checked events
(:class:`EventColumns`), a list per field instead of an object per event.

Ingest checks a whole batch column by column, one pass per rule (:func:`check_columns`), and the store
writes the columns as they are. The rules are :mod:`services.analytics.domain.events`' — a batch passes
here exactly when every one of its events passes :func:`~services.analytics.domain.events.check_event`,
with the same result. A batch that breaks a rule anywhere is not judged here (``None``): the per-event
checks judge it, so that each refusal keeps its exact message, field and place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import chain, compress, repeat

from clearframe_runtime.errors import InvalidArgument
from clearframe_runtime.useragents import is_bot
from services.analytics.domain.events import USER_AGENT_ATTRIBUTE, EventDraft, Limits, _check_attributes
from services.analytics.domain.hours import from_us, to_us
from services.analytics.domain.model import Event, EventType, Platform

#: An event's attributes as (key, value) pairs, in the order sent: hashable, so that a batch whose events
#: carry the same attributes checks (and a store encodes) them once.
Attributes = tuple[tuple[str, str], ...]

#: The characters of event ids and short codes, and of asset ids: a whole column joined matches these
#: exactly when each of its values does (the lengths are checked apart).
_ID_CHARS = re.compile(r"[A-Za-z0-9_-]*")
_HEX_CHARS = re.compile(r"[0-9a-f]*")
_MAX_ID = 64
_ASSET_LENGTH = 16
_CODE_LENGTHS = frozenset({0, *range(3, 65)})
_EVENT_TYPES = frozenset(t.value for t in EventType)
#: Platform names accepted ("" is web) and the name stored for each.
_PLATFORM_NAMES = {p.value: p.value for p in Platform} | {"": Platform.WEB.value}
_EVENT_TYPE_OF = {t.value: t for t in EventType}
_PLATFORM_OF = {p.value: p for p in Platform}


@dataclass(frozen=True)
class DraftColumns:
    """A batch as sent, one list per :class:`~services.analytics.domain.events.EventDraft` field (the same
    length each). Enumerations are names ("" unset, an unknown value as the wire's text); an event time
    is microseconds since the epoch, ``None`` for unset."""

    event_id: Sequence[str]
    asset_id: Sequence[str]
    event_type: Sequence[str]
    platform: Sequence[str]
    short_code: Sequence[str]
    event_time_us: Sequence[int | None]
    attributes: Sequence[Attributes]
    user_agent: Sequence[str]

    def __len__(self) -> int:
        return len(self.event_id)

    def drafts(self) -> list[EventDraft]:
        """The batch event by event (for the per-event checks)."""
        return [
            EventDraft(
                asset_id=asset_id,
                event_type=event_type,
                platform=platform,
                event_id=event_id,
                short_code=short_code,
                event_time=None if at is None else from_us(at),
                attributes=dict(attributes),
                user_agent=user_agent,
            )
            for event_id, asset_id, event_type, platform, short_code, at, attributes, user_agent in zip(
                self.event_id,
                self.asset_id,
                self.event_type,
                self.platform,
                self.short_code,
                self.event_time_us,
                self.attributes,
                self.user_agent,
                strict=True,
            )
        ]


@dataclass(frozen=True)
class EventColumns:
    """Checked events, one list per :class:`~services.analytics.domain.model.Event` field (the same length
    each; ids distinct where a store is given them). Enumerations are their stored names
    (``EventType.value``, ``Platform.value``), times microseconds since the epoch."""

    event_id: Sequence[str]
    asset_id: Sequence[str]
    event_type: Sequence[str]
    platform: Sequence[str]
    short_code: Sequence[str]
    event_time_us: Sequence[int]
    receive_time_us: Sequence[int]
    attributes: Sequence[Attributes]
    user_agent: Sequence[str]
    bot: Sequence[bool]

    def __len__(self) -> int:
        return len(self.event_id)

    @classmethod
    def of(cls, events: Sequence[Event]) -> EventColumns:
        """The columns of ``events`` (aware times)."""
        for e in events:
            if e.event_time.tzinfo is None or e.receive_time.tzinfo is None:
                raise ValueError("event times must be aware")
        return cls(
            event_id=[e.event_id for e in events],
            asset_id=[e.asset_id for e in events],
            event_type=[e.event_type.value for e in events],
            platform=[e.platform.value for e in events],
            short_code=[e.short_code for e in events],
            event_time_us=[to_us(e.event_time) for e in events],
            receive_time_us=[to_us(e.receive_time) for e in events],
            attributes=[tuple(e.attributes.items()) for e in events],
            user_agent=[e.user_agent for e in events],
            bot=[e.bot for e in events],
        )

    @classmethod
    def concat(cls, parts: Sequence[EventColumns]) -> EventColumns:
        """One batch of ``parts``' events, in order."""
        if len(parts) == 1:
            return parts[0]
        return cls(*(list(chain.from_iterable(getattr(part, name) for part in parts)) for name in _FIELDS))

    def select(self, keep: Sequence[bool]) -> EventColumns:
        """The events where ``keep`` is true, in order."""
        return EventColumns(*(list(compress(getattr(self, name), keep)) for name in _FIELDS))

    def events(self) -> list[Event]:
        """The batch event by event."""
        return [
            Event(
                event_id=event_id,
                asset_id=asset_id,
                event_type=_EVENT_TYPE_OF[event_type],
                platform=_PLATFORM_OF[platform],
                short_code=short_code,
                event_time=from_us(at),
                receive_time=from_us(received),
                attributes=dict(attributes),
                user_agent=user_agent,
                bot=bot,
            )
            for event_id, asset_id, event_type, platform, short_code, at, received, attributes, user_agent, bot in zip(
                *(getattr(self, name) for name in _FIELDS), strict=True
            )
        ]


#: EventColumns' fields, in their order (the positional order of its constructor).
_FIELDS = tuple(f.name for f in fields(EventColumns))


def _lengths(column: Iterable[str]) -> set[int]:
    return set(map(len, column))


def check_columns(drafts: DraftColumns, *, ids: Sequence[str], now: datetime, limits: Limits) -> EventColumns | None:
    """The batch's events checked as :func:`~services.analytics.domain.events.check_event` checks each
    (received at ``now``; ``ids`` are the events' ids, each the one sent or, for an event sent without,
    the one chosen for it), when every event passes and ``ids`` are distinct; ``None`` otherwise (judge
    the batch event by event)."""
    n = len(drafts)
    if not n:
        return None
    sent = drafts.event_id
    if max(map(len, sent)) > _MAX_ID or not _ID_CHARS.fullmatch("".join(sent)):
        return None
    assets = drafts.asset_id
    if _lengths(assets) != {_ASSET_LENGTH} or not _HEX_CHARS.fullmatch("".join(assets)):
        return None
    if not set(drafts.event_type) <= _EVENT_TYPES:
        return None
    platform_names = set(drafts.platform)
    if not platform_names <= _PLATFORM_NAMES.keys():
        return None
    codes = drafts.short_code
    if not _lengths(codes) <= _CODE_LENGTHS or not _ID_CHARS.fullmatch("".join(codes)):
        return None
    now_us = to_us(now)
    sent_times = drafts.event_time_us
    times: Sequence[int] = (
        [now_us if at is None else at for at in sent_times] if None in sent_times else sent_times  # type: ignore[assignment]
    )
    earliest, latest = to_us(now - limits.max_age), to_us(now + limits.max_future)
    if min(times) < earliest or max(times) > latest:
        return None
    attributes = drafts.attributes
    attribute_agents: dict[Attributes, str] = {}
    for pairs in set(attributes):
        try:
            checked = _check_attributes(dict(pairs), limits)
        except InvalidArgument:
            return None
        if len(checked) != len(pairs):  # a key twice: not what a draft's mapping can carry
            return None
        attribute_agents[pairs] = checked.get(USER_AGENT_ATTRIBUTE, "")
    agents = drafts.user_agent
    if max(map(len, agents)) > limits.max_user_agent_chars:
        return None
    if "" in agents:
        agents = [agent or attribute_agents[pairs] for agent, pairs in zip(agents, attributes, strict=True)]
    if len(set(ids)) != n:
        return None
    bots = {agent: is_bot(agent) for agent in set(agents)}
    platforms = drafts.platform
    if "" in platform_names:
        platforms = [_PLATFORM_NAMES[name] for name in platforms]
    return EventColumns(
        event_id=ids,
        asset_id=assets,
        event_type=drafts.event_type,
        platform=platforms,
        short_code=codes,
        event_time_us=times,
        receive_time_us=list(repeat(now_us, n)),
        attributes=attributes,
        user_agent=agents,
        bot=[bots[agent] for agent in agents],
    )
