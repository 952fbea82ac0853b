"""Short share links: creation (random codes, custom slugs, batches), the public visit (redirect, card for
link crawlers, 410 Gone), exact click counting kept off the redirect's path, and CLICK events for analytics.

Nothing here imports grpc or generated code; the servicer translates between this and the wire.
"""

from __future__ import annotations

import asyncio
import html
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

import structlog

from clearframe_runtime.clock import Clock
from clearframe_runtime.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from clearframe_runtime.expiring import Expiring
from clearframe_runtime.pagination import decode_page_token, encode_page_token, page_size
from clearframe_runtime.useragents import is_link_crawler
from services.sharelinks.domain import linkweb
from services.sharelinks.domain.assets import Limits, check_asset_id, check_text
from services.sharelinks.domain.events import EventSink, UsageEvent, platform_of
from services.sharelinks.domain.model import REDIRECT_STATUSES, Asset, RenditionRecord, RenditionState, ShareLink
from services.sharelinks.ports import AssetStore, DuplicateCode, LinkStore

log = structlog.get_logger(__name__)
T = TypeVar("T")

UTM_KEYS = ("source", "medium", "campaign", "term", "content")
MAX_UTM = 100
MAX_BATCH = 1000
#: A card's texts: the asset's limits, with the contract's shorter description.
_LINK_LIMITS = Limits(max_description=1000)
#: Fields UpdateShareLink may change.
LINK_FIELDS = ("title", "description", "tags", "expires_at", "max_clicks", "disabled", "redirect_status", "utm")
#: Attempts at a fresh random code before giving up (8 of 62 characters: collisions are rare).
CODE_ATTEMPTS = 8


@dataclass(frozen=True)
class NewLink:
    asset_id: str
    code: str = ""
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    expires_at: datetime | None = None
    max_clicks: int | None = None
    disabled: bool = False
    redirect_status: int = 302
    utm: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Visitor:
    """Who follows a short URL, as far as its request says."""

    user_agent: str = ""
    referer: str = ""
    accept: str = ""
    platform: str = ""


