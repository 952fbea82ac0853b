"""Short links through the gateway: create (random, custom, bulk), the public visit `/s/{code}` with the
link's status and Location, cards for link crawlers with escaped values, 410/404, exact clicks, takedown,
QR codes, and bad input."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import grpc
import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from clearframe.sharelinks.v1 import share_link_service_pb2 as pb
from clearframe.sharelinks.v1 import share_link_service_pb2_grpc as pb_grpc
from clearframe_mesh.launcher import Mesh
from tests.conftest import h
from tests.media_samples import animated_gif, encoded
from tests.test_assets import _model, published, settled, upload, wait_for

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"}
SLACKBOT = {"User-Agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"}
DISCORDBOT = {"User-Agent": "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)"}


@pytest.fixture(scope="module")
def lenient(http: httpx.Client, keys: dict[str, str]) -> str:
    return _model(http, keys, 0)


def gif(seed: int) -> bytes:
    """Unlike the asset tests' GIFs (other sizes), so each test has its own asset."""
    return animated_gif(4, size=(64 + 2 * seed, 90))


@pytest.fixture(scope="module")
def asset_id(http: httpx.Client, keys: dict[str, str], lenient: str) -> str:
    approved = published(http, keys, gif(0), lenient, title='Cat <script>alert("x")</script>', description="A & B")
    return str(approved["asset_id"])


def create(http: httpx.Client, keys: dict[str, str], **link: Any) -> httpx.Response:
    return http.post("/v1/links", headers=h(keys["assets"]), json=link)


def created(http: httpx.Client, keys: dict[str, str], **link: Any) -> dict[str, Any]:
    answer = create(http, keys, **link)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()["link"]
    return made


def reason(answer: httpx.Response) -> str:
    return str(answer.json()["details"][0]["reason"])


def test_create_redirect_and_count(http: httpx.Client, keys: dict[str, str], asset_id: str) -> None:
    made = create(http, keys, asset_id=asset_id, utm={"source": "newsletter", "campaign": "dec"})
    assert made.status_code == 201, made.text
    link = made.json()["link"]
    code = link["code"]
    assert len(code) == 8 and code.isalnum() and made.headers["location"] == f"/v1/links/{code}"
    assert link["short_url"].endswith(f"/s/{code}") and link["canonical_url"].endswith(f"/a/{asset_id}")

    visit = http.get(f"/s/{code}", headers=BROWSER)
    assert visit.status_code == 302, visit.text
    target = urlsplit(visit.headers["location"])
    assert target.path == f"/a/{asset_id}"
    assert dict(parse_qsl(target.query)) == {"utm_source": "newsletter", "utm_campaign": "dec"}
    assert visit.headers["cache-control"] == "no-store"
    assert not any(name.startswith("grpc-") for name in visit.headers)
    followed = http.get(f"/s/{code}", headers=BROWSER, follow_redirects=True)
    assert followed.status_code == 200 and followed.content[:6] == b"GIF89a"

    resolved = http.post(f"/v1/links/{code}:resolve", json={})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["target_url"].split("?")[0].endswith(f"/a/{asset_id}")
    # Two visits and one resolve: three clicks, exact at once (the count is written shortly after).
    read = http.get(f"/v1/links/{code}", headers=h(keys["assets"]))
    assert read.status_code == 200 and int(read.json()["link"]["clicks"]) == 3
    assert http.get(f"/v1/links/{code}").status_code == 401


def test_custom_slugs_statuses_and_reserved_words(http: httpx.Client, keys: dict[str, str], asset_id: str) -> None:
    slug = "winter-" + asset_id[:6]
    made = created(http, keys, asset_id=asset_id, code=slug, redirect_status=308)
    assert made["code"] == slug
    again = create(http, keys, asset_id=asset_id, code=slug)
    assert again.status_code == 409 and reason(again) == "SHARE_LINK_ALREADY_EXISTS"
    assert http.get(f"/s/{slug}", headers=BROWSER).status_code == 308
    for bad, why in (
        ("v1", "RESERVED_SHORT_CODE"),
        ("healthz", "RESERVED_SHORT_CODE"),
        ("ab", "INVALID_SHORT_CODE"),
        ("x" * 65, "INVALID_SHORT_CODE"),
        ("a b c", "INVALID_SHORT_CODE"),
        ("ümlaut", "INVALID_SHORT_CODE"),
    ):
        refused = create(http, keys, asset_id=asset_id, code=bad)
        assert refused.status_code == 400 and reason(refused) == why, (bad, refused.text)
    refused = create(http, keys, asset_id=asset_id, redirect_status=303)
    assert refused.status_code == 400 and reason(refused) == "INVALID_REDIRECT_STATUS"


