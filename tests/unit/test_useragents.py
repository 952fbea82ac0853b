"""Who is fetching, by User-Agent: crawlers (analytics leaves them out) and link crawlers (short links answer
them with a card)."""

from __future__ import annotations

import pytest

from clearframe_runtime.useragents import is_bot, is_link_crawler

LINK_CRAWLER_AGENTS = (
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "Twitterbot/1.0",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "TelegramBot (like TwitterBot)",
    "WhatsApp/2.23.20.0 A",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
    "http.rb/5.1.1 (Mastodon/4.2.1; +https://mastodon.social/)",
    "Iframely/1.3.1 (+https://iframely.com/docs/about)",
)
PEOPLE = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0]",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Teams/1.6.00.4472 "
    "Chrome/80.0.3987.165 Electron/8.5.1 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; CUBOT KingKong 9) AppleWebKit/537.36 Chrome/119.0 Mobile Safari/537.36",
    "",
)


@pytest.mark.parametrize("agent", LINK_CRAWLER_AGENTS)
def test_link_crawlers_are_crawlers(agent: str) -> None:
    assert is_link_crawler(agent) and is_bot(agent)


@pytest.mark.parametrize("agent", PEOPLE)
def test_people_in_browsers_and_in_app_browsers_are_neither(agent: str) -> None:
    assert not is_link_crawler(agent) and not is_bot(agent)


def test_search_crawlers_are_bots() -> None:
    assert is_bot("Mozilla/5.0 (compatible; YandexBot/3.0)") and is_bot("Some-Crawler/1.0")
