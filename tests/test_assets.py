"""Assets through the gateway: upload → scan → APPROVED → delivery at `/a/{id}` with Range/ETag/304/416
and cache headers, renditions ffmpeg can play, nothing undecided or refused delivered, takedown, signed
URLs, and bad input."""

from __future__ import annotations

import hashlib
import io
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
import imageio_ffmpeg
import pytest
from PIL import Image

from tests.conftest import PurgeSink, h
from tests.media_samples import animated_gif, encoded, video
from tests.test_moderation import config

CONFIG = "/api/v1/analysis/config"
T = TypeVar("T")


@pytest.fixture(scope="module")
def lenient(http: httpx.Client, keys: dict[str, str]) -> str:
    """A model whose configuration approves the sample photos (faces weigh nothing)."""
    return _model(http, keys, 0)


@pytest.fixture(scope="module")
def strict(http: httpx.Client, keys: dict[str, str]) -> str:
    """A model whose configuration flags a face (the astronaut) for review."""
    return _model(http, keys, 100)


def _model(http: httpx.Client, keys: dict[str, str], weight: float) -> str:
    model = "m" + uuid.uuid4().hex[:12]
    stored = http.put(f"{CONFIG}/store/{model}", headers=h(keys["config"]), json=config(weight, webhooks=False))
    assert stored.status_code == 200, stored.text
    return model


