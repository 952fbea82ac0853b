"""Usage events the sharelinks service reports to analytics: a CLICK for every person following a short
link, a VIEW for every delivery of an asset's bytes. Who sent them is read from the request: the platform
from an explicit hint, the in-app browser's User-Agent or the referrer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

PLATFORMS = ("web", "slack", "discord", "teams", "twitter", "facebook", "other")

#: (platform, User-Agent fragments, referrer hosts) in the order they are tried.
_PLATFORM_SIGNS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("slack", ("slack",), ("slack.com",)),
    ("discord", ("discord",), ("discord.com", "discordapp.com", "discord.gg")),
    ("teams", ("teams/", "microsoftpreview", "skypeuripreview"), ("teams.microsoft.com", "teams.live.com")),
    ("twitter", ("twitter",), ("t.co", "twitter.com", "x.com")),
    ("facebook", ("fban", "fbav", "facebook", "messenger"), ("facebook.com", "fb.com", "messenger.com")),
)


@dataclass(frozen=True)
class UsageEvent:
    """One CLICK or VIEW, for analytics (its id makes a resend count once)."""

    event_id: str
    kind: str  # "CLICK" or "VIEW"
    asset_id: str
    platform: str
    at: datetime
    user_agent: str = ""
    #: The short link's code (CLICK), empty for a VIEW.
    code: str = ""
    #: The rendition delivered (VIEW), empty for the original or a click.
    rendition: str = ""


#: Where events go: called on the request's path, so it must only hand the event over (never wait).
EventSink = Callable[[UsageEvent], None]


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def platform_of(user_agent: str, referer: str, hint: str = "") -> str:
    """Where a click came from: an explicit, known hint (``?platform=slack`` on the short URL) wins; then the
    in-app browser's User-Agent, then the referrer's host; a plain browser is ``web``, anything else
    ``other``."""
    if hint in PLATFORMS:
        return hint
    agent = user_agent.lower()
    host = _host(referer)
    for platform, agents, hosts in _PLATFORM_SIGNS:
        if any(sign in agent for sign in agents):
            return platform
        if host and any(host == h or host.endswith("." + h) for h in hosts):
            return platform
    return "web" if agent.startswith("mozilla/") or not agent else "other"
