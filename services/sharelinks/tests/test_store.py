"""The asset store's contract, run on the in-memory fake, SQLite and PostgreSQL (when configured; required
in CI), so that the fake the domain's tests use behaves as the databases do; and the migrations' checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from clearframe_runtime import db
from clearframe_runtime.testing import assert_migrations_idempotent, database_for
from services.sharelinks.adapters.sql import SqlAssetStore, metadata
from services.sharelinks.domain.model import (
    Asset,
    Moderation,
    ModerationStatus,
    RenditionRecord,
    RenditionState,
    Visibility,
)
from services.sharelinks.ports import AssetFilter, AssetStore, DuplicateAsset
from services.sharelinks.tests.fake_store import MemoryAssetStore

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
T0 = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
#: A zone east of UTC: what is stored is the instant, what comes back is UTC.
CET = timezone(timedelta(hours=1))


def make_asset(
    n: int,
    *,
    created_at: datetime = T0,
    tags: tuple[str, ...] = ("cat", "outdoor"),
    owner: str = "k_owner",
    status: ModerationStatus = ModerationStatus.PENDING,
) -> Asset:
    asset_id = f"{n:016x}"
    return Asset(
        asset_id=asset_id,
        sha256=asset_id * 4,
        content_type="image/webp",
        size_bytes=5_000_000_000 + n,  # past 32 bits
        width=640,
        height=480,
        frame_count=12,
        duration_s=1.25,
        title=f"Asset {n}",
        tags=tags,
        description="A test asset, ünïcode included.",
        filename=f"asset-{n}.webp",
        usage_intent="public_site",
        model_id="m-1",
        visibility=Visibility.PUBLIC,
        cache_policy="STANDARD",
        owner=owner,
        created_at=created_at,
        updated_at=created_at,
        moderation=Moderation(status=status, scan_id=f"scan-{n}", revision=3, scan_attempt=1),
    )


async def _sql_store(url: str) -> AsyncIterator[AssetStore]:
    await db.migrate(url, MIGRATIONS)
    engine = db.create_engine(url)
    try:
        yield SqlAssetStore(db.session_factory(engine))
    finally:
        await engine.dispose()


MEMORY = "memory"


@pytest.fixture(params=[MEMORY, "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """``MEMORY`` or a fresh SQL database's URL (clearframe_runtime.testing.database_for)."""
    if request.param in (MEMORY,):
        yield request.param
        return
    with database_for(request.param, tmp_path, "sharelinks") as url:
        yield url


@pytest.fixture
async def store(backend: str) -> AsyncIterator[AssetStore]:
    """The same contract on each store."""
    if backend == MEMORY:
        yield MemoryAssetStore()
        return
    async for sql in _sql_store(backend):
        yield sql


def ids(assets: list[Asset]) -> list[str]:
    return [asset.asset_id for asset in assets]


# ------------------------------------------------------------------------------------------- assets


async def test_an_inserted_asset_reads_back_whole_with_utc_datetimes(store: AssetStore) -> None:
    asset = make_asset(1, created_at=datetime(2026, 12, 1, 13, 30, tzinfo=CET), tags=("b", "a", "b2"))
    await store.insert(asset)
    found = await store.get(asset.asset_id)
    assert found is not None
    assert found == asset  # equal instants, every field, the tags in their order
    assert found.created_at.utcoffset() == timedelta(0) and found.updated_at.utcoffset() == timedelta(0)
    assert found.created_at == datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    assert found.moderation.status is ModerationStatus.PENDING and found.visibility is Visibility.PUBLIC
    assert await store.get(f"{2:016x}") is None


async def test_naive_datetimes_are_refused_and_store_nothing(store: AssetStore) -> None:
    with pytest.raises(ValueError):
        await store.insert(make_asset(1, created_at=datetime(2026, 12, 1, 12)))
    assert await store.get(f"{1:016x}") is None


async def test_a_taken_id_is_a_duplicate_and_the_first_asset_stays(store: AssetStore) -> None:
    first = make_asset(1)
    await store.insert(first)
    with pytest.raises(DuplicateAsset):
        await store.insert(replace(first, title="Impostor", tags=("other",)))
    assert await store.get(first.asset_id) == first
    assert ids(await store.page(AssetFilter(tag="other"), 0, 10)) == []


