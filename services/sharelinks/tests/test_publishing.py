"""Delivery of assets and renditions, signed URLs and previews on in-memory fakes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from clearframe_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.sharelinks.domain.cache import BytesCache
from services.sharelinks.domain.events import EventSink, UsageEvent
from services.sharelinks.domain.model import RenditionRecord, RenditionState, Visibility, rendition_key
from services.sharelinks.domain.publishing import Delivery, DownloadRequest
from services.sharelinks.domain.signing import KeyRing, Problem
from services.sharelinks.tests.fakes import FakeRenditionMaker
from services.sharelinks.tests.test_assets import GIF, World

KEY_1 = b"k" * 32
KEY_2 = b"z" * 32


async def published(
    visibility: Visibility = Visibility.PUBLIC, cache: BytesCache | None = None, views: EventSink | None = None
) -> tuple[World, Delivery, str]:
    world = World()
    delivery = Delivery(
        world.store,
        world.blobs,
        KeyRing({"k1": KEY_1}, "k1"),
        ["mp4", "poster"],
        base_url="https://cf.example",
        clock=world.clock,
        max_lifetime_s=86400,
        previews=FakeRenditionMaker(),
        cache=cache,
        views=views,
    )
    asset = await world.upload(GIF, visibility=visibility)
    await world.assets.apply(world.decision(asset, 1, "APPROVED"))
    return world, delivery, asset.asset_id


def get(asset_id: str, **kw: object) -> DownloadRequest:
    params = kw.pop("params", {})
    return DownloadRequest(asset_id=asset_id, rendition=str(kw.pop("rendition", "")), method="GET", params=params, **kw)  # type: ignore[arg-type]


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


async def test_approved_assets_are_delivered_with_their_headers() -> None:
    world, delivery, asset_id = await published()
    answer = await delivery.download(get(asset_id))
    asset = await world.assets.get(asset_id)
    assert (answer.status, answer.body, answer.content_type) == (200, GIF, "image/gif")
    assert answer.headers["ETag"] == f'"{asset.sha256}"'
    assert answer.headers["Surrogate-Key"] == asset_id and answer.headers["Cache-Tag"] == asset_id
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    part = await delivery.download(get(asset_id, range="bytes=0-9"))
    assert (part.status, part.body, part.headers["Content-Range"]) == (206, GIF[:10], f"bytes 0-9/{len(GIF)}")
    cached = await delivery.download(get(asset_id, if_none_match=f'"{asset.sha256}"'))
    assert (cached.status, cached.body) == (304, b"")


async def test_a_view_is_counted_per_delivery_of_the_bytes_not_per_request() -> None:
    views: list[UsageEvent] = []
    world, delivery, asset_id = await published(views=views.append)
    asset = await world.assets.get(asset_id)
    slack = "Mozilla/5.0 (Macintosh) AppleWebKit/537.36 Slack/4.36"
    await delivery.download(get(asset_id, user_agent=slack))  # 200: a view
    await delivery.download(get(asset_id, range="bytes=0-9", referer="https://discord.com/channels/1"))  # first range
    await delivery.download(get(asset_id, range="bytes=10-19"))  # a later range of the same play: not a view
    await delivery.download(get(asset_id, if_none_match=f'"{asset.sha256}"'))  # 304: not a view
    await delivery.download(
        DownloadRequest(asset_id=asset_id, rendition="", method="HEAD", params={})
    )  # HEAD: not a view
    with pytest.raises(NotFound):
        await delivery.download(get("0123456789abcdef"))
    assert [(v.kind, v.asset_id, v.platform) for v in views] == [
        ("VIEW", asset_id, "slack"),
        ("VIEW", asset_id, "discord"),
    ]
    assert views[0].user_agent == slack and views[0].event_id != views[1].event_id


async def test_nothing_undecided_or_refused_is_delivered() -> None:
    world, delivery, asset_id = await published()
    pending = await world.upload(GIF + b"x")
    for status_asset in (pending.asset_id, "0123456789abcdef"):
        with pytest.raises(NotFound) as caught:
            await delivery.download(get(status_asset))
        assert caught.value.reason == "ASSET_NOT_FOUND"
    asset = await world.assets.get(asset_id)
    await world.assets.apply(world.decision(asset, 2, "REJECTED"))
    with pytest.raises(NotFound):
        await delivery.download(get(asset_id))


async def test_renditions_are_delivered_once_ready() -> None:
    world, delivery, asset_id = await published()
    with pytest.raises(NotFound):
        await delivery.download(get(asset_id, rendition="mp4"))
    await world.blobs.put(rendition_key(asset_id, "mp4"), b"\x00\x00\x00\x18ftypmp42")
    await world.store.save_rendition(
        RenditionRecord(asset_id, "mp4", RenditionState.READY, "video/mp4", 64, 48, 16, "ab" * 32)
    )
    answer = await delivery.download(get(asset_id, rendition="mp4"))
    assert (answer.status, answer.content_type) == (200, "video/mp4")
    assert answer.headers["Surrogate-Key"] == asset_id
    assert answer.headers["ETag"] == '"' + "ab" * 32 + '"'
    for name in ("../../etc", "MP4", "webm", "mp4%2f.."):
        with pytest.raises(InvalidArgument) as caught:
            await delivery.download(get(asset_id, rendition=name))
        assert caught.value.reason == "INVALID_RENDITION"


async def test_signed_assets_need_a_valid_signature() -> None:
    world, delivery, asset_id = await published(Visibility.SIGNED)
    with pytest.raises(PermissionDenied) as caught:
        await delivery.download(get(asset_id))
    assert caught.value.reason == "SIGNATURE_REQUIRED"
    signed = await delivery.sign(asset_id, 600, {"disposition": "attachment"})
    params = query(signed.url)
    assert params["kid"] == "k1" and params["disposition"] == "attachment"
    answer = await delivery.download(get(asset_id, params=params))
    assert answer.status == 200 and answer.headers["Content-Disposition"].startswith("attachment")
    assert answer.headers["Cache-Control"].startswith("private, max-age=600")

    tampered = {**params, "disposition": "inline"}
    with pytest.raises(PermissionDenied) as caught:
        await delivery.download(get(asset_id, params=tampered))
    assert caught.value.reason == "INVALID_SIGNATURE"
    world.clock.advance(601)
    with pytest.raises(PermissionDenied) as caught:
        await delivery.download(get(asset_id, params=params))
    assert caught.value.reason == "SIGNED_URL_EXPIRED"


async def test_signatures_on_public_assets_are_checked_too() -> None:
    _, delivery, asset_id = await published()
    with pytest.raises(PermissionDenied):
        await delivery.download(get(asset_id, params={"expires": "9999999999", "kid": "k1", "signature": "x" * 43}))


async def test_signing_rules() -> None:
    world, delivery, asset_id = await published()
    for ttl in (0, 86401):
        with pytest.raises(InvalidArgument) as caught:
            await delivery.sign(asset_id, ttl, {})
        assert caught.value.reason == "INVALID_TTL"
    with pytest.raises(InvalidArgument) as caught:
        await delivery.sign(asset_id, 60, {"disposition": "evil"})
    assert caught.value.reason == "INVALID_SIGNED_PARAM"
    pending = await world.upload(GIF + b"y")
    with pytest.raises(FailedPrecondition) as failed:
        await delivery.sign(pending.asset_id, 60, {})
    assert failed.value.reason == "ASSET_NOT_APPROVED"
    signed = await delivery.sign(asset_id, None, {}, "mp4")
    assert urlsplit(signed.url).path == f"/a/{asset_id}/mp4"
    assert signed.expires.timestamp() == world.clock().timestamp() + 3600


async def test_verify_names_the_problem() -> None:
    world, delivery, asset_id = await published()
    signed = await delivery.sign(asset_id, 60, {})
    verdict, read_id = delivery.verify(signed.url)
    assert verdict.valid and read_id == asset_id
    assert (
        delivery.verify(signed.url.replace("https://cf.example", "https://evil.example"))[0].problem
        is Problem.MALFORMED
    )
    assert delivery.verify(f"/a/{asset_id}")[0].problem is Problem.MISSING_PARAMS
    world.clock.advance(60)
    assert delivery.verify(signed.url)[0].problem is Problem.EXPIRED


async def test_rotation_keeps_old_urls_valid() -> None:
    world, delivery, asset_id = await published()
    old = await delivery.sign(asset_id, 600, {})
    rotated = Delivery(
        world.store,
        world.blobs,
        KeyRing({"k2": KEY_2, "k1": KEY_1}, "k2"),
        ["mp4"],
        base_url="https://cf.example",
        clock=world.clock,
        max_lifetime_s=86400,
    )
    assert (await rotated.download(get(asset_id, params=query(old.url)))).status == 200
    new = await rotated.sign(asset_id, 600, {})
    assert query(new.url)["kid"] == "k2"
    retired = Delivery(
        world.store,
        world.blobs,
        KeyRing({"k2": KEY_2}, "k2"),
        ["mp4"],
        base_url="https://cf.example",
        clock=world.clock,
        max_lifetime_s=86400,
    )
    with pytest.raises(PermissionDenied) as caught:
        await retired.download(get(asset_id, params=query(old.url)))
    assert caught.value.reason == "INVALID_SIGNATURE"
    assert retired.verify(old.url)[0].problem is Problem.UNKNOWN_KEY


async def test_previews_for_reviewers_of_any_state() -> None:
    world, delivery, _ = await published()
    flagged = await world.upload(GIF + b"f")
    await world.assets.apply(world.decision(flagged, 5, "FLAGGED"))
    preview = await delivery.preview(flagged.asset_id)
    assert preview.content_type == "image/jpeg"
    with pytest.raises(NotFound):
        await delivery.download(get(flagged.asset_id))


async def test_review_frames_of_any_state_within_the_frame_count() -> None:
    world, delivery, _ = await published()
    flagged = await world.upload(GIF + b"g")
    await world.assets.apply(world.decision(flagged, 5, "FLAGGED"))
    frame = await delivery.review_frame(flagged.asset_id, 0)
    assert frame.content_type == "image/jpeg" and frame.name == "frame-0"
    last = max(1, flagged.frame_count) - 1
    assert (await delivery.review_frame(flagged.asset_id, last)).name == f"frame-{last}"
    for bad in (-1, last + 1):
        with pytest.raises(InvalidArgument) as caught:
            await delivery.review_frame(flagged.asset_id, bad)
        assert caught.value.reason == "INVALID_FRAME_INDEX"
    with pytest.raises(NotFound):
        await delivery.review_frame("0123456789abcdef", 0)
    with pytest.raises(InvalidArgument):
        await delivery.review_frame("../etc", 0)