def test_bad_links_are_refused_and_keep_nothing(http: httpx.Client, keys: dict[str, str], asset_id: str) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"expire_time": "2020-01-01T00:00:00Z"}, "INVALID_EXPIRE_TIME"),
        ({"max_clicks": -1}, "INVALID_MAX_CLICKS"),
        ({"utm": {"source": "x" * 101}}, "INVALID_UTM"),
        ({"title": "t" * 301}, "TEXT_TOO_LONG"),
    ]
    for fields, why in cases:
        refused = create(http, keys, asset_id=asset_id, **fields)
        assert refused.status_code == 400 and reason(refused) == why, refused.text
    unknown = create(http, keys, asset_id="0123456789abcdef")
    assert unknown.status_code == 404 and reason(unknown) == "ASSET_NOT_FOUND"
    malformed = create(http, keys, asset_id="../../etc/passwd")
    assert malformed.status_code == 400
    listed = http.get("/v1/links", params={"asset_id": asset_id, "page_size": 1000}, headers=h(keys["assets"]))
    assert listed.status_code == 200
    assert all(not link["title"].startswith("t" * 300) for link in listed.json().get("links", []))


def test_unknown_and_malformed_codes(http: httpx.Client) -> None:
    assert http.get("/s/NoSuch99", headers=BROWSER).status_code == 404
    assert http.get("/s/ab", headers=BROWSER).status_code == 400
    assert http.get("/s/%3Cscript%3E", headers=BROWSER).status_code == 400
    assert http.get("/s/" + "A" * 65, headers=BROWSER).status_code == 400
    # Path tricks are normalized by the gateway before routing: never another route's answer.
    tricked = http.get("/s/..%2F..%2Fv1%2Fassets", headers=BROWSER)
    assert tricked.status_code in (400, 404)


def test_links_to_undecided_assets_are_refused(http: httpx.Client, keys: dict[str, str]) -> None:
    strict = _model(http, keys, 100)  # flags a face: the asset waits for a reviewer
    # Bytes of their own: the asset tests upload the astronaut as GIF and PNG (one mesh for all tests).
    made = upload(http, keys, encoded("astronaut", "JPEG", quality=83), strict, content_type="image/jpeg")
    assert made.status_code == 201, made.text
    flagged = settled(http, keys, made.json()["asset"]["asset_id"])
    assert flagged["moderation_status"] == "MODERATION_STATUS_FLAGGED"
    refused = create(http, keys, asset_id=flagged["asset_id"])
    assert refused.status_code == 400 and reason(refused) == "ASSET_NOT_APPROVED"


def test_gone_links_answer_410(http: httpx.Client, keys: dict[str, str], asset_id: str) -> None:
    limited = created(http, keys, asset_id=asset_id, max_clicks=2)
    code = limited["code"]
    assert [http.get(f"/s/{code}", headers=BROWSER).status_code for _ in range(2)] == [302, 302]
    page = http.get(f"/s/{code}", headers={**BROWSER, "Accept": "text/html"})
    assert page.status_code == 410 and page.headers["content-type"].startswith("text/html")
    as_json = http.get(f"/s/{code}", headers={"Accept": "application/json"})
    assert as_json.status_code == 410 and as_json.json()["reason"] == "click limit reached"
    assert int(http.get(f"/v1/links/{code}", headers=h(keys["assets"])).json()["link"]["clicks"]) == 2

    disabled = created(http, keys, asset_id=asset_id)
    patched = http.patch(
        f"/v1/links/{disabled['code']}",
        params={"update_mask": "disabled"},
        headers=h(keys["assets"]),
        json={"disabled": True},
    )
    assert patched.status_code == 200, patched.text
    assert http.get(f"/s/{disabled['code']}", headers=BROWSER).status_code == 410
    resolved = http.post(f"/v1/links/{disabled['code']}:resolve", json={})
    assert resolved.status_code == 400 and reason(resolved) == "SHARE_LINK_GONE"