async def test_of_concurrent_inserts_of_one_id_exactly_one_wins(store: AssetStore) -> None:
    racers = [replace(make_asset(7), title=f"racer {i}") for i in range(6)]
    results = await asyncio.gather(*(store.insert(asset) for asset in racers), return_exceptions=True)
    winners = [asset for asset, result in zip(racers, results, strict=True) if result is None]
    assert len(winners) == 1
    assert all(isinstance(result, DuplicateAsset) for result in results if result is not None)
    assert await store.get(racers[0].asset_id) == winners[0]


async def test_pages_are_newest_first_then_by_id(store: AssetStore) -> None:
    for n, minutes in [(3, 0), (1, 5), (2, 5), (4, 10), (5, -1)]:
        await store.insert(make_asset(n, created_at=T0 + timedelta(minutes=minutes)))
    everything = await store.page(AssetFilter(), 0, 100)
    assert ids(everything) == [f"{n:016x}" for n in (4, 1, 2, 3, 5)]
    assert ids(await store.page(AssetFilter(), 1, 2)) == ids(everything)[1:3]
    assert await store.page(AssetFilter(), 5, 10) == []
    assert await store.page(AssetFilter(), 0, 0) == []
    with pytest.raises(ValueError):
        await store.page(AssetFilter(), -1, 10)


async def test_filters_by_status_owner_and_exact_tag(store: AssetStore) -> None:
    await store.insert(make_asset(1, tags=("cat",), owner="alice", status=ModerationStatus.APPROVED))
    await store.insert(make_asset(2, tags=("cats", "concat"), owner="alice"))
    await store.insert(make_asset(3, tags=("Cat", "%"), owner="bob", status=ModerationStatus.APPROVED))
    await store.insert(make_asset(4, tags=(), owner="bob"))

    async def page(**where: str) -> list[int]:
        return [int(asset_id, 16) for asset_id in ids(await store.page(AssetFilter(**where), 0, 10))]

    assert await page(tag="cat") == [1]  # neither a substring ("cats", "concat") nor another case ("Cat")
    assert await page(tag="%") == [3]  # no pattern: "%" matches only itself
    assert await page(tag="ca") == []
    assert await page(status="APPROVED") == [1, 3]
    assert await page(status="REJECTED") == []
    assert await page(owner="bob") == [3, 4]
    assert await page(owner="bob", tag="%") == [3]
    assert await page(owner="alice", status="PENDING") == [2]


async def test_metadata_updates_change_only_the_named_fields(store: AssetStore) -> None:
    asset = make_asset(1, tags=("cat", "outdoor"))
    await store.insert(asset)
    at = datetime(2026, 12, 2, 9, 0, tzinfo=CET)
    updated = await store.update_metadata(
        asset.asset_id,
        {"title": "New title", "tags": ["dog", "indoor", "dog2"], "visibility": "SIGNED", "cache_policy": "NO_STORE"},
        at,
    )
    expected = replace(
        asset,
        title="New title",
        tags=("dog", "indoor", "dog2"),
        visibility=Visibility.SIGNED,
        cache_policy="NO_STORE",
        updated_at=at,
    )
    assert updated == expected
    assert updated.visibility is Visibility.SIGNED and updated.updated_at.utcoffset() == timedelta(0)
    assert await store.get(asset.asset_id) == expected
    assert ids(await store.page(AssetFilter(tag="dog"), 0, 10)) == [asset.asset_id]
    assert await store.page(AssetFilter(tag="cat"), 0, 10) == []

    described = await store.update_metadata(asset.asset_id, {"description": "", "filename": "x.webp"}, at)
    assert described == replace(expected, description="", filename="x.webp")


