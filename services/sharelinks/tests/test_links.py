"""Short links on in-memory fakes: creation, the public visit (redirect, card, 410, 404), exact clicks,
click events, takedown, QR codes."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from clearframe_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from services.sharelinks.domain.events import UsageEvent
from services.sharelinks.domain.links import ClickCounter, LinkCache, Links, NewLink, Visitor
from services.sharelinks.domain.model import ModerationStatus, RenditionRecord, RenditionState
from services.sharelinks.tests.fake_links import MemoryLinkStore
from services.sharelinks.tests.test_assets import GIF, World

BROWSER = Visitor(user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", accept="text/html")
SLACKBOT = Visitor(user_agent="Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")


class Ticks:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class LinkWorld(World):
    def __init__(self) -> None:
        super().__init__()
        self.link_store = MemoryLinkStore()
        self.ticks = Ticks()
        self.events: list[UsageEvent] = []
        self.counter = ClickCounter(self.link_store.add_clicks, interval_s=0.01)
        codes = iter(f"Code{i:04d}" for i in range(10_000))
        self.links = Links(
            self.link_store,
            self.store,
            base_url="https://cf.example",
            clock=self.clock,
            cache=LinkCache(ttl_s=5, monotonic=self.ticks),
            counter=self.counter,
            clicks=self.events.append,
            new_code=lambda: next(codes),
        )

    async def approved_asset(self, data: bytes = GIF) -> str:
        asset = await self.upload(data, title="Cat <b>")
        await self.assets.apply(self.decision(asset, 1, "APPROVED"))
        return asset.asset_id


@pytest.fixture
async def world() -> LinkWorld:
    return LinkWorld()


async def test_create_and_redirect(world: LinkWorld) -> None:
    asset_id = await world.approved_asset()
    link = await world.links.create(
        NewLink(asset_id=asset_id, utm=(("source", "newsletter"), ("campaign", "dec"))), "key:me"
    )
    assert link.code == "Code0000" and link.redirect_status == 302
    answer = await world.links.visit(link.code, BROWSER)
    assert answer.status == 302 and answer.headers["cache-control"] == "no-store"
    target = urlsplit(answer.headers["location"])
    assert target.path == f"/a/{asset_id}"
    assert dict(parse_qsl(target.query)) == {"utm_source": "newsletter", "utm_campaign": "dec"}
    [event] = world.events
    assert (event.asset_id, event.code, event.platform) == (asset_id, link.code, "web")
    assert (await world.links.get(link.code)).clicks == 1  # counted at once, written later
    await world.counter.flush()
    assert (await world.link_store.get_link(link.code)).clicks == 1  # type: ignore[union-attr]


async def test_custom_slugs_and_their_rules(world: LinkWorld) -> None:
    asset_id = await world.approved_asset()
    await world.links.create(NewLink(asset_id=asset_id, code="winter-sale"), "key:me")
    with pytest.raises(AlreadyExists):
        await world.links.create(NewLink(asset_id=asset_id, code="winter-sale"), "key:me")
    for slug, reason in (
        ("v1", "RESERVED_SHORT_CODE"),
        ("healthz", "RESERVED_SHORT_CODE"),
        ("ab", "INVALID_SHORT_CODE"),
        ("x" * 65, "INVALID_SHORT_CODE"),
        ("../a", "INVALID_SHORT_CODE"),
    ):
        with pytest.raises(InvalidArgument) as caught:
            await world.links.create(NewLink(asset_id=asset_id, code=slug), "key:me")
        assert caught.value.reason == reason, slug


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"max_clicks": 0}, "INVALID_MAX_CLICKS"),
        ({"redirect_status": 303}, "INVALID_REDIRECT_STATUS"),
        ({"utm": (("source", "x" * 101),)}, "INVALID_UTM"),
        ({"title": "t" * 301}, "TEXT_TOO_LONG"),
    ],
)
async def test_bad_links_are_refused(world: LinkWorld, fields: dict[str, object], reason: str) -> None:
    asset_id = await world.approved_asset()
    with pytest.raises(InvalidArgument) as caught:
        await world.links.create(NewLink(asset_id=asset_id, **fields), "key:me")  # type: ignore[arg-type]
    assert caught.value.reason == reason


async def test_expiry_in_the_past_and_links_to_unapproved_assets(world: LinkWorld) -> None:
    asset_id = await world.approved_asset()
    with pytest.raises(InvalidArgument) as caught:
        await world.links.create(NewLink(asset_id=asset_id, expires_at=world.clock() - timedelta(seconds=1)), "k")
    assert caught.value.reason == "INVALID_EXPIRE_TIME"
    pending = await world.upload(GIF + b"p")
    with pytest.raises(FailedPrecondition):
        await world.links.create(NewLink(asset_id=pending.asset_id), "k")
    with pytest.raises(NotFound):
        await world.links.create(NewLink(asset_id="0123456789abcdef"), "k")


async def test_gone_links_answer_410(world: LinkWorld) -> None:
    asset_id = await world.approved_asset()
    limited = await world.links.create(NewLink(asset_id=asset_id, max_clicks=2), "k")
    assert (await world.links.visit(limited.code, BROWSER)).status == 302
    assert (await world.links.visit(limited.code, BROWSER)).status == 302
    third = await world.links.visit(limited.code, Visitor(accept="application/json"))
    assert third.status == 410 and json.loads(third.body)["reason"]
    assert (await world.links.get(limited.code)).clicks == 2
    expiring = await world.links.create(
        NewLink(asset_id=asset_id, expires_at=world.clock() + timedelta(minutes=1)), "k"
    )
    world.clock.advance(61)
    gone = await world.links.visit(expiring.code, BROWSER)
    assert gone.status == 410 and gone.content_type.startswith("text/html")
    disabled = await world.links.create(NewLink(asset_id=asset_id, disabled=True), "k")
    assert (await world.links.visit(disabled.code, BROWSER)).status == 410
    with pytest.raises(FailedPrecondition):
        await world.links.resolve(disabled.code, BROWSER)
    with pytest.raises(NotFound):
        await world.links.visit("NoSuchOne", BROWSER)


async def test_crawlers_get_the_card_and_count_as_previews(world: LinkWorld) -> None:
    asset_id = await world.approved_asset()
    await world.store.save_rendition(RenditionRecord(asset_id, "mp4", RenditionState.READY, "video/mp4", 64, 48, 10))
    link = await world.links.create(NewLink(asset_id=asset_id, description='He said "hi" & <left>'), "k")
    card = await world.links.visit(link.code, SLACKBOT)
    html = card.body.decode()
    assert card.status == 200 and card.content_type.startswith("text/html")
    assert "<b>" not in html and "&lt;b&gt;" in html and "&quot;hi&quot;" in html
    assert f"/a/{asset_id}/mp4" in html and 'property="og:video' in html
    assert world.events == []
    stored = await world.links.get(link.code)
    assert (stored.clicks, stored.previews) == (0, 1)
    _, graph = await world.links.metadata(link.code)
    assert graph["url"] == f"https://cf.example/s/{link.code}"


async def test_a_takedown_kills_cached_links_at_once(world: LinkWorld) -> None:
    asset_id = await world.approved_asset()
    link = await world.links.create(NewLink(asset_id=asset_id), "k")
    assert (await world.links.visit(link.code, BROWSER)).status == 302  # now cached
    asset = await world.assets.get(asset_id)
    await world.assets.apply(world.decision(asset, 2, "REJECTED"))
    world.links.forget_asset(asset_id)  # what the decision follower does for every event
    with pytest.raises(NotFound):
        await world.links.visit(link.code, BROWSER)
    assert (await world.assets.get(asset_id)).moderation.status is ModerationStatus.REJECTED


async def test_clicks_are_exact_under_concurrency(world: LinkWorld) -> None:
    asset_id = await world.approved_asset()
    free = await world.links.create(NewLink(asset_id=asset_id), "k")
    limited = await world.links.create(NewLink(asset_id=asset_id, max_clicks=30), "k")
    answers = await asyncio.gather(
        *(world.links.visit(free.code, BROWSER) for _ in range(100)),
        *(world.links.visit(limited.code, BROWSER) for _ in range(50)),
    )
    assert sum(a.status == 302 for a in answers) == 130
    await world.counter.flush()
    assert (await world.link_store.get_link(free.code)).clicks == 100  # type: ignore[union-attr]
    assert (await world.link_store.get_link(limited.code)).clicks == 30  # type: ignore[union-attr]
    assert len(world.events) == 130


async def test_batch_create_reports_each_item(world: LinkWorld) -> None:
    asset_id = await world.approved_asset()
    results = await world.links.create_many(
        [NewLink(asset_id=asset_id), NewLink(asset_id=asset_id, code="v1"), NewLink(asset_id=asset_id)], "k"
    )
    assert [type(r).__name__ for r in results] == ["ShareLink", "InvalidArgument", "ShareLink"]
    with pytest.raises(InvalidArgument) as caught:
        await world.links.create_many([NewLink(asset_id=asset_id)] * 1001, "k")
    assert caught.value.reason == "TOO_MANY_LINKS"


async def test_update_takes_effect_at_once(world: LinkWorld) -> None:
    asset_id = await world.approved_asset()
    link = await world.links.create(NewLink(asset_id=asset_id), "k")
    assert (await world.links.visit(link.code, BROWSER)).status == 302
    await world.links.update(link.code, {"redirect_status": 301, "disabled": False})
    assert (await world.links.visit(link.code, BROWSER)).status == 301
    await world.links.update(link.code, {"disabled": True})
    assert (await world.links.visit(link.code, BROWSER)).status == 410
    with pytest.raises(InvalidArgument):
        await world.links.update(link.code, {"asset_id": "x"})


async def test_qr_codes(world: LinkWorld) -> None:
    asset_id = await world.approved_asset()
    link = await world.links.create(NewLink(asset_id=asset_id), "k")
    content_type, png = await world.links.qr(link.code, "", 0)
    assert content_type == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n"
    content_type, svg = await world.links.qr(link.code, "svg", 0)
    assert content_type == "image/svg+xml" and b"<svg" in svg
    with pytest.raises(InvalidArgument):
        await world.links.qr(link.code, "gif", 0)


async def test_random_codes_retry_on_collisions_under_concurrency() -> None:
    """Many parallel creates drawing from a tiny code space: each collision is retried with a new code, none
    overwrites another link, and when every attempt collides the caller is told to try again."""
    world = LinkWorld()
    pool = [f"Pool{n:04d}" for n in range(60)]
    draws = iter(pool[n % 60] for n in range(10_000))  # every code comes round again and again
    world.links._new_code = lambda: next(draws)
    asset_id = await world.approved_asset()
    made = await asyncio.gather(*(world.links.create(NewLink(asset_id=asset_id), "k") for _ in range(50)))
    assert len({link.code for link in made}) == 50
    assert [await world.link_store.get_link(link.code) for link in made] == made
    world.links._new_code = lambda: "Pool0000"
    with pytest.raises(ResourceExhausted):
        await world.links.create(NewLink(asset_id=asset_id), "k")


async def test_click_counts_read_during_a_flush_are_exact() -> None:
    """While the counter writes its clicks, they have left memory but are not stored yet: a read then waits
    for the write instead of answering too few."""
    world = LinkWorld()
    asset_id = await world.approved_asset()
    link = await world.links.create(NewLink(asset_id=asset_id), "k")
    for _ in range(3):
        await world.links.visit(link.code, BROWSER)
    release = asyncio.Event()
    stored_add = world.link_store.add_clicks

    async def slow_add(code: str, count: int, at: datetime) -> None:
        await release.wait()
        await stored_add(code, count, at)

    world.counter._add = slow_add
    flushing = asyncio.create_task(world.counter.flush())
    await asyncio.sleep(0)
    reading = asyncio.create_task(world.links.get(link.code))
    await asyncio.sleep(0.01)
    assert not reading.done()  # it waits for the flush
    release.set()
    await flushing
    assert (await reading).clicks == 3
    assert (await world.links.get(link.code)).clicks == 3
