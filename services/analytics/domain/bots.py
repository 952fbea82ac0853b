"""Known crawlers: user agents whose events are stored but not counted.

Link-preview fetchers (Slack, Discord, Twitter/X, Facebook, Teams, Telegram, WhatsApp, LinkedIn …), search
engines and generic crawlers. They name themselves: either one of the products below, or a word ending in
``bot``, ``crawler`` or ``spider`` as a product token (``Googlebot/2.1``, ``Slackbot-LinkExpanding``,
``SomeCrawler;``). A phone brand that ends in "bot" (CUBOT) is not a crawler.
"""

from __future__ import annotations

import re

#: Products that fetch links without a person behind each fetch, and do not say "bot".
_PRODUCTS = (
    "facebookexternalhit",
    "facebookcatalog",
    "meta-externalagent",
    "slack-imgproxy",
    "whatsapp",
    "skypeuripreview",
    "microsoftpreview",
    "embedly",
    "quora link preview",
    "vkshare",
    "outbrain",
    "pinterest",
    "ia_archiver",
    "headlesschrome",
    "chrome-lighthouse",
    "google-inspectiontool",
    "yahoo! slurp",
    "mediapartners-google",
)
_GENERIC = re.compile(r"(?:bot|crawler|spider)(?=$|[\s/;:_\-+().,!\]])", re.IGNORECASE)
_NOT_BOTS = re.compile(r"\bcubot\b", re.IGNORECASE)


def is_bot(user_agent: str) -> bool:
    """Whether ``user_agent`` is a known crawler's (an empty one is not: it is simply unknown)."""
    if not user_agent:
        return False
    lowered = user_agent.lower()
    if any(product in lowered for product in _PRODUCTS):
        return True
    return any(not _NOT_BOTS.match(lowered, _word_start(lowered, m.start())) for m in _GENERIC.finditer(lowered))


def _word_start(text: str, end: int) -> int:
    start = end
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    return start