async def test_metadata_updates_refuse_other_fields_and_bad_values(store: AssetStore) -> None:
    asset = make_asset(1)
    await store.insert(asset)
    refused: list[dict[str, object]] = [
        {"title": "ok", "owner": "mallory"},
        {"moderation": Moderation(status=ModerationStatus.APPROVED)},
        {"created_at": T0},
        {"tags": "cat"},
        {"tags": ["cat", 3]},
        {"title": 5},
        {"visibility": "SECRET"},
    ]
    for changes in refused:
        with pytest.raises(ValueError):
            await store.update_metadata(asset.asset_id, changes, T0 + timedelta(hours=1))
        with pytest.raises(ValueError):
            await store.update_metadata(f"{9:016x}", changes, T0)
    with pytest.raises(ValueError):
        await store.update_metadata(asset.asset_id, {"title": "ok"}, datetime(2026, 12, 2))
    assert await store.get(asset.asset_id) == asset
    assert await store.update_metadata(f"{9:016x}", {"title": "ok"}, T0) is None


async def test_moderation_is_set_and_found_by_status(store: AssetStore) -> None:
    for n in (1, 2, 3):
        await store.insert(make_asset(n, created_at=T0 + timedelta(seconds=n)))
    decided = Moderation(
        status=ModerationStatus.FLAGGED, scan_id="scan-2", decision_id="d-2", revision=2**40, scan_attempt=2
    )
    at = T0 + timedelta(days=1)
    updated = await store.set_moderation(f"{2:016x}", decided, at)
    assert updated is not None
    assert updated.moderation == decided and updated.moderation.status is ModerationStatus.FLAGGED
    assert updated.updated_at == at and not updated.delivered
    assert await store.get(f"{2:016x}") == updated
    failed = Moderation(status=ModerationStatus.ERROR, scan_id="scan-3", error="scanner said no", scan_attempt=1)
    await store.set_moderation(f"{3:016x}", failed, at)
    assert ids(await store.with_status("FLAGGED")) == [f"{2:016x}"]
    assert ids(await store.with_status("PENDING")) == [f"{1:016x}"]
    error = await store.with_status("ERROR")
    assert [a.moderation.error for a in error] == ["scanner said no"]
    assert await store.with_status("APPROVED") == []
    assert await store.set_moderation(f"{9:016x}", decided, at) is None
    assert await store.get(f"{9:016x}") is None


async def test_concurrent_writers_of_one_asset_neither_fail_nor_undo_each_other(store: AssetStore) -> None:
    asset = make_asset(1)
    await store.insert(asset)
    decided = Moderation(status=ModerationStatus.APPROVED, scan_id="scan-1", decision_id="d-1", revision=9)
    later = T0 + timedelta(hours=1)
    await asyncio.gather(
        store.set_moderation(asset.asset_id, decided, later),
        store.update_metadata(asset.asset_id, {"title": "Renamed"}, later),
        store.update_metadata(asset.asset_id, {"tags": ("x", "y")}, later),
        store.update_metadata(asset.asset_id, {"description": "Described"}, later),
        store.save_rendition(RenditionRecord(asset.asset_id, "mp4", RenditionState.PENDING)),
        store.save_rendition(RenditionRecord(asset.asset_id, "webp", RenditionState.PENDING)),
    )
    found = await store.get(asset.asset_id)
    assert found == replace(
        asset, title="Renamed", tags=("x", "y"), description="Described", moderation=decided, updated_at=later
    )
    assert [r.name for r in await store.renditions(asset.asset_id)] == ["mp4", "webp"]


async def test_delete_removes_the_asset_its_tags_and_renditions(store: AssetStore) -> None:
    asset = make_asset(1, tags=("cat",))
    other = make_asset(2, tags=("cat",))
    for a in (asset, other):
        await store.insert(a)
        await store.save_rendition(RenditionRecord(a.asset_id, "mp4", RenditionState.READY, "video/mp4", 640, 480))
    assert await store.delete(asset.asset_id) is True
    assert await store.get(asset.asset_id) is None
    assert await store.renditions(asset.asset_id) == []
    assert ids(await store.page(AssetFilter(tag="cat"), 0, 10)) == [other.asset_id]
    assert len(await store.renditions(other.asset_id)) == 1
    assert await store.delete(asset.asset_id) is False

    # The id is free again, and nothing of the old asset comes back with the new one.
    again = replace(asset, tags=())
    await store.insert(again)
    assert await store.get(asset.asset_id) == again
    assert await store.renditions(asset.asset_id) == []
    assert ids(await store.page(AssetFilter(tag="cat"), 0, 10)) == [other.asset_id]