def test_crawlers_get_an_escaped_card_and_count_as_previews(
    http: httpx.Client, keys: dict[str, str], asset_id: str
) -> None:
    link = created(http, keys, asset_id=asset_id, description='He said "hi" <img src=x onerror=alert(1)>')
    code = link["code"]
    wait_for(lambda: http.get(f"/a/{asset_id}/poster").status_code == 200, timeout_s=60, what="the poster rendition")
    for crawler in (SLACKBOT, DISCORDBOT):
        card = http.get(f"/s/{code}", headers=crawler)
        assert card.status_code == 200 and card.headers["content-type"].startswith("text/html")
        page = card.text
        assert "<script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page and "&quot;hi&quot;" in page
        assert 'property="og:title"' in page and 'name="twitter:card" content="player"' in page
        assert f"/a/{asset_id}/poster" in page
    explicit = http.get(f"/s/{code}/card")
    assert explicit.status_code == 200 and 'property="og:url"' in explicit.text
    counted = http.get(f"/v1/links/{code}", headers=h(keys["assets"])).json()["link"]
    assert int(counted.get("clicks", 0)) == 0 and int(counted["previews"]) == 3
    meta = http.get(f"/v1/links/{code}/metadata", headers=h(keys["assets"]))
    assert meta.status_code == 200 and meta.json()["open_graph"]["url"].endswith(f"/s/{code}")


def test_clicks_are_exact_under_concurrency(http: httpx.Client, keys: dict[str, str], asset_id: str) -> None:
    free = created(http, keys, asset_id=asset_id)["code"]
    limited = created(http, keys, asset_id=asset_id, max_clicks=25)["code"]

    def visit(code: str) -> int:
        return http.get(f"/s/{code}", headers=BROWSER).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(visit, [free] * 60 + [limited] * 40))
    assert statuses[:60] == [302] * 60
    assert sorted(statuses[60:]) == [302] * 25 + [410] * 15

    def clicks(code: str) -> int:
        return int(http.get(f"/v1/links/{code}", headers=h(keys["assets"])).json()["link"]["clicks"])

    assert (clicks(free), clicks(limited)) == (60, 25)


def test_a_takedown_kills_links_within_a_second(http: httpx.Client, keys: dict[str, str], lenient: str) -> None:
    approved = published(http, keys, gif(7), lenient)
    code = created(http, keys, asset_id=approved["asset_id"])["code"]
    assert http.get(f"/s/{code}", headers=BROWSER).status_code == 302  # now in the link cache
    takedown = http.post(
        "/v1/decisions",
        headers=h(keys["review"]),
        json={"scan_id": approved["scan_id"], "verdict": "VERDICT_REJECTED", "notes": "takedown"},
    )
    assert takedown.status_code == 201, takedown.text
    wait_for(lambda: http.get(f"/s/{code}", headers=BROWSER).status_code == 404, timeout_s=1.0, what="the takedown")
    assert http.get(f"/s/{code}", headers=SLACKBOT).status_code == 404


