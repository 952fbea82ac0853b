"""What a producer sends, and the checks that turn it into an :class:`Event` (or one InvalidArgument).

Rules (each refusal is INVALID_ARGUMENT with its reason and ``field``):

- ``event_id``: 1–64 of ``[A-Za-z0-9_-]``, or empty for a generated one (INVALID_EVENT_ID);
- ``asset_id``: 16 lowercase hex characters, required (INVALID_ASSET_ID);
- ``event_type``: view, play or click, required (INVALID_EVENT_TYPE);
- ``platform``: one of seed 002's seven, empty for web (INVALID_PLATFORM);
- ``short_code``: empty, or 3–64 of ``[A-Za-z0-9_-]`` (the share-link service's codes and slugs) (INVALID_SHORT_CODE);
- ``event_time``: empty for the time received; refused, never clamped, when more than ``max_future`` ahead
  of the clock or older than ``max_age`` (INVALID_EVENT_TIME) — a clamped time would count the event in an
  hour it did not happen in;
- ``attributes``: at most 20 (TOO_MANY_ATTRIBUTES); keys 1–64 printable characters, values at most 256
  (INVALID_ATTRIBUTE), except ``user_agent``, which may be as long as a user agent (1024);
- ``user_agent``: at most 1024 characters (INVALID_USER_AGENT); when empty the attribute ``user_agent`` is
  used. It decides :attr:`Event.bot`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from clearframe_runtime.errors import InvalidArgument
from clearframe_runtime.useragents import is_bot
from services.analytics.domain.model import Event, EventType, Platform

EVENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
ASSET_ID_RE = re.compile(r"[0-9a-f]{16}")
SHORT_CODE_RE = re.compile(r"[A-Za-z0-9_-]{3,64}")
USER_AGENT_ATTRIBUTE = "user_agent"


@dataclass(frozen=True)
class Limits:
    """What one event may carry."""

    max_future: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=400)
    max_attributes: int = 20
    max_key_chars: int = 64
    max_value_chars: int = 256
    max_user_agent_chars: int = 1024


@dataclass(frozen=True)
class EventDraft:
    """An event as sent. Enumerations come as names ("view", "slack"); "" is unset, and an unknown value
    (from a newer client, say) is carried as whatever text the wire gave, to be refused by name."""

    asset_id: str
    event_type: str
    platform: str = ""
    event_id: str = ""
    short_code: str = ""
    event_time: datetime | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    user_agent: str = ""


def _refuse(message: str, field_name: str, reason: str) -> InvalidArgument:
    return InvalidArgument(message, field=field_name, reason=reason)


def check_asset_id(asset_id: str, field_name: str = "asset_id") -> str:
    if not ASSET_ID_RE.fullmatch(asset_id):
        raise _refuse(
            f"asset_id must be 16 lowercase hex characters, not {asset_id[:40]!r}", field_name, "INVALID_ASSET_ID"
        )
    return asset_id


def check_short_code(code: str, field_name: str = "short_code") -> str:
    if not SHORT_CODE_RE.fullmatch(code):
        raise _refuse(f"short_code must be 3–64 of [A-Za-z0-9_-], not {code[:70]!r}", field_name, "INVALID_SHORT_CODE")
    return code


_EVENT_TYPE_BY_NAME = {t.value: t for t in EventType}
_PLATFORM_BY_NAME = {p.value: p for p in Platform} | {"": Platform.WEB}


def event_type_of(name: str, field_name: str = "event_type") -> EventType:
    known = _EVENT_TYPE_BY_NAME.get(name)
    if known is None:
        raise _refuse(
            f"event_type must be one of view, play, click (got {name[:40]!r})" if name else "event_type is required",
            field_name,
            "INVALID_EVENT_TYPE",
        )
    return known


def platform_of(name: str, field_name: str = "platform") -> Platform:
    """The platform named (web for "")."""
    platform = _PLATFORM_BY_NAME.get(name)
    if platform is None:
        known = ", ".join(p.value for p in Platform)
        raise _refuse(f"platform must be one of {known} (got {name[:40]!r})", field_name, "INVALID_PLATFORM")
    return platform


def _check_attributes(attributes: Mapping[str, str], limits: Limits) -> dict[str, str]:
    if len(attributes) > limits.max_attributes:
        raise _refuse(
            f"at most {limits.max_attributes} attributes (got {len(attributes)})", "attributes", "TOO_MANY_ATTRIBUTES"
        )
    for key, value in attributes.items():
        if not key or len(key) > limits.max_key_chars or not key.isprintable():
            raise _refuse(
                f"attribute keys are 1–{limits.max_key_chars} printable characters (got {key[:70]!r})",
                "attributes",
                "INVALID_ATTRIBUTE",
            )
        most = limits.max_user_agent_chars if key == USER_AGENT_ATTRIBUTE else limits.max_value_chars
        if len(value) > most:
            raise _refuse(
                f"attribute {key!r} is {len(value)} characters long; at most {most}",
                f"attributes[{key}]",
                "INVALID_ATTRIBUTE",
            )
    return dict(attributes)


#: The last window computed: a batch's events share one `now` and one Limits, so it is computed once per
#: batch, not per event (compared by identity: cheaper than hashing the Limits).
_last_window: list[tuple[datetime, Limits, datetime, datetime]] = []


def _window(now: datetime, limits: Limits) -> tuple[datetime, datetime]:
    """The earliest and latest event times accepted at ``now``."""
    if _last_window:
        last_now, last_limits, earliest, latest = _last_window[0]
        if last_now is now and last_limits is limits:
            return earliest, latest
    earliest, latest = now - limits.max_age, now + limits.max_future
    _last_window[:] = [(now, limits, earliest, latest)]
    return earliest, latest


def check_event(draft: EventDraft, *, now: datetime, new_id: str, limits: Limits) -> Event:
    """The event to store, received at ``now``; ``new_id`` is used when the producer chose none."""
    if draft.event_id and not EVENT_ID_RE.fullmatch(draft.event_id):
        raise _refuse(
            f"event_id must be 1–64 of [A-Za-z0-9_-], not {draft.event_id[:70]!r}", "event_id", "INVALID_EVENT_ID"
        )
    if not draft.asset_id:
        raise _refuse("asset_id is required", "asset_id", "INVALID_ASSET_ID")
    asset_id = check_asset_id(draft.asset_id)
    event_type = event_type_of(draft.event_type)
    platform = platform_of(draft.platform)
    short_code = check_short_code(draft.short_code) if draft.short_code else ""
    event_time = now if draft.event_time is None else draft.event_time
    earliest, latest = _window(now, limits)
    if event_time > latest:
        raise _refuse(
            f"event_time {event_time.isoformat()} is more than {limits.max_future} ahead of the server's clock",
            "event_time",
            "INVALID_EVENT_TIME",
        )
    if event_time < earliest:
        raise _refuse(
            f"event_time {event_time.isoformat()} is older than {limits.max_age.days} days",
            "event_time",
            "INVALID_EVENT_TIME",
        )
    attributes = _check_attributes(draft.attributes, limits)
    if len(draft.user_agent) > limits.max_user_agent_chars:
        raise _refuse(
            f"user_agent is at most {limits.max_user_agent_chars} characters", "user_agent", "INVALID_USER_AGENT"
        )
    user_agent = draft.user_agent or attributes.get(USER_AGENT_ATTRIBUTE, "")
    return Event(
        event_id=draft.event_id or new_id,
        asset_id=asset_id,
        event_type=event_type,
        platform=platform,
        short_code=short_code,
        event_time=event_time,
        receive_time=now,
        attributes=attributes,
        user_agent=user_agent,
        bot=is_bot(user_agent),
    )
