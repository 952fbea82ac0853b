"""The link store's contract, run on the in-memory fake, SQLite and PostgreSQL (when configured; required in
CI): what the links domain relies on, above all exact counters under concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from clearframe_runtime import db
from services.sharelinks.adapters.sql import SqlAssetStore, SqlLinkStore
from services.sharelinks.domain.model import ShareLink
from services.sharelinks.ports import DuplicateCode, LinkStore
from services.sharelinks.tests.fake_links import MemoryLinkStore
from services.sharelinks.tests.test_store import CET, MEMORY, MIGRATIONS, T0, backend, make_asset

__all__ = ["backend"]  # the fixture, shared with the asset store's contract

ASSET_1 = f"{1:016x}"
ASSET_2 = f"{2:016x}"


def make_link(code: str, asset_id: str = ASSET_1, *, created_at: datetime = T0, **fields: object) -> ShareLink:
    base = ShareLink(
        code=code,
        asset_id=asset_id,
        title="Card title",
        description='ünïcode "quoted"',
        tags=("b", "a"),
        creator="key:creator",
        created_at=created_at,
        updated_at=created_at,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


@pytest.fixture
async def links(backend: str) -> AsyncIterator[LinkStore]:
    """A link store whose database holds assets 1 and 2 (links refer to their asset)."""
    if backend == MEMORY:
        yield MemoryLinkStore()
        return
    await db.migrate(backend, MIGRATIONS)
    engine = db.create_engine(backend)
    try:
        assets = SqlAssetStore(db.session_factory(engine))
        await assets.insert(make_asset(1))
        await assets.insert(make_asset(2))
        yield SqlLinkStore(db.session_factory(engine))
    finally:
        await engine.dispose()


async def test_a_link_reads_back_whole_in_utc(links: LinkStore) -> None:
    link = make_link(
        "Abc12345",
        created_at=datetime(2026, 12, 1, 13, 0, tzinfo=CET),
        expires_at=datetime(2026, 12, 31, tzinfo=UTC),
        max_clicks=10,
        disabled=True,
        redirect_status=308,
        utm=(("source", "mail"), ("campaign", "dec")),
    )
    await links.insert_link(link)
    found = await links.get_link("Abc12345")
    assert found == link
    assert found is not None and found.created_at.utcoffset() == timedelta(0)
    assert found.utm == (("source", "mail"), ("campaign", "dec")) and found.tags == ("b", "a")
    assert await links.get_link("Nope0000") is None


async def test_a_taken_code_is_refused_and_concurrent_inserts_have_one_winner(links: LinkStore) -> None:
    await links.insert_link(make_link("taken-1"))
    with pytest.raises(DuplicateCode):
        await links.insert_link(make_link("taken-1", ASSET_2))
    outcomes = await asyncio.gather(
        *(links.insert_link(make_link("raced-1", title=f"try {n}")) for n in range(8)), return_exceptions=True
    )
    assert sum(outcome is None for outcome in outcomes) == 1
    assert all(isinstance(outcome, DuplicateCode) for outcome in outcomes if outcome is not None)
    assert (await links.get_link("taken-1")).asset_id == ASSET_1  # type: ignore[union-attr]


async def test_lists_are_newest_first_then_by_code_and_filter_by_asset(links: LinkStore) -> None:
    await links.insert_link(make_link("old-a", created_at=T0 - timedelta(hours=1)))
    await links.insert_link(make_link("new-b", created_at=T0))
    await links.insert_link(make_link("new-a", created_at=T0))
    await links.insert_link(make_link("other", ASSET_2, created_at=T0 + timedelta(hours=1)))
    assert [link.code for link in await links.links("", 0, 10)] == ["other", "new-a", "new-b", "old-a"]
    assert [link.code for link in await links.links(ASSET_1, 1, 2)] == ["new-b", "old-a"]
    with pytest.raises(ValueError):
        await links.links("", -1, 10)


async def test_updates_set_the_named_fields_only(links: LinkStore) -> None:
    await links.insert_link(make_link("upd-1", max_clicks=3))
    later = T0 + timedelta(minutes=5)
    updated = await links.update_link(
        "upd-1", {"title": "New", "max_clicks": None, "utm": (("medium", "qr"),), "expires_at": later}, later
    )
    assert updated is not None
    assert (updated.title, updated.max_clicks, updated.utm, updated.expires_at) == (
        "New",
        None,
        (("medium", "qr"),),
        later,
    )
    assert updated.updated_at == later and updated.description == 'ünïcode "quoted"'
    assert await links.get_link("upd-1") == updated
    assert await links.update_link("missing", {"title": "x"}, later) is None
    with pytest.raises(ValueError):
        await links.update_link("upd-1", {"clicks": 99}, later)


async def test_a_click_limit_holds_under_concurrent_clicks(links: LinkStore) -> None:
    await links.insert_link(make_link("limit-5", max_clicks=5))
    at = T0 + timedelta(seconds=1)
    outcomes = await asyncio.gather(*(links.count_click("limit-5", at) for _ in range(20)))
    assert sum(counted for _, counted in (o for o in outcomes if o is not None)) == 5
    stored = await links.get_link("limit-5")
    assert stored is not None and stored.clicks == 5 and stored.last_click_at == at
    assert await links.count_click("missing", at) is None


async def test_clicks_added_in_bulk_and_previews_add_up(links: LinkStore) -> None:
    await links.insert_link(make_link("bulk-1"))
    late, early = T0 + timedelta(minutes=2), T0 + timedelta(minutes=1)
    await asyncio.gather(links.add_clicks("bulk-1", 40, late), links.add_clicks("bulk-1", 2, early))
    await asyncio.gather(*(links.count_preview("bulk-1") for _ in range(3)))
    stored = await links.get_link("bulk-1")
    assert stored is not None and (stored.clicks, stored.previews, stored.last_click_at) == (42, 3, late)
    await links.add_clicks("missing", 1, late)  # a link deleted meanwhile: nothing, no error


async def test_deleting_one_link_or_every_link_of_an_asset(links: LinkStore) -> None:
    for code, asset_id in (("del-1", ASSET_1), ("del-2", ASSET_1), ("keep-1", ASSET_2)):
        await links.insert_link(make_link(code, asset_id))
    assert await links.delete_link("del-1") and not await links.delete_link("del-1")
    assert await links.delete_links_of(ASSET_1) == 1
    assert [link.code for link in await links.links("", 0, 10)] == ["keep-1"]