def test_batch_create_list_update_delete(http: httpx.Client, keys: dict[str, str], lenient: str) -> None:
    own = published(http, keys, gif(9), lenient)["asset_id"]
    batch = http.post(
        "/v1/links:batchCreate",
        headers=h(keys["assets"]),
        json={"requests": [{"link": {"asset_id": own}}, {"link": {"asset_id": own, "code": "api"}}] * 3},
    )
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert [("link" in r, "error" in r) for r in results] == [(True, False), (False, True)] * 3
    assert results[1]["error"]["details"][0]["reason"] == "RESERVED_SHORT_CODE"
    too_many = http.post(
        "/v1/links:batchCreate", headers=h(keys["assets"]), json={"requests": [{"link": {"asset_id": own}}] * 1001}
    )
    assert too_many.status_code == 400 and reason(too_many) == "TOO_MANY_LINKS"

    listed = http.get("/v1/links", params={"asset_id": own, "page_size": 2}, headers=h(keys["assets"])).json()
    assert len(listed["links"]) == 2 and listed["next_page_token"]
    rest = http.get(
        "/v1/links",
        params={"asset_id": own, "page_size": 2, "page_token": listed["next_page_token"]},
        headers=h(keys["assets"]),
    ).json()
    codes = {link["code"] for link in listed["links"] + rest["links"]}
    assert codes == {r["link"]["code"] for r in results if "link" in r}

    code = sorted(codes)[0]
    patched = http.patch(
        f"/v1/links/{code}",
        params={"update_mask": "redirect_status,title"},
        headers=h(keys["assets"]),
        json={"redirect_status": 301, "title": "Renamed"},
    )
    assert patched.status_code == 200 and patched.json()["link"]["title"] == "Renamed"
    assert http.get(f"/s/{code}", headers=BROWSER).status_code == 301
    assert http.delete(f"/v1/links/{code}", headers=h(keys["assets"])).status_code == 200
    assert http.get(f"/s/{code}", headers=BROWSER).status_code == 404
    assert http.delete(f"/v1/links/{code}", headers=h(keys["assets"])).status_code == 404


def test_qr_codes(http: httpx.Client, keys: dict[str, str], asset_id: str) -> None:
    code = created(http, keys, asset_id=asset_id)["code"]
    png = http.get(f"/s/{code}/qr")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    assert image.size[0] == image.size[1] >= 21 * 8
    svg = http.get(f"/s/{code}/qr", params={"format": "svg"})
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    assert http.get(f"/s/{code}/qr", params={"format": "gif"}).status_code == 400
    assert http.get("/s/NoSuch99/qr").status_code == 404


def test_native_grpc_create_and_resolve(gateway_channel: grpc.Channel, keys: dict[str, str], asset_id: str) -> None:
    stub = pb_grpc.ShareLinkServiceStub(gateway_channel)
    made = stub.CreateShareLink(
        pb.CreateShareLinkRequest(link=pb.ShareLink(asset_id=asset_id)), metadata=(("x-api-key", keys["assets"]),)
    )
    resolved = stub.ResolveShareLink(pb.ResolveShareLinkRequest(code=made.link.code, platform="discord"))
    assert resolved.asset_id == asset_id and resolved.clicks == 1
    with pytest.raises(grpc.RpcError) as caught:
        stub.ResolveShareLink(pb.ResolveShareLinkRequest(code="NoSuch99"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_visits_deliveries_and_usage_events_are_measured(
    http: httpx.Client, keys: dict[str, str], asset_id: str, mesh: Mesh
) -> None:
    code = created(http, keys, asset_id=asset_id)["code"]
    assert http.get(f"/s/{code}", headers=BROWSER).status_code == 302
    assert http.get(f"/s/{code}", headers=SLACKBOT).status_code == 200
    assert http.get(f"/a/{asset_id}", headers=BROWSER).status_code == 200

    def samples(service: str = "sharelinks") -> list[Sample]:
        answer = httpx.get(mesh.metrics_url(service), timeout=10)
        assert answer.status_code == 200
        return [s for family in text_string_to_metric_families(answer.text) for s in family.samples]

    def value(found: list[Sample], name: str, **labels: str) -> float:
        return sum(s.value for s in found if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

    found = samples()
    visits = "clearframe_sharelinks_link_visits_total"
    assert value(found, visits, http_response_status_code="302") >= 1
    assert value(found, visits, http_response_status_code="200") >= 1  # the crawler's card
    assert (
        value(found, "clearframe_sharelinks_deliveries_total", http_response_status_code="200", rendition="false") >= 1
    )
    # The click and the view reach analytics: the sender's count of acknowledged events moves.
    wait_for(lambda: value(samples(), "clearframe_sharelinks_events_sent_total") >= 2, timeout_s=10, what="events sent")
    # Each of those requests was a decision of the gateway's rate limiter (allowed: the test rules' limits).
    assert value(samples("gateway"), "clearframe_ratelimit_decisions_total", outcome="allowed") >= 3
    # … and analytics wrote them (its ingest counter).
    assert value(samples("analytics"), "clearframe_analytics_events_stored_total") >= 2