async def test_existing_answers_for_id_sets_larger_than_any_parameter_limit(store: AssetStore) -> None:
    present = [make_asset(n) for n in (0, 20_000, 39_999)]
    for asset in present:
        await store.insert(asset)
    wanted = {f"{n:016x}" for n in range(40_000)}  # more ids than SQLite or asyncpg bind in one statement
    assert await store.existing(wanted) == {asset.asset_id for asset in present}
    assert await store.existing(set()) == set()
    assert await store.existing({f"{n:016x}" for n in range(40_000, 40_010)}) == set()


# --------------------------------------------------------------------------------------- renditions


async def test_renditions_are_saved_replaced_and_listed_by_name(store: AssetStore) -> None:
    asset = make_asset(1)
    await store.insert(asset)
    retry = datetime(2026, 12, 1, 14, 0, tzinfo=CET)
    failed = RenditionRecord(
        asset.asset_id, "webp", RenditionState.FAILED, error="ffmpeg: boom", attempts=1, retry_at=retry
    )
    await store.save_rendition(RenditionRecord(asset.asset_id, "poster", RenditionState.PENDING))
    await store.save_rendition(failed)
    listed = await store.renditions(asset.asset_id)
    assert [r.name for r in listed] == ["poster", "webp"]
    assert listed[1] == failed and listed[1].retry_at is not None and listed[1].retry_at.utcoffset() == timedelta(0)

    ready = RenditionRecord(
        asset.asset_id, "webp", RenditionState.READY, "image/webp", 320, 240, 6_000_000_000, "ab" * 32, "", 2, None
    )
    await store.save_rendition(ready)
    listed = await store.renditions(asset.asset_id)
    assert listed == [RenditionRecord(asset.asset_id, "poster", RenditionState.PENDING), ready]
    assert listed[1].state is RenditionState.READY

    await store.delete_renditions(asset.asset_id)
    assert await store.renditions(asset.asset_id) == []
    assert await store.get(asset.asset_id) == asset


async def test_a_rendition_of_an_absent_asset_is_not_saved(store: AssetStore) -> None:
    await store.save_rendition(RenditionRecord(f"{5:016x}", "mp4", RenditionState.READY))
    assert await store.renditions(f"{5:016x}") == []
    await store.insert(make_asset(5))
    assert await store.renditions(f"{5:016x}") == []


# ------------------------------------------------------------------------------------------- cursor


async def test_the_cursor_starts_at_zero_and_keeps_the_last_saved_revision(store: AssetStore) -> None:
    assert await store.cursor() == 0
    await store.save_cursor(41)
    await store.save_cursor(2**40)
    assert await store.cursor() == 2**40


# ------------------------------------------------------------------------------------------- schema


async def test_migrations_are_idempotent(database: str) -> None:
    async for sql in _sql_store(database):
        await sql.insert(make_asset(1))
        await sql.save_rendition(RenditionRecord(f"{1:016x}", "mp4", RenditionState.PENDING))
        await sql.save_cursor(3)
    await assert_migrations_idempotent(database, MIGRATIONS)


async def test_the_migration_creates_what_the_store_describes(database: str) -> None:
    """The tables, columns, keys and indexes the Alembic script makes are the ones the adapter's models name."""
    await db.migrate(database, MIGRATIONS)
    engine = db.create_engine(database)

    def differences(connection: sa.Connection) -> list[object]:
        found = compare_metadata(MigrationContext.configure(connection), metadata)
        # SQLModel's metadata holds every service's tables when they are imported together: compare ours.
        return [d for d in found if "sharelinks_" in repr(d)]

    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
            tables = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
    finally:
        await engine.dispose()
    assert {t for t in tables if t.startswith("sharelinks_")} == {
        "sharelinks_assets",
        "sharelinks_asset_tags",
        "sharelinks_asset_renditions",
        "sharelinks_feed_cursor",
        "sharelinks_links",
    }
    assert "alembic_version_sharelinks" in tables