@dataclass(frozen=True)
class Answer:
    """What the public short URL answers: a redirect, the card, or Gone."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]


def link_not_found(code: str) -> NotFound:
    return NotFound(f"share link {code[:64]!r} not found", reason="SHARE_LINK_NOT_FOUND")


def check_utm(pairs: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    kept = []
    for key, value in pairs:
        if key not in UTM_KEYS:
            raise InvalidArgument(f"unknown UTM parameter {key!r}", field="utm", reason="INVALID_UTM")
        if len(value) > MAX_UTM:
            raise InvalidArgument(
                f"utm.{key} is longer than {MAX_UTM} characters", field=f"utm.{key}", reason="INVALID_UTM"
            )
        if value:
            kept.append((key, value))
    return tuple(kept)


class LinkCache:
    """code → (link, its asset) for the hot path: bounded, short-lived, dropped at once when the link or
    its asset changes (writes here; decision events for the asset)."""

    def __init__(self, *, ttl_s: float, monotonic: Callable[[], float], max_entries: int = 10_000):
        self._entries: Expiring[tuple[ShareLink, Asset, tuple[RenditionRecord, ...]]] = Expiring(
            ttl_s, monotonic, max_entries
        )
        self._drops = 0

    def get(self, code: str) -> tuple[ShareLink, Asset, tuple[RenditionRecord, ...]] | None:
        return self._entries.get(code)

    @property
    def drops(self) -> int:
        """How many drops so far: a lookup notes it before reading and passes it to :meth:`keep`."""
        return self._drops

    def keep(
        self, link: ShareLink, asset: Asset, renditions: tuple[RenditionRecord, ...], *, drops: int | None = None
    ) -> None:
        """Keep a lookup's answer, unless something was dropped since the lookup began (``drops``): it may
        have read the link or its asset before that change."""
        if drops is not None and drops != self._drops:
            return
        self._entries.keep(link.code, (link, asset, renditions))

    def drop(self, code: str) -> None:
        self._drops += 1
        self._entries.drop(code)

    def drop_asset(self, asset_id: str) -> None:
        self._drops += 1
        self._entries.drop_where(lambda entry: entry[1].asset_id == asset_id)


class ClickCounter:
    """Clicks of links without a click limit, added up in memory and written in one statement per link
    every ``interval_s`` (and at shutdown): exact, and never a database write on the redirect's path.
    Links with a limit are counted synchronously (atomically, so the limit holds across replicas)."""

    def __init__(self, add: Callable[[str, int, datetime], Awaitable[None]], *, interval_s: float = 0.2):
        self._add = add
        self._interval_s = interval_s
        self._pending: dict[str, tuple[int, datetime]] = {}
        #: Flushes so far, and whether none is under way: a read of the counts must not overlap one.
        self._flushes = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def count(self, code: str, at: datetime) -> int:
        """Count one click; how many of this link are waiting to be written (this one included)."""
        n, _ = self._pending.get(code, (0, at))
        self._pending[code] = (n + 1, at)
        return n + 1

    def waiting(self, code: str) -> int:
        return self._pending.get(code, (0, None))[0]

    async def flush(self) -> None:
        if not self._pending:
            return
        self._flushes += 1
        self._idle.clear()
        try:
            pending, self._pending = self._pending, {}
            for code, (n, at) in pending.items():
                try:
                    await self._add(code, n, at)
                except Exception as exc:  # the database is down: keep them for the next round
                    log.warning("click counts not written yet", code=code, clicks=n, error=str(exc))
                    m, last = self._pending.get(code, (0, at))
                    self._pending[code] = (m + n, max(last, at))
        finally:
            self._idle.set()

    async def consistent(self, read: Callable[[], Awaitable[T]]) -> T:
        """``read()`` (of stored links) done while no flush is under way, so that the stored counts plus
        :meth:`waiting` are exact: during a flush some counts have left memory but are not yet stored."""
        while True:
            await self._idle.wait()
            flushes = self._flushes
            value = await read()
            if flushes == self._flushes and self._idle.is_set():
                return value

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._interval_s)
                await self.flush()
        finally:
            await self.flush()


class Links:
    def __init__(
        self,
        links: LinkStore,
        assets: AssetStore,
        *,
        base_url: str,
        clock: Clock,
        cache: LinkCache,
        counter: ClickCounter,
        clicks: EventSink,
        site_name: str = "Clearframe",
        new_code: Callable[[], str] = linkweb.new_code,
    ):
        self._links = links
        self._assets = assets
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._cache = cache
        self._counter = counter
        self._clicks = clicks
        self._site_name = site_name
        self._new_code = new_code

    def short_url(self, code: str) -> str:
        return f"{self._base_url}/s/{code}"

    def canonical_url(self, asset_id: str) -> str:
        return f"{self._base_url}/a/{asset_id}"

    def clicks_of(self, link: ShareLink) -> ShareLink:
        """The link with the clicks not yet written counted in."""
        waiting = self._counter.waiting(link.code)
        return replace(link, clicks=link.clicks + waiting) if waiting else link

    # -------------------------------------------------------------------------------------- create

    def _checked(self, new: NewLink) -> NewLink:
        check_asset_id(new.asset_id)
        check_text(new.title, new.tags, new.description, _LINK_LIMITS)
        if new.code:
            linkweb.check_slug(new.code)
        now = self._clock()
        if new.expires_at is not None and new.expires_at <= now:
            raise InvalidArgument(
                "expire_time must lie in the future", field="expire_time", reason="INVALID_EXPIRE_TIME"
            )
        if new.max_clicks is not None and new.max_clicks <= 0:
            raise InvalidArgument(
                "max_clicks must be positive (0 means no limit)", field="max_clicks", reason="INVALID_MAX_CLICKS"
            )
        if new.redirect_status not in REDIRECT_STATUSES:
            raise InvalidArgument(
                f"redirect_status must be one of {', '.join(map(str, REDIRECT_STATUSES))}",
                field="redirect_status",
                reason="INVALID_REDIRECT_STATUS",
            )
        return replace(new, utm=check_utm(new.utm))

    async def create(self, new: NewLink, creator: str) -> ShareLink:
        new = self._checked(new)
        asset = await self._assets.get(new.asset_id)
        if asset is None:
            raise NotFound(f"asset {new.asset_id} not found", reason="ASSET_NOT_FOUND")
        if not asset.delivered:
            raise FailedPrecondition(
                f"asset {new.asset_id} is {asset.moderation.status.value}; links can point at APPROVED assets only",
                reason="ASSET_NOT_APPROVED",
            )
        now = self._clock()
        for _ in range(1 if new.code else CODE_ATTEMPTS):
            link = ShareLink(
                code=new.code or self._new_code(),
                asset_id=new.asset_id,
                title=new.title,
                description=new.description,
                tags=new.tags,
                creator=creator,
                created_at=now,
                updated_at=now,
                expires_at=new.expires_at,
                max_clicks=new.max_clicks,
                disabled=new.disabled,
                redirect_status=new.redirect_status,
                utm=new.utm,
            )
            try:
                await self._links.insert_link(link)
            except DuplicateCode:
                if new.code:
                    raise AlreadyExists(f"the code {new.code!r} is taken", reason="SHARE_LINK_ALREADY_EXISTS") from None
                continue
            return link
        raise ResourceExhausted("no free code found; try again", reason="CODE_SPACE_EXHAUSTED")

    async def create_many(self, items: Sequence[NewLink], creator: str) -> list[ShareLink | DomainError]:
        if not 1 <= len(items) <= MAX_BATCH:
            raise InvalidArgument(
                f"a batch holds 1 to {MAX_BATCH} links, not {len(items)}", field="requests", reason="TOO_MANY_LINKS"
            )
        results: list[ShareLink | DomainError] = []
        for item in items:
            try:
                results.append(await self.create(item, creator))
            except DomainError as exc:
                results.append(exc)
        return results

    # -------------------------------------------------------------------------------------- read / change

    async def get(self, code: str) -> ShareLink:
        linkweb.check_code(code)
        link = await self._counter.consistent(lambda: self._links.get_link(code))
        if link is None:
            raise link_not_found(code)
        return self.clicks_of(link)

    async def page(self, asset_id: str, size: int, token: str) -> tuple[list[ShareLink], str]:
        if asset_id:
            check_asset_id(asset_id)
        limit = page_size(size)
        offset = decode_page_token(token, (asset_id,))
        rows = await self._counter.consistent(lambda: self._links.links(asset_id, offset, limit + 1))
        more = len(rows) > limit
        return [self.clicks_of(r) for r in rows[:limit]], encode_page_token(offset + limit, (asset_id,)) if more else ""

    async def update(self, code: str, changes: dict[str, object]) -> ShareLink:
        current = await self.get(code)
        unknown = set(changes) - set(LINK_FIELDS)
        if unknown:
            raise InvalidArgument(
                f"cannot update {', '.join(sorted(unknown))}", field="update_mask", reason="INVALID_UPDATE_MASK"
            )
        merged = replace(
            NewLink(
                asset_id=current.asset_id,
                title=current.title,
                description=current.description,
                tags=current.tags,
                expires_at=None,
                max_clicks=current.max_clicks,
                disabled=current.disabled,
                redirect_status=current.redirect_status,
                utm=current.utm,
            ),
            **changes,  # type: ignore[arg-type]
        )
        checked = self._checked(merged)
        values = {name: getattr(checked, name) for name in changes}
        self._cache.drop(code)
        updated = await self._links.update_link(code, values, self._clock())
        self._cache.drop(code)
        if updated is None:
            raise link_not_found(code)
        return self.clicks_of(updated)

    async def delete(self, code: str) -> None:
        linkweb.check_code(code)
        self._cache.drop(code)
        if not await self._links.delete_link(code):
            raise link_not_found(code)

    def forget_asset(self, asset_id: str) -> None:
        """The asset changed (a decision, a delete): its links are looked up afresh."""
        self._cache.drop_asset(asset_id)

    # -------------------------------------------------------------------------------------- public

    async def _live(self, code: str) -> tuple[ShareLink, Asset, tuple[RenditionRecord, ...]]:
        """The link and its delivered asset, or NotFound (unknown link, asset not delivered)."""
        linkweb.check_code(code)
        cached = self._cache.get(code)
        if cached is None:
            drops = self._cache.drops
            link = await self._links.get_link(code)
            if link is None:
                raise link_not_found(code)
            asset = await self._assets.get(link.asset_id)
            if asset is None:
                raise link_not_found(code)
            renditions = tuple(await self._assets.renditions(asset.asset_id))
            cached = (link, asset, renditions)
            self._cache.keep(link, asset, renditions, drops=drops)
        link, asset, renditions = cached
        if not asset.delivered:
            raise link_not_found(code)
        return link, asset, renditions

    def _gone(self, link: ShareLink) -> str | None:
        if link.disabled:
            return "disabled"
        if link.expires_at is not None and link.expires_at <= self._clock():
            return "expired"
        if link.max_clicks is not None and link.clicks + self._counter.waiting(link.code) >= link.max_clicks:
            return "click limit reached"
        return None

    async def _count(self, link: ShareLink) -> ShareLink | None:
        """Count a click; None when the link is used up (its limit reached meanwhile)."""
        now = self._clock()
        if link.max_clicks is None:
            self._counter.count(link.code, now)
            return replace(link, clicks=link.clicks + self._counter.waiting(link.code), last_click_at=now)
        outcome = await self._links.count_click(link.code, now)
        self._cache.drop(link.code)
        if outcome is None or not outcome[1]:  # deleted meanwhile, or at its limit: this click is not counted
            return None
        return outcome[0]

    def _record(self, link: ShareLink, visitor: Visitor) -> None:
        self._clicks(
            UsageEvent(
                event_id=uuid.uuid4().hex,
                kind="CLICK",
                asset_id=link.asset_id,
                code=link.code,
                platform=platform_of(visitor.user_agent, visitor.referer, visitor.platform),
                at=self._clock(),
                user_agent=visitor.user_agent[:512],
            )
        )

    async def visit(self, code: str, visitor: Visitor) -> Answer:
        link, asset, renditions = await self._live(code)
        if is_link_crawler(visitor.user_agent):
            return await self._card_answer(link, asset, renditions)
        gone = self._gone(link)
        if gone is None:
            counted = await self._count(link)
            if counted is None:
                gone = "click limit reached"
        if gone is not None:
            return self._gone_answer(code, gone, visitor)
        self._record(link, visitor)
        target = linkweb.redirect_target(self.canonical_url(asset.asset_id), link.utm)
        body = f'<!doctype html><a href="{_escape(target)}">{_escape(target)}</a>\n'.encode()
        return Answer(
            link.redirect_status,
            "text/html; charset=utf-8",
            body,
            {"location": target, "cache-control": "no-store", "referrer-policy": "no-referrer-when-downgrade"},
        )

    async def resolve(self, code: str, visitor: Visitor) -> tuple[ShareLink, str]:
        """Seed 002's resolve: count one click, answer the link and its target (no redirect)."""
        link, asset, _ = await self._live(code)
        gone = self._gone(link)
        counted = await self._count(link) if gone is None else None
        if counted is None:
            raise FailedPrecondition(
                f"share link {code} is gone ({gone or 'click limit reached'})", reason="SHARE_LINK_GONE"
            )
        self._record(link, visitor)
        # The answer carries the click count: read afresh (the cached link's count may be seconds old).
        fresh = await self.get(code) if link.max_clicks is None else counted
        return fresh, linkweb.redirect_target(self.canonical_url(asset.asset_id), link.utm)

    def _facts(self, link: ShareLink, asset: Asset, renditions: tuple[RenditionRecord, ...]) -> linkweb.CardFacts:
        ready = {r.name: r for r in renditions if r.state is RenditionState.READY}
        poster, mp4 = ready.get("poster"), ready.get("mp4")
        kind = "video" if asset.content_type.startswith("video/") else "animated" if asset.frame_count > 1 else "image"
        rendition_url = f"{self.canonical_url(asset.asset_id)}/"
        return linkweb.CardFacts(
            title=link.title or asset.title or f"{self._site_name} {asset.asset_id}",
            description=link.description or asset.description,
            short_url=self.short_url(link.code),
            canonical_url=self.canonical_url(asset.asset_id),
            site_name=self._site_name,
            kind=kind,
            content_type=asset.content_type,
            width=asset.width,
            height=asset.height,
            poster_url=rendition_url + "poster" if poster else "",
            poster_type=poster.content_type if poster else "",
            poster_width=poster.width if poster else 0,
            poster_height=poster.height if poster else 0,
            mp4_url=rendition_url + "mp4" if mp4 else "",
            mp4_width=mp4.width if mp4 else 0,
            mp4_height=mp4.height if mp4 else 0,
        )

    async def _card_answer(self, link: ShareLink, asset: Asset, renditions: tuple[RenditionRecord, ...]) -> Answer:
        await self._links.count_preview(link.code)
        html = linkweb.card_html(self._facts(link, asset, renditions))
        return Answer(200, "text/html; charset=utf-8", html.encode(), {"cache-control": "public, max-age=300"})

    def _gone_answer(self, code: str, reason: str, visitor: Visitor) -> Answer:
        if linkweb.wants_json(visitor.accept):
            return Answer(
                410, "application/json", json.dumps(linkweb.gone_json(reason)).encode(), {"cache-control": "no-store"}
            )
        return Answer(
            410, "text/html; charset=utf-8", linkweb.gone_html(reason).encode(), {"cache-control": "no-store"}
        )

    async def card(self, code: str) -> Answer:
        link, asset, renditions = await self._live(code)
        return await self._card_answer(link, asset, renditions)

    async def metadata(self, code: str) -> tuple[ShareLink, dict[str, Any]]:
        link, asset, renditions = await self._live(code)
        return await self.get(code), linkweb.open_graph(self._facts(link, asset, renditions))

    async def qr(self, code: str, fmt: str, scale: int) -> tuple[str, bytes]:
        link, _, _ = await self._live(code)
        if self._gone(link) is not None:
            raise link_not_found(code)
        fmt = fmt or "png"
        if fmt == "svg":
            return "image/svg+xml", linkweb.qr_svg(self.short_url(code))
        if fmt != "png":
            raise InvalidArgument("format must be png or svg", field="format", reason="INVALID_QR_FORMAT")
        if not 0 <= scale <= 40:
            raise InvalidArgument("scale must be 1-40", field="scale", reason="INVALID_QR_FORMAT")
        return "image/png", linkweb.qr_png(self.short_url(code), scale=scale or 8)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
