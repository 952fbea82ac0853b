"""The asset use cases on in-memory fakes: upload, moderation from the decision feed, rescan, delete,
reconciliation and blob garbage collection."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from clearframe_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from services.sharelinks.domain.assets import Assets, Limits, Upload
from services.sharelinks.domain.model import Asset, ModerationStatus, original_key
from services.sharelinks.ports import ModerationEvent, ScanOutcome
from services.sharelinks.tests.fake_blobs import MemoryBlobStore
from services.sharelinks.tests.fake_store import MemoryAssetStore
from services.sharelinks.tests.fakes import FakeClock, FakeProbe, FakeScans

GIF = b"GIF89a" + bytes(range(200))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 50


class DownBlobs(MemoryBlobStore):
    down = False

    async def put(self, key: str, data: bytes) -> None:
        if self.down:
            raise Unavailable("connection refused", reason="UNAVAILABLE")
        await super().put(key, data)


class World:
    def __init__(self) -> None:
        self.store = MemoryAssetStore()
        self.blobs = DownBlobs()
        self.probe = FakeProbe()
        self.scans = FakeScans()
        self.clock = FakeClock()
        self.approved: list[str] = []
        self.unpublished: list[str] = []

        async def approved(asset: Asset) -> None:
            self.approved.append(asset.asset_id)

        async def unpublished(asset: Asset) -> None:
            self.unpublished.append(asset.asset_id)

        self.assets = Assets(
            self.store,
            self.blobs,
            self.probe,
            self.scans,
            base_url="https://cf.example/",
            clock=self.clock,
            limits=Limits(max_upload_bytes=4096),
            on_approved=approved,
            on_unpublished=unpublished,
        )

    async def upload(self, data: bytes = GIF, **fields: object) -> Asset:
        return await self.assets.create(Upload(data=data, declared_type="image/gif", **fields), "key:uploader")  # type: ignore[arg-type]

    def decision(self, asset: Asset, revision: int, verdict: str, decision_id: str = "") -> ModerationEvent:
        return ModerationEvent(
            revision=revision,
            kind="decision",
            asset_id=asset.asset_id,
            scan_id=asset.moderation.scan_id,
            verdict=verdict,
            decision_id=decision_id or f"d{revision}",
        )


@pytest.fixture
def world() -> World:
    return World()


async def test_upload_is_pending_and_starts_its_scan(world: World) -> None:
    asset = await world.upload(
        GIF, title="Cat", tags=("cat", "funny"), description="a cat", usage_intent="paysite", model_id="m-1"
    )
    digest = hashlib.sha256(GIF).hexdigest()
    assert asset.asset_id == digest[:16] and asset.sha256 == digest
    assert asset.moderation.status is ModerationStatus.PENDING and asset.moderation.scan_id
    assert (asset.content_type, asset.width, asset.frame_count) == ("image/gif", 64, 10)
    [order] = world.scans.orders
    assert (order.asset_id, order.usage_intent, order.model_id) == (asset.asset_id, "paysite", "m-1")
    assert (order.title, order.tags, order.description, order.data) == ("Cat", ("cat", "funny"), "a cat", GIF)
    assert await world.blobs.get(original_key(digest)) == GIF
    assert world.assets.canonical_url(asset.asset_id) == f"https://cf.example/a/{asset.asset_id}"


async def test_same_bytes_again_name_the_existing_asset_and_change_nothing(world: World) -> None:
    first = await world.upload(GIF, title="first")
    with pytest.raises(AlreadyExists) as caught:
        await world.upload(GIF, title="second")
    assert caught.value.reason == "ASSET_ALREADY_EXISTS"
    assert caught.value.metadata == {
        "asset_id": first.asset_id,
        "canonical_url": f"https://cf.example/a/{first.asset_id}",
    }
    assert len(world.scans.orders) == 1
    assert (await world.assets.get(first.asset_id)).title == "first"


@pytest.mark.parametrize(
    ("data", "fields", "reason"),
    [
        (b"", {}, "EMPTY_BODY"),
        (b"GIF89a" + b"x" * 5000, {}, "PAYLOAD_TOO_LARGE"),
        (b"just some text", {}, "MEDIA_UNDECODABLE"),
        (b"<html><script>", {}, "UNSUPPORTED_MEDIA_TYPE"),
        (GIF, {"title": "t" * 301}, "TEXT_TOO_LONG"),
        (GIF, {"tags": tuple(f"t{i}" for i in range(51))}, "TEXT_TOO_LONG"),
        (GIF, {"tags": ("x" * 101,)}, "TEXT_TOO_LONG"),
        (GIF, {"description": "d" * 5001}, "TEXT_TOO_LONG"),
        (GIF, {"filename": "f" * 256}, "INVALID_FILENAME"),
        (GIF, {"usage_intent": "everything"}, "INVALID_USAGE_INTENT"),
        (GIF, {"model_id": "../etc"}, "INVALID_MODEL_ID"),
    ],
)
async def test_bad_uploads_are_refused_and_leave_nothing(
    world: World, data: bytes, fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await world.upload(data, **fields)
    assert caught.value.reason == reason
    assert world.scans.orders == []
    assert [b async for b in world.blobs.list()] == []
    assert await world.store.with_status("PENDING") == []


async def test_file_names_lose_their_directories(world: World) -> None:
    asset = await world.upload(GIF, filename="../../etc/cat.gif")
    assert asset.filename == "cat.gif"


async def test_scanner_down_answers_unavailable_and_a_retry_works(world: World) -> None:
    world.scans.down = True
    with pytest.raises(Unavailable) as caught:
        await world.upload(GIF)
    assert caught.value.reason == "SCANNER_UNAVAILABLE"
    assert await world.store.get(hashlib.sha256(GIF).hexdigest()[:16]) is None
    assert [b async for b in world.blobs.list()] == []
    world.scans.down = False
    asset = await world.upload(GIF)
    assert asset.moderation.status is ModerationStatus.PENDING


async def test_blob_store_down_answers_unavailable_and_writes_no_row(world: World) -> None:
    world.blobs.down = True
    with pytest.raises(Unavailable) as caught:
        await world.upload(GIF)
    assert caught.value.reason == "BLOB_STORE_UNAVAILABLE"
    assert world.scans.orders == [] and await world.store.with_status("PENDING") == []


async def test_decisions_publish_and_take_down(world: World) -> None:
    asset = await world.upload(GIF)
    flagged = await world.assets.apply(world.decision(asset, 5, "FLAGGED"))
    assert flagged is not None and flagged.moderation.status is ModerationStatus.FLAGGED
    assert world.approved == []
    approved = await world.assets.apply(world.decision(asset, 6, "APPROVED", "d-review"))
    assert approved is not None and approved.delivered and approved.moderation.decision_id == "d-review"
    assert world.approved == [asset.asset_id]
    rejected = await world.assets.apply(world.decision(asset, 9, "REJECTED"))
    assert rejected is not None and rejected.moderation.status is ModerationStatus.REJECTED
    assert world.unpublished == [asset.asset_id]


async def test_replayed_and_foreign_events_change_nothing(world: World) -> None:
    asset = await world.upload(GIF)
    await world.assets.apply(world.decision(asset, 7, "APPROVED"))
    # A replay (a resumed stream) of an older revision, and a decision about another scan of the asset.
    assert await world.assets.apply(world.decision(asset, 7, "REJECTED")) is None
    assert await world.assets.apply(world.decision(asset, 3, "REJECTED")) is None
    other = ModerationEvent(
        revision=8, kind="decision", asset_id=asset.asset_id, scan_id="scan-old", verdict="REJECTED"
    )
    assert await world.assets.apply(other) is None
    assert (await world.assets.get(asset.asset_id)).delivered


async def test_failed_scan_is_error_and_can_be_rescanned(world: World) -> None:
    asset = await world.upload(GIF)
    with pytest.raises(FailedPrecondition) as caught:
        await world.assets.rescan(asset.asset_id)
    assert caught.value.reason == "ASSET_NOT_RESCANNABLE"
    failed = ModerationEvent(
        revision=2,
        kind="scan_failed",
        asset_id=asset.asset_id,
        scan_id=asset.moderation.scan_id,
        error="Triton unavailable",
    )
    errored = await world.assets.apply(failed)
    assert errored is not None and errored.moderation.status is ModerationStatus.ERROR
    assert errored.moderation.error == "Triton unavailable"
    again = await world.assets.rescan(asset.asset_id)
    assert again.moderation.status is ModerationStatus.PENDING
    assert again.moderation.scan_id != asset.moderation.scan_id and again.moderation.scan_attempt == 2
    assert world.scans.orders[-1].request_id != world.scans.orders[0].request_id
    approved = await world.assets.apply(world.decision(again, 3, "APPROVED"))
    assert approved is not None and approved.delivered


async def test_text_changes_rescan_and_keep_the_status_until_the_new_decision(world: World) -> None:
    asset = await world.upload(GIF)
    approved = await world.assets.apply(world.decision(asset, 1, "APPROVED"))
    assert approved is not None
    updated = await world.assets.update(asset.asset_id, {"title": "new title"})
    assert updated.title == "new title" and updated.delivered
    assert updated.moderation.scan_id != approved.moderation.scan_id
    assert world.scans.orders[-1].title == "new title"
    taken_down = await world.assets.apply(world.decision(updated, 2, "REJECTED"))
    assert taken_down is not None and not taken_down.delivered
    # Cache policy only: no new scan.
    before = len(world.scans.orders)
    await world.assets.update(asset.asset_id, {"cache_policy": "SHORT"})
    assert len(world.scans.orders) == before
    with pytest.raises(InvalidArgument):
        await world.assets.update(asset.asset_id, {"sha256": "x"})


async def test_reconcile_starts_missing_scans_and_takes_outcomes(world: World) -> None:
    first = await world.upload(GIF)
    second = await world.upload(PNG)
    world.scans.outcomes[first.moderation.scan_id] = ScanOutcome(first.moderation.scan_id, "", "", "model timeout")
    world.scans.outcomes[second.moderation.scan_id] = ScanOutcome(second.moderation.scan_id, "APPROVED", "d1", "")
    assert await world.assets.reconcile() == 2
    assert (await world.assets.get(first.asset_id)).moderation.status is ModerationStatus.ERROR
    assert (await world.assets.get(second.asset_id)).delivered
    # The feed's own events for them still apply afterwards (the cursor was not moved past them).
    later = await world.assets.apply(world.decision(second, 1, "REJECTED"))
    assert later is not None and later.moderation.status is ModerationStatus.REJECTED


async def test_delete_removes_row_and_bytes(world: World) -> None:
    asset = await world.upload(GIF)
    await world.assets.apply(world.decision(asset, 1, "APPROVED"))
    await world.assets.delete(asset.asset_id)
    with pytest.raises(NotFound):
        await world.assets.get(asset.asset_id)
    assert [b async for b in world.blobs.list()] == []
    assert world.unpublished == [asset.asset_id]
    with pytest.raises(NotFound):
        await world.assets.delete(asset.asset_id)


async def test_garbage_collection_removes_only_old_orphans(world: World) -> None:
    world.clock.now = datetime.now(UTC)  # blobs carry the store's own modification time
    kept = await world.upload(GIF)
    orphan = hashlib.sha256(b"never committed").hexdigest()
    await world.blobs.put(original_key(orphan), b"never committed")
    assert await world.assets.collect_garbage(timedelta(hours=1)) == 0  # too young: maybe still uploading
    world.clock.advance(7200)
    deleted = await world.assets.collect_garbage(timedelta(hours=1))
    keys = [b.key async for b in world.blobs.list()]
    assert deleted == 1 and keys == [original_key(kept.sha256)]


async def test_ids_are_checked(world: World) -> None:
    for bad in ("../../etc/passwd", "ABCDEF0123456789", "0123", "0123456789abcdef0"):
        with pytest.raises(InvalidArgument) as caught:
            await world.assets.get(bad)
        assert caught.value.reason == "INVALID_ASSET_ID"
