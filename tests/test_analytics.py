"""Analytics through the gateway: events recorded over REST (one, and batches with per-event errors) and
native gRPC, read back as seed 002's metrics; duplicates and crawlers never counted; permissions; bad input."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest

from clearframe.analytics.v1 import analytics_service_pb2 as pb
from clearframe.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from clearframe_runtime.status import error_info
from tests.conftest import make_key
from tests.media_samples import animated_gif
from tests.test_assets import _model, published, wait_for

DISCORD_CRAWLER = "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


@pytest.fixture(scope="module")
def keys(http: httpx.Client, admin_headers: dict[str, str]) -> dict[str, str]:
    return {
        "write": make_key(http, admin_headers, "analytics.write"),
        "read": make_key(http, admin_headers, "analytics.read"),
    }


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def new_asset() -> str:
    return secrets.token_hex(8)


def new_code() -> str:
    return "t" + secrets.token_hex(4)


def event(asset_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "asset_id": asset_id, "event_type": f"EVENT_TYPE_{kind}", **fields}


def batch(http: httpx.Client, keys: dict[str, str], events: list[dict[str, Any]]) -> dict[str, Any]:
    response = http.post("/v1/events:batchRecord", headers=h(keys["write"]), json={"events": events})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def get(http: httpx.Client, keys: dict[str, str], path: str, **params: Any) -> dict[str, Any]:
    response = http.get(path, headers=h(keys["read"]), params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_single_events_are_recorded_once_whatever_the_retries(http: httpx.Client, keys: dict[str, str]) -> None:
    asset = new_asset()
    one = event(asset, "VIEW", platform="PLATFORM_SLACK", attributes={"campaign": "launch"})
    first = http.post("/v1/events", headers=h(keys["write"]), json=one)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False
    stored = first.json()["event"]
    assert (stored["event_id"], stored["platform"], stored["bot"]) == (one["event_id"], "PLATFORM_SLACK", False)
    assert stored["receive_time"] and stored["event_time"]  # filled in by the server
    retry = http.post("/v1/events", headers=h(keys["write"]), json=one)
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    assert retry.json()["event"] == stored
    metrics = get(http, keys, f"/v1/assets/{asset}/metrics")["metrics"]
    assert (metrics["views"], metrics["total_events"], metrics["ctr"]) == ("1", "1", 0.0)


def test_a_batch_counts_humans_only_and_reports_bad_events(http: httpx.Client, keys: dict[str, str]) -> None:
    asset, code = new_asset(), new_code()
    known = event(asset, "VIEW", platform="PLATFORM_DISCORD", short_code=code)
    batch(http, keys, [known])
    events = [
        event(asset, "VIEW", platform="PLATFORM_DISCORD", short_code=code, attributes={"user_agent": BROWSER}),
        event(asset, "VIEW", platform="PLATFORM_SLACK", short_code=code),
        event(asset, "VIEW", platform="PLATFORM_DISCORD", short_code=code, attributes={"user_agent": DISCORD_CRAWLER}),
        event(asset, "CLICK", platform="PLATFORM_DISCORD", short_code=code),
        event(asset, "CLICK", platform="PLATFORM_DISCORD", short_code=code, user_agent="Twitterbot/1.0"),
        event(asset, "PLAY", platform="PLATFORM_SLACK"),
        event("not-an-asset", "VIEW"),
        known,  # a retry of an event already stored
        event(asset, "VIEW", event_time=(datetime.now(UTC) + timedelta(days=2)).isoformat()),
    ]
    answer = batch(http, keys, events)
    assert answer["recorded_count"] == 6 and answer["duplicate_count"] == 1 and answer["bot_count"] == 2
    assert answer["event_ids"] == [e["event_id"] for e in events[:6]]
    refused = [(e["index"], e["error"]["details"][0]["reason"]) for e in answer["errors"]]
    assert refused == [(6, "INVALID_ASSET_ID"), (8, "INVALID_EVENT_TIME")]

    # 3 human views, 1 human click, 1 play; the crawlers' view and click are counted apart.
    metrics = get(http, keys, f"/v1/assets/{asset}/metrics")["metrics"]
    assert metrics == {
        "asset_id": asset,
        "views": "3",
        "plays": "1",
        "clicks": "1",
        "ctr": 33.33,
        "play_rate": 33.33,
        "total_events": "5",
        "bot_events": "2",
    }
    platforms = get(http, keys, f"/v1/assets/{asset}/platformMetrics")["platforms"]
    assert [(p["platform"], p["metrics"]["views"], p["metrics"]["clicks"]) for p in platforms] == [
        ("PLATFORM_SLACK", "1", "0"),
        ("PLATFORM_DISCORD", "2", "1"),
    ]
    link = get(http, keys, f"/v1/links/{code}/metrics")
    assert link["asset_id"] == asset and (link["metrics"]["views"], link["metrics"]["ctr"]) == ("3", 33.33)
    listed = get(http, keys, "/v1/events", asset_id=asset, page_size=100)["events"]
    assert len(listed) == 7 and sum(e["bot"] for e in listed) == 2


def test_time_ranges_include_both_ends(http: httpx.Client, keys: dict[str, str]) -> None:
    asset = new_asset()
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3, minutes=7)
    times = [at - timedelta(microseconds=1), at, at + timedelta(hours=2), at + timedelta(hours=2, microseconds=1)]
    batch(http, keys, [event(asset, "VIEW", event_time=t.isoformat()) for t in times])
    start, end = at.isoformat().replace("+00:00", "Z"), (at + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    metrics = get(
        http, keys, f"/v1/assets/{asset}/metrics", **{"time_range.start_time": start, "time_range.end_time": end}
    )
    assert metrics["metrics"]["views"] == "2"
    inverted = http.get(
        f"/v1/assets/{asset}/metrics",
        headers=h(keys["read"]),
        params={"time_range.start_time": end, "time_range.end_time": start},
    )
    assert inverted.status_code == 400 and inverted.json()["details"][0]["reason"] == "INVALID_TIME_RANGE"


def test_time_series_per_hour(http: httpx.Client, keys: dict[str, str]) -> None:
    asset = new_asset()
    now = datetime.now(UTC)
    batch(http, keys, [event(asset, "VIEW", event_time=(now - timedelta(hours=2)).isoformat()), event(asset, "VIEW")])
    series = get(http, keys, f"/v1/assets/{asset}/timeSeries", granularity="GRANULARITY_HOUR")
    buckets = series["buckets"]
    assert series["granularity"] == "GRANULARITY_HOUR" and len(buckets) in (25, 26)  # the last 24 hours
    assert [b["metrics"]["views"] for b in buckets if b["metrics"]["views"] != "0"] == ["1", "1"]


def test_top_assets_by_ctr_leave_out_assets_under_the_views_floor(http: httpx.Client, keys: dict[str, str]) -> None:
    platform = "PLATFORM_TEAMS"  # this test's own platform: other tests' assets do not rank here
    popular, small = new_asset(), new_asset()
    batch(
        http,
        keys,
        [event(popular, "VIEW", platform=platform) for _ in range(10)]
        + [event(popular, "CLICK", platform=platform) for _ in range(4)]
        + [event(small, "VIEW", platform=platform), event(small, "CLICK", platform=platform)],
    )
    ranked = get(http, keys, "/v1/topAssets", metric="METRIC_CTR", platform=platform, page_size=100)["assets"]
    assert popular in [a["asset_id"] for a in ranked] and small not in [a["asset_id"] for a in ranked]
    with_floor = get(http, keys, "/v1/topAssets", metric="METRIC_CTR", platform=platform, min_views=1, page_size=100)
    ids = [a["asset_id"] for a in with_floor["assets"]]
    assert ids.index(small) < ids.index(popular)  # 100 % before 40 %
    by_views = get(http, keys, "/v1/topAssets", metric="METRIC_VIEWS", platform=platform, page_size=100)["assets"]
    assert [a["asset_id"] for a in by_views].index(popular) < [a["asset_id"] for a in by_views].index(small)


def test_permissions_and_bad_input(http: httpx.Client, keys: dict[str, str], admin_headers: dict[str, str]) -> None:
    asset = new_asset()
    assert http.post("/v1/events", json=event(asset, "VIEW")).status_code == 401
    assert http.post("/v1/events", headers=h(keys["read"]), json=event(asset, "VIEW")).status_code == 403
    assert http.get(f"/v1/assets/{asset}/metrics", headers=h(keys["write"])).status_code == 403
    assert http.post("/v1/events:purge", headers=h(keys["write"]), json={"all": True}).status_code == 403
    too_many = http.post(
        "/v1/events:batchRecord", headers=h(keys["write"]), json={"events": [event(asset, "VIEW")] * 1001}
    )
    assert too_many.status_code == 400 and too_many.json()["details"][0]["reason"] == "TOO_MANY_EVENTS"
    bad = http.post("/v1/events", headers=h(keys["write"]), json=event(asset, "VIEW", short_code="no spaces"))
    assert bad.status_code == 400 and bad.json()["details"][0]["reason"] == "INVALID_SHORT_CODE"
    unknown = http.get("/v1/links/Zz99Yy88Xx/metrics", headers=h(keys["read"]))
    assert unknown.status_code == 404 and unknown.json()["details"][0]["reason"] == "SHORT_LINK_NOT_FOUND"
    no_scope = http.post("/v1/events:purge", headers=admin_headers, json={})
    assert no_scope.status_code == 400 and no_scope.json()["details"][0]["reason"] == "MISSING_PURGE_SCOPE"


def test_purge_one_asset(http: httpx.Client, keys: dict[str, str], admin_headers: dict[str, str]) -> None:
    asset, other = new_asset(), new_asset()
    batch(http, keys, [event(asset, "VIEW"), event(asset, "PLAY"), event(other, "VIEW")])
    purged = http.post("/v1/events:purge", headers=admin_headers, json={"asset_id": asset})
    assert purged.status_code == 200 and purged.json()["deleted_count"] == "2"
    assert get(http, keys, f"/v1/assets/{asset}/metrics")["metrics"]["total_events"] == "0"
    assert get(http, keys, f"/v1/assets/{other}/metrics")["metrics"]["views"] == "1"


def test_native_grpc_batch_through_the_gateway(gateway_channel: grpc.Channel, keys: dict[str, str]) -> None:
    stub = pb_grpc.AnalyticsServiceStub(gateway_channel)
    asset = new_asset()
    request = pb.BatchRecordEventsRequest(
        events=[pb.Event(event_id=uuid.uuid4().hex, asset_id=asset, event_type=pb.EVENT_TYPE_VIEW) for _ in range(3)]
    )
    writer = [("authorization", f"Bearer {keys['write']}")]
    reader = [("authorization", f"Bearer {keys['read']}")]
    assert stub.BatchRecordEvents(request, metadata=writer, timeout=10).recorded_count == 3
    assert stub.BatchRecordEvents(request, metadata=writer, timeout=10).duplicate_count == 3
    answer = stub.GetAssetMetrics(pb.GetAssetMetricsRequest(asset_id=asset), metadata=reader)
    assert answer.metrics.views == 3
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetAssetMetrics(pb.GetAssetMetricsRequest(asset_id="bad"), metadata=reader)
    info = error_info(refused.value)
    assert info is not None and info.reason == "INVALID_ASSET_ID"


def test_client_streaming_through_the_gateway(gateway_channel: grpc.Channel, keys: dict[str, str]) -> None:
    stub = pb_grpc.AnalyticsServiceStub(gateway_channel)
    asset = new_asset()
    ids = [uuid.uuid4().hex for _ in range(5)]
    messages = [
        pb.StreamRecordEventsRequest(
            events=[pb.Event(event_id=i, asset_id=asset, event_type=pb.EVENT_TYPE_PLAY) for i in ids[:3]]
        ),
        pb.StreamRecordEventsRequest(
            events=[pb.Event(event_id=i, asset_id=asset, event_type=pb.EVENT_TYPE_PLAY) for i in ids[2:]]
        ),
    ]
    answer = stub.StreamRecordEvents(
        iter(messages), metadata=[("authorization", f"Bearer {keys['write']}")], timeout=10
    )
    assert (answer.recorded_count, answer.duplicate_count, answer.error_count) == (5, 1, 0)
    metrics = stub.GetAssetMetrics(
        pb.GetAssetMetricsRequest(asset_id=asset), metadata=[("authorization", f"Bearer {keys['read']}")]
    )
    assert metrics.metrics.plays == 5


def test_share_link_visits_arrive_as_clicks(
    http: httpx.Client, keys: dict[str, str], admin_headers: dict[str, str]
) -> None:
    """The share-link service's own CLICK events (sent in batches off the redirect's path) reach the metrics:
    people's visits count, a link crawler's preview does not."""
    publisher = {
        "config": make_key(http, admin_headers, "config.read", "config.write"),
        "assets": make_key(http, admin_headers, "assets.write"),
        "read": make_key(http, admin_headers, "moderation.read"),
    }
    asset = published(http, publisher, animated_gif(4, size=(151, 77)), _model(http, publisher, 0))["asset_id"]
    made = http.post("/v1/links", headers=h(publisher["assets"]), json={"asset_id": asset})
    assert made.status_code == 201, made.text
    code = made.json()["link"]["code"]
    for _ in range(2):
        assert (
            http.get(f"/s/{code}", headers={"User-Agent": BROWSER, "Referer": "https://slack.com/"}).status_code == 302
        )
    assert http.get(f"/s/{code}", headers={"User-Agent": DISCORD_CRAWLER}).status_code == 200  # a card

    def clicks() -> dict[str, Any] | None:
        answer = http.get(f"/v1/links/{code}/metrics", headers=h(keys["read"]))
        return answer.json() if answer.status_code == 200 and answer.json()["metrics"]["clicks"] == "2" else None

    link = wait_for(clicks, timeout_s=20, what="the clicks in analytics")
    assert link["asset_id"] == asset
    assert get(http, keys, f"/v1/assets/{asset}/metrics")["metrics"]["clicks"] == "2"


def test_the_pingback_pixel_is_public_and_counts_people_only(http: httpx.Client, keys: dict[str, str]) -> None:
    asset = new_asset()
    params = {"asset_id": asset, "event_type": "EVENT_TYPE_PLAY", "platform": "PLATFORM_FACEBOOK"}
    pixel = http.get("/v1/pingback", params=params, headers={"User-Agent": BROWSER})
    assert pixel.status_code == 200, pixel.text
    assert pixel.headers["content-type"] == "image/gif" and pixel.content.startswith(b"GIF89a")
    assert pixel.headers["cache-control"] == "no-store" and pixel.headers["x-clearframe-pingback"] == "recorded"
    crawler = http.get("/v1/pingback", params={"asset_id": asset}, headers={"User-Agent": DISCORD_CRAWLER})
    assert crawler.status_code == 200
    once = {"asset_id": asset, "event_id": uuid.uuid4().hex}
    assert http.get("/v1/pingback", params=once, headers={"User-Agent": BROWSER}).status_code == 200
    repeated = http.get("/v1/pingback", params=once, headers={"User-Agent": BROWSER})
    assert repeated.headers["x-clearframe-pingback"] == "duplicate"
    metrics = get(http, keys, f"/v1/assets/{asset}/metrics")["metrics"]
    assert (metrics["plays"], metrics["views"], metrics["bot_events"]) == ("1", "1", "1")
    click = http.get("/v1/pingback", params={"asset_id": asset, "event_type": "EVENT_TYPE_CLICK"})
    assert click.status_code == 400 and click.json()["details"][0]["reason"] == "INVALID_EVENT_TYPE"