def wait_for(probe: Callable[[], T | None], timeout_s: float = 60.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def upload(http: httpx.Client, keys: dict[str, str], data: bytes, model: str, **params: Any) -> httpx.Response:
    content_type = params.pop("content_type", "image/gif")
    return http.post(
        "/v1/assets",
        params={"usage_intent": "store", "model_id": model, **params},
        headers={**h(keys["assets"]), "content-type": content_type},
        content=data,
    )


def asset(http: httpx.Client, keys: dict[str, str], asset_id: str) -> dict[str, Any]:
    answer = http.get(f"/v1/assets/{asset_id}", headers=h(keys["assets"]))
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["asset"]
    return found


def settled(http: httpx.Client, keys: dict[str, str], asset_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (a := asset(http, keys, asset_id))["moderation_status"] != "MODERATION_STATUS_PENDING" and a,
        what=f"a decision on {asset_id}",
    )


def published(http: httpx.Client, keys: dict[str, str], data: bytes, model: str, **params: Any) -> dict[str, Any]:
    created = upload(http, keys, data, model, **params)
    assert created.status_code == 201, created.text
    decided = settled(http, keys, created.json()["asset"]["asset_id"])
    assert decided["moderation_status"] == "MODERATION_STATUS_APPROVED", decided
    return decided


def gif(seed: int, frames: int = 6) -> bytes:
    return animated_gif(frames, size=(96 + 2 * seed, 72))


def test_upload_scan_approve_deliver(http: httpx.Client, keys: dict[str, str], lenient: str) -> None:
    data = gif(1)
    created = upload(
        http,
        keys,
        data,
        lenient,
        title="Cat + dog",  # sent as Cat+%2B+dog: a form-encoded space is a '+'
        tags=["cat", "funny"],
        filename="cat.gif",
        content_type="application/octet-stream",
    )  # the type is read from the bytes
    assert created.status_code == 201, created.text
    body = created.json()["asset"]
    digest = hashlib.sha256(data).hexdigest()
    assert body["asset_id"] == digest[:16] and body["sha256"] == digest
    assert created.headers["location"] == f"/v1/assets/{body['asset_id']}"
    assert body["moderation_status"] == "MODERATION_STATUS_PENDING" and body["scan_id"]
    assert (
        body["content_type"] == "image/gif"
        and body["frame_count"] == 6
        and body["canonical_url"].endswith(f"/a/{body['asset_id']}")
    )
    assert http.get(f"/a/{body['asset_id']}").status_code == 404  # nothing before its decision

    decided = settled(http, keys, body["asset_id"])
    assert decided["moderation_status"] == "MODERATION_STATUS_APPROVED" and decided["decision_id"]
    url = f"/a/{body['asset_id']}"
    full = http.get(url)
    assert full.status_code == 200 and full.content == data
    assert full.headers["content-type"] == "image/gif"
    assert full.headers["etag"] == f'"{digest}"'
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable" and full.headers["expires"]
    assert full.headers["x-content-type-options"] == "nosniff"
    assert full.headers["surrogate-key"] == body["asset_id"] and full.headers["cache-tag"] == body["asset_id"]
    assert full.headers["content-disposition"].startswith("inline") and "cat.gif" in full.headers["content-disposition"]

    part = http.get(url, headers={"range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = http.get(url, headers={"range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == data[-5:]
    rest = http.get(url, headers={"range": f"bytes={len(data) - 3}-"})
    assert rest.status_code == 206 and rest.content == data[-3:]
    beyond = http.get(url, headers={"range": f"bytes={len(data)}-"})
    assert (
        beyond.status_code == 416
        and beyond.headers["content-range"] == f"bytes */{len(data)}"
        and beyond.content == b""
    )
    inverted = http.get(url, headers={"range": "bytes=9-3"})
    assert inverted.status_code == 416
    several = http.get(url, headers={"range": "bytes=0-1, 5-9"})  # the first range only
    assert several.status_code == 206 and several.content == data[:2]
    huge = http.get(url, headers={"range": "bytes=0-99999999999999999999999999"})
    assert huge.status_code in (200, 416) and huge.content in (data, b"")
    other_unit = http.get(url, headers={"range": "items=0-3"})
    assert other_unit.status_code == 200 and other_unit.content == data

    fresh = http.get(url, headers={"if-none-match": f'W/"x", "{digest}"'})
    assert fresh.status_code == 304 and fresh.content == b"" and fresh.headers["etag"] == f'"{digest}"'
    assert http.get(url, headers={"if-none-match": "*"}).status_code == 304
    assert http.get(url, headers={"if-none-match": "garbage,,,"}).status_code == 200
    stale_range = http.get(url, headers={"range": "bytes=0-3", "if-range": '"not-it"'})
    assert stale_range.status_code == 200 and stale_range.content == data
    good_range = http.get(url, headers={"range": "bytes=0-3", "if-range": f'"{digest}"'})
    assert good_range.status_code == 206 and good_range.content == data[:4]

    head = http.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(data)) and head.headers["etag"] == f'"{digest}"'
    assert "grpc-status" not in head.headers and "grpc-status" not in full.headers
    # Only the gateway marks HEAD requests: a client's own mark is removed, the GET keeps its body.
    forged = http.get(url, headers={"x-clearframe-head": "1"})
    assert forged.status_code == 200 and forged.content == data
    assert http.head(f"/a/{'f' * 16}").status_code == 404

    again = upload(http, keys, data, lenient)
    assert again.status_code == 409, again.text
    detail = again.json()["details"][0]
    assert detail["reason"] == "ASSET_ALREADY_EXISTS" and detail["metadata"]["asset_id"] == body["asset_id"]
    assert asset(http, keys, body["asset_id"])["title"] == "Cat + dog"


def test_renditions_are_playable(http: httpx.Client, keys: dict[str, str], lenient: str, tmp_path: Path) -> None:
    approved = published(http, keys, animated_gif(8, size=(320, 240)), lenient)
    asset_id = approved["asset_id"]

    def ready() -> dict[str, dict[str, Any]] | None:
        renditions = {r["name"]: r for r in asset(http, keys, asset_id)["renditions"]}
        states = {r["state"] for r in renditions.values()}
        return renditions if renditions and states == {"RENDITION_STATE_READY"} else None

    renditions = wait_for(ready, timeout_s=180, what="renditions")
    assert set(renditions) == {"mp4", "webp", "poster", "mp4-200", "webp-200", "poster-200"}
    for name, expected_type in (("mp4", "video/mp4"), ("webp-200", "image/webp"), ("poster-200", "image/jpeg")):
        answer = http.get(f"/a/{asset_id}/{name}")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == expected_type == renditions[name]["content_type"]
        assert answer.headers["surrogate-key"] == asset_id
        assert int(answer.headers["content-length"]) == int(renditions[name]["size_bytes"]) == len(answer.content)
        path = tmp_path / name
        path.write_bytes(answer.content)
        decoded = subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
            capture_output=True,
            timeout=60,
        )
        assert decoded.returncode == 0 and not decoded.stderr, decoded.stderr
    assert renditions["poster-200"]["height"] == 200 and renditions["mp4-200"]["height"] == 200
    assert renditions["mp4"]["width"] % 2 == 0
    with Image.open(io.BytesIO(http.get(f"/a/{asset_id}/poster").content)) as poster:
        assert poster.size == (renditions["poster"]["width"], renditions["poster"]["height"])
    part = http.get(f"/a/{asset_id}/mp4", headers={"range": "bytes=0-7"})
    assert part.status_code == 206 and part.content[4:8] == b"ftyp"
    assert http.get(f"/a/{asset_id}/..%2f..%2fetc").status_code in (400, 404)
    assert http.get(f"/a/{asset_id}/original").status_code == 400


def test_flagged_is_not_served_until_a_reviewer_approves_and_a_takedown_stops_it(
    http: httpx.Client, keys: dict[str, str], strict: str, purge_sink: PurgeSink
) -> None:
    created = upload(http, keys, encoded("astronaut", "GIF"), strict)
    assert created.status_code == 201, created.text
    asset_id = created.json()["asset"]["asset_id"]
    flagged = settled(http, keys, asset_id)
    assert flagged["moderation_status"] == "MODERATION_STATUS_FLAGGED"
    assert http.get(f"/a/{asset_id}").status_code == 404
    assert http.head(f"/a/{asset_id}").status_code == 404
    preview = http.get(f"/v1/assets/{asset_id}/preview", headers=h(keys["read"]))
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    assert http.get(f"/v1/assets/{asset_id}/preview").status_code == 401
    assert http.get(f"/v1/assets/{asset_id}/preview", headers=h(keys["assets"])).status_code == 403

    cases = http.get("/v1/reviews", params={"asset_id": asset_id}, headers=h(keys["read"])).json()["cases"]
    (case,) = cases
    decided = http.post(
        f"/v1/reviews/{case['case_id']}:decide",
        headers=h(keys["review"]),
        json={"verdict": "VERDICT_APPROVED", "etag": case["etag"]},
    )
    assert decided.status_code == 200, decided.text
    wait_for(lambda: http.get(f"/a/{asset_id}").status_code == 200, timeout_s=5, what="publication by review")
    assert asset(http, keys, asset_id)["decision_id"] == decided.json()["decision"]["decision_id"]

    takedown = http.post(
        "/v1/decisions",
        headers=h(keys["review"]),
        json={"scan_id": flagged["scan_id"], "verdict": "VERDICT_REJECTED", "notes": "takedown"},
    )
    assert takedown.status_code == 201, takedown.text
    wait_for(lambda: http.get(f"/a/{asset_id}").status_code == 404, timeout_s=5, what="the takedown")
    assert http.get(f"/a/{asset_id}/poster").status_code == 404
    wait_for(lambda: asset_id in purge_sink.purged_keys(), timeout_s=10, what="the CDN purge")


def test_signed_urls(http: httpx.Client, keys: dict[str, str], lenient: str) -> None:
    approved = published(
        http, keys, gif(3), lenient, visibility="ASSET_VISIBILITY_SIGNED", cache_policy="CACHE_POLICY_SHORT"
    )
    asset_id = approved["asset_id"]
    refused = http.get(f"/a/{asset_id}")
    assert refused.status_code == 403 and refused.json()["details"][0]["reason"] == "SIGNATURE_REQUIRED"
    signed = http.post(
        f"/v1/assets/{asset_id}:signUrl",
        headers=h(keys["assets"]),
        json={"ttl": "600s", "disposition": "attachment", "filename": "Katze ü.gif"},
    )
    assert signed.status_code == 200, signed.text
    url = signed.json()["url"]
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["kid"] and params["expires"] and params["signature"]
    path = urlsplit(url).path + "?" + urlsplit(url).query
    good = http.get(path)
    assert good.status_code == 200 and good.content
    assert good.headers["cache-control"].startswith("private, max-age=")
    assert int(good.headers["cache-control"].split("max-age=")[1].split(",")[0]) <= 600
    assert "attachment" in good.headers["content-disposition"]
    assert "filename*=UTF-8''Katze%20%C3%BC.gif" in good.headers["content-disposition"]

    tampered = path.replace("attachment", "inline")
    assert http.get(tampered).json()["details"][0]["reason"] == "INVALID_SIGNATURE"
    unknown_key = path.replace(f"kid={params['kid']}", "kid=nosuchkey")
    assert http.get(unknown_key).json()["details"][0]["reason"] == "INVALID_SIGNATURE"
    verified = http.post("/v1/signedUrls:verify", headers=h(keys["assets"]), json={"url": url})
    assert verified.json()["valid"] is True and verified.json()["asset_id"] == asset_id
    forged = http.post("/v1/signedUrls:verify", headers=h(keys["assets"]), json={"url": unknown_key})
    assert forged.json()["problem"] == "SIGNED_URL_PROBLEM_UNKNOWN_KEY"
    too_long = http.post(f"/v1/assets/{asset_id}:signUrl", headers=h(keys["assets"]), json={"ttl": "99999999s"})
    assert too_long.status_code == 400 and too_long.json()["details"][0]["reason"] == "INVALID_TTL"


def test_video_upload_and_rescan_rules(http: httpx.Client, keys: dict[str, str], lenient: str, tmp_path: Path) -> None:
    clip = video(tmp_path / "clip.mp4", frames=30)
    created = upload(http, keys, clip, lenient, content_type="video/mp4")
    assert created.status_code == 201, created.text
    body = created.json()["asset"]
    assert body["content_type"] == "video/mp4" and body["duration"]
    decided = settled(http, keys, body["asset_id"])
    refused = http.post(f"/v1/assets/{body['asset_id']}:rescan", headers=h(keys["assets"]), json={})
    assert refused.status_code == 400 and refused.json()["details"][0]["reason"] == "ASSET_NOT_RESCANNABLE", decided


@pytest.mark.parametrize(
    ("data", "content_type", "params", "status", "reason"),
    [
        (b"", "image/gif", {}, 400, "EMPTY_BODY"),
        (b"<html><script>alert(1)</script></html>", "image/gif", {}, 400, None),
        (b"GIF89a\x10\x00\x10\x00", "image/gif", {}, 400, None),  # truncated
        (encoded("astronaut", "PNG"), "text/html", {"title": "t" * 301}, 400, "TEXT_TOO_LONG"),
        (encoded("astronaut", "PNG"), "image/png", {"tags": [f"t{i}" for i in range(51)]}, 400, "TEXT_TOO_LONG"),
        (encoded("astronaut", "PNG"), "image/png", {"usage_intent": "nope"}, 400, "INVALID_USAGE_INTENT"),
        (encoded("astronaut", "PNG"), "image/png", {"nonsense": "1"}, 400, None),
    ],
)
def test_bad_uploads(
    http: httpx.Client,
    keys: dict[str, str],
    lenient: str,
    data: bytes,
    content_type: str,
    params: dict[str, Any],
    status: int,
    reason: str | None,
) -> None:
    answer = upload(http, keys, data, lenient, content_type=content_type, **params)
    assert answer.status_code == status, answer.text
    if reason:
        assert answer.json()["details"][0]["reason"] == reason
    if data:
        assert (
            http.get(f"/v1/assets/{hashlib.sha256(data).hexdigest()[:16]}", headers=h(keys["assets"])).status_code
            == 404
        )


def test_unsafe_file_names_are_made_safe(http: httpx.Client, keys: dict[str, str], lenient: str) -> None:
    created = upload(http, keys, gif(5), lenient, filename='../../etc/"pass\r\nwd".gif')
    assert created.status_code == 201, created.text
    name = created.json()["asset"]["filename"]
    assert "/" not in name and "\r" not in name and "\n" not in name and name.endswith(".gif")
    decided = settled(http, keys, created.json()["asset"]["asset_id"])
    disposition = http.get(f"/a/{decided['asset_id']}").headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition and "/" not in disposition


def test_decompression_bomb_is_refused(http: httpx.Client, keys: dict[str, str], lenient: str) -> None:
    buffer = io.BytesIO()
    Image.new("L", (20_000, 20_000)).save(buffer, "PNG")  # 400 megapixels, a few hundred KB
    answer = upload(http, keys, buffer.getvalue(), lenient, content_type="image/png")
    assert answer.status_code == 400, answer.text
    assert answer.json()["details"][0]["reason"] == "DIMENSIONS_TOO_LARGE"


@pytest.mark.parametrize(
    "path", ["/a/../../etc/passwd", "/a/0123456789ABCDEF", "/a/0123456789abcdef0", "/a/%2e%2e%2fsecret", "/a/xyz"]
)
def test_bad_asset_paths(http: httpx.Client, path: str) -> None:
    answer = http.get(path)
    assert answer.status_code in (400, 404), answer.text
    assert "text/html" not in answer.headers.get("content-type", "")


def test_unknown_assets_and_credentials(http: httpx.Client, keys: dict[str, str]) -> None:
    assert http.get("/a/0123456789abcdef").status_code == 404
    assert http.get("/v1/assets/0123456789abcdef").status_code == 401
    assert http.get("/v1/assets/0123456789abcdef", headers=h(keys["assets"])).status_code == 404
    bad_id = http.get("/v1/assets/not-an-id", headers=h(keys["assets"]))
    assert bad_id.status_code == 400 and bad_id.json()["details"][0]["reason"] == "INVALID_ASSET_ID"
    listed = http.get("/v1/assets", params={"moderation_status": "MODERATION_STATUS_APPROVED"}, headers=h(keys["read"]))
    assert listed.status_code == 200
    assert all(a["moderation_status"] == "MODERATION_STATUS_APPROVED" for a in listed.json()["assets"])


def test_delete_stops_delivery_and_removes_bytes(http: httpx.Client, keys: dict[str, str], lenient: str) -> None:
    approved = published(http, keys, gif(4), lenient)
    asset_id = approved["asset_id"]
    assert http.get(f"/a/{asset_id}").status_code == 200
    deleted = http.delete(f"/v1/assets/{asset_id}", headers=h(keys["assets"]))
    assert deleted.status_code == 200, deleted.text
    assert http.get(f"/a/{asset_id}").status_code == 404
    assert http.get(f"/v1/assets/{asset_id}", headers=h(keys["assets"])).status_code == 404
    # Uploaded again it is a new asset, scanned again.
    again = upload(http, keys, gif(4), lenient)
    assert again.status_code == 201, again.text
