"""What a User-Agent says about who is fetching: a crawler (stored but not counted by analytics) or,
narrower, a chat or social app's link crawler unfurling a URL (served a card instead of a redirect by the
short links).

Crawlers name themselves: either one of the products below, or a word ending in ``bot``, ``crawler`` or
``spider`` as a product token (``Googlebot/2.1``, ``Slackbot-LinkExpanding``, ``SomeCrawler;``). A phone
brand that ends in "bot" (CUBOT) is not a crawler. The apps' in-app browsers (a person reading: "Teams/",
"FBAN", "Twitter for iPhone", "Snapchat") are not crawlers.
"""

from __future__ import annotations

import re
from functools import lru_cache

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


@lru_cache(maxsize=4096)  # the same few agents again and again: decided once each
def is_bot(user_agent: str) -> bool:
    """Whether ``user_agent`` is a known crawler's (an empty one is not: it is simply unknown)."""
    if not user_agent:
        return False
    lowered = user_agent.lower()
    if any(product in lowered for product in _PRODUCTS) or is_link_crawler(lowered):
        return True
    return any(not _NOT_BOTS.match(lowered, _word_start(lowered, m.start())) for m in _GENERIC.finditer(lowered))


def _word_start(text: str, end: int) -> int:
    start = end
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    return start


#: User-Agent fragments (lower case) of the link crawlers chat and social apps send to unfurl a URL.
LINK_CRAWLERS = (
    "slackbot",
    "slack-imgproxy",
    "discordbot",
    "twitterbot",
    "facebookexternalhit",
    "facebookcatalog",
    "facebot",
    "linkedinbot",
    "telegrambot",
    "whatsapp",
    "skypeuripreview",
    "microsoftpreview",
    "pinterestbot",
    "redditbot",
    "embedly",
    "iframely",
    "mastodon",
    "vkshare",
    "bitlybot",
    "applebot",
    "googlebot",
    "bingbot",
)


def is_link_crawler(user_agent: str) -> bool:
    """Whether ``user_agent`` is a link crawler's (every one is also :func:`is_bot`)."""
    agent = user_agent.lower()
    return any(sign in agent for sign in LINK_CRAWLERS)
