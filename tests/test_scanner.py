"""The scanner through the gateway: seed 000's /check, /batch, /stats as their clients use them, and
/v1/scans. Real models on the local Triton, real media made from scikit-image's photos."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_key
from tests.media_samples import animated_gif, encoded, sample_indices, video

CORE_KEYS = [
    "modules.nsfw_scanner",
    "modules.tagging",
    "modules.deepdanbooru_tags",
    "modules.statistics",
    "modules.image_storage",
]


@pytest.fixture(scope="module")
def bot_token(http: httpx.Client, admin_headers: dict[str, str]) -> str:
    """What the Discord bot holds: a seed-000 token from GET /token."""
    response = http.get("/token", params={"email": "scanner-bot@example.org"}, headers=admin_headers)
    assert response.status_code == 200
    return response.text


def check(
    http: httpx.Client,
    token: str,
    image: bytes,
    *,
    field: str = "image",
    bearer: bool = False,
    filename: str = "upload.png",
    mime: str = "image/png",
) -> httpx.Response:
    auth = f"Bearer {token}" if bearer else token
    return http.post("/check", headers={"Authorization": auth}, files={field: (filename, image, mime)})


def bot_verdict(body: dict[str, Any]) -> str:
    """pixai-discord-bot: risk = hentai + porn + sexy; flag at 0.6, delete at 0.95."""
    scores = body["modules.nsfw_scanner"]
    risk = scores["hentai"] + scores["porn"] + scores["sexy"]
    return "delete" if risk >= 0.95 else "flag" if risk >= 0.6 else "ok"


def supervisor_verdict(body: dict[str, Any]) -> str:
    """SuperVisOr: max(hentai, porn, sexy), raised by rating tags; ≥ 0.7 is NSFW."""
    scores = body.get("modules.nsfw_scanner") or body["modules"]["nsfw_scanner"]
    score = max(scores["hentai"], scores["porn"], scores["sexy"])
    tags = [t["label"] for t in body["modules.deepdanbooru_tags"]["tags"]]
    if "rating:explicit" in tags:
        score = max(score, 1.0)
    elif "rating:questionable" in tags:
        score = max(score, 0.7)
    return "nsfw" if score >= 0.7 else "sfw"


@pytest.mark.parametrize("photo", ["astronaut", "coffee", "chelsea"])
def test_check_answers_the_seed_shape_and_clients_find_safe_media_safe(
    http: httpx.Client, bot_token: str, photo: str
) -> None:
    response = check(http, bot_token, encoded(photo))
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body)[:5] == CORE_KEYS
    assert set(body["modules.nsfw_scanner"]) == {"drawings", "hentai", "neutral", "porn", "sexy"}
    assert all(0.0 <= v <= 1.0 for v in body["modules.nsfw_scanner"].values())
    ddb = [t["label"] for t in body["modules.deepdanbooru_tags"]["tags"]]
    assert "rating:safe" in ddb
    assert all(t["score"] > 0.2 for t in body["modules.deepdanbooru_tags"]["tags"])
    assert body["modules.image_storage"]["path"].endswith(".jpg")
    assert bot_verdict(body) == "ok"
    assert supervisor_verdict(body) == "sfw"


def test_check_detects_the_astronauts_face(http: httpx.Client, bot_token: str) -> None:
    body = check(http, bot_token, encoded("astronaut", "JPEG", quality=92), mime="image/jpeg").json()
    assert "face_female" in [t["label"] for t in body["modules.tagging"]["tags"]]
    detections = body["modules.nudenet"]["detections"]
    face = next(d for d in detections if d["label"] == "FACE_FEMALE")
    assert face["score"] > 0.5
    _x, y, _w, h = face["box"]
    assert y + h < 512 * 0.6  # upper part of the 512×512 photo


def test_check_also_accepts_bearer_tokens(http: httpx.Client, bot_token: str) -> None:
    assert check(http, bot_token, encoded("coffee"), bearer=True).status_code == 200


def test_check_errors_are_the_seeds(http: httpx.Client, bot_token: str) -> None:
    missing = check(http, bot_token, encoded("coffee"), field="picture")
    assert (missing.status_code, missing.json()) == (400, {"error": "image missing"})
    invalid = check(http, bot_token, b"this is not an image at all")
    assert (invalid.status_code, invalid.json()) == (400, {"error": "invalid image"})
    truncated = check(http, bot_token, encoded("astronaut")[:5000])
    assert (truncated.status_code, truncated.json()) == (400, {"error": "invalid image"})
    large = check(http, bot_token, b"\0" * (10 * 1024 * 1024 + 1))
    assert (large.status_code, large.json()) == (413, {"error": "payload too large"})
    forbidden = check(http, "0" * 32, encoded("coffee"))
    assert (forbidden.status_code, forbidden.json()) == (403, {"error": "forbidden"})
    wrong_type = http.post(
        "/check", headers={"Authorization": bot_token, "content-type": "application/json"}, content=b"{}"
    )
    assert (wrong_type.status_code, wrong_type.json()) == (403, {"error": "invalid content-type"})


def _png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas (a decompression bomb)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_without_decoding(
    http: httpx.Client, bot_token: str, admin_headers: dict[str, str]
) -> None:
    bomb = _png_bomb(60000, 60000)
    response = check(http, bot_token, bomb)
    assert (response.status_code, response.json()) == (400, {"error": "invalid image"})
    key = make_key(http, admin_headers, "scans.create")
    v1 = http.post("/v1/scans", headers={"X-API-Key": key, "content-type": "image/png"}, content=bomb)
    assert v1.status_code == 400
    assert v1.json()["details"][0]["reason"] == "DIMENSIONS_TOO_LARGE"


def test_batch_gif_samples_like_the_seed(http: httpx.Client, bot_token: str) -> None:
    gif = animated_gif(23)
    response = http.post("/batch", headers={"Authorization": bot_token}, files={"file": ("a.gif", gif, "image/gif")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"risk", "tags", "frameCount"}
    # The seed's frameCount is the frames it extracted (all of them, at most 60), not the 6 it sampled.
    assert body["frameCount"] == 23
    assert body["tags"] == sorted(set(body["tags"])) and len(body["tags"]) <= 200
    assert 0.0 <= body["risk"] < 0.6


@pytest.mark.parametrize(("frames", "expected"), [(3, 3), (75, 60)])
def test_batch_frame_count_is_the_frames_extracted_capped_at_60(
    http: httpx.Client, bot_token: str, frames: int, expected: int
) -> None:
    gif = animated_gif(frames)
    response = http.post("/batch", headers={"Authorization": bot_token}, files={"file": ("a.gif", gif, "image/gif")})
    assert response.status_code == 200, response.text
    assert response.json()["frameCount"] == expected


def test_batch_video_uses_the_video_step(http: httpx.Client, bot_token: str, tmp_path: Path) -> None:
    clip = video(tmp_path / "clip.mp4", frames=45)
    response = http.post(
        "/batch", headers={"Authorization": bot_token}, files={"file": ("clip.mp4", clip, "video/mp4")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["frameCount"] == 45  # every frame of the clip, though only 3 were sampled (step 20)


def test_batch_errors(http: httpx.Client, bot_token: str) -> None:
    missing = http.post("/batch", headers={"Authorization": bot_token}, files={"other": ("a.gif", b"x", "image/gif")})
    assert (missing.status_code, missing.json()) == (400, {"error": "file missing"})
    corrupt = http.post(
        "/batch", headers={"Authorization": bot_token}, files={"file": ("a.gif", animated_gif(8)[:300], "image/gif")}
    )
    assert corrupt.status_code == 400
    assert corrupt.json()["error"].startswith("invalid media")
    large = http.post(
        "/batch",
        headers={"Authorization": bot_token},
        files={"file": ("a.mp4", b"\0" * (25 * 1024 * 1024 + 1), "video/mp4")},
    )
    assert (large.status_code, large.json()) == (413, {"error": "payload too large"})


def test_stats_counts_tags(http: httpx.Client, bot_token: str) -> None:
    check(http, bot_token, encoded("astronaut"))
    response = http.get("/stats", headers={"Authorization": bot_token})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "top_tags"}
    assert body["count"] >= 1 and 1 <= len(body["top_tags"]) <= 5
    assert "face_female" in body["top_tags"]


def test_v1_scan_of_an_image(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    key = make_key(http, admin_headers, "scans.create", "moderation.read")
    headers = {"X-API-Key": key}
    response = http.post(
        "/v1/scans",
        params={"usage_intent": "public_site", "title": "Coffee on a table"},
        headers={**headers, "content-type": "image/jpeg"},
        content=encoded("coffee", "JPEG", quality=90),
    )
    assert response.status_code == 201, response.text
    scan = response.json()["scan"]
    assert response.headers["location"] == f"/v1/scans/{scan['scan_id']}"
    assert scan["state"] == "SCAN_STATE_SUCCEEDED" and scan["media_type"] == "MEDIA_TYPE_IMAGE"
    result = scan["result"]
    assert result["verdict"] == "VERDICT_APPROVED"
    assert {"nudenet", "opennsfw"} <= set(result["analyzers"])
    assert result["legacy"]["provenance"]["origin"] == "VALUE_ORIGIN_DERIVED"
    assert result["reasons"]["automated"] and result["reasons"]["usage_intent"] == "public_site"
    assert len(result["pdq_hash"]) == 64
    fetched = http.get(f"/v1/scans/{scan['scan_id']}", headers=headers)
    assert fetched.status_code == 200 and fetched.json()["scan"]["result"]["verdict"] == "VERDICT_APPROVED"


def test_v1_scan_of_a_gif_has_per_frame_evidence(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    key = make_key(http, admin_headers, "scans.create")
    response = http.post("/v1/scans", headers={"X-API-Key": key, "content-type": "image/gif"}, content=animated_gif(12))
    assert response.status_code == 201, response.text
    result = response.json()["scan"]["result"]
    assert [f["index"] for f in result["frames"]] == sample_indices(12, 5)
    assert result["frames_total"] == 12 and result["frames_analyzed"] == len(sample_indices(12, 5))


def test_v1_scan_errors(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    key = make_key(http, admin_headers, "scans.create", "moderation.read")
    headers = {"X-API-Key": key}
    empty = http.post("/v1/scans", headers={**headers, "content-type": "image/png"}, content=b"")
    assert empty.status_code == 400 and empty.json()["details"][0]["reason"] == "EMPTY_BODY"
    intent = http.post(
        "/v1/scans",
        params={"usage_intent": "darkweb"},
        headers={**headers, "content-type": "image/png"},
        content=encoded("coffee"),
    )
    assert intent.status_code == 400 and intent.json()["details"][0]["reason"] == "INVALID_USAGE_INTENT"
    text = http.post("/v1/scans", headers={**headers, "content-type": "text/plain"}, content=b"hello")
    assert text.status_code == 400
    missing = http.get("/v1/scans/doesnotexist", headers=headers)
    assert missing.status_code == 404 and missing.json()["details"][0]["reason"] == "SCAN_NOT_FOUND"
    tricky = http.get("/v1/scans/..%2F..%2Fetc", headers=headers)
    assert tricky.status_code in (400, 404)
    reader = make_key(http, admin_headers, "moderation.read")
    denied = http.post("/v1/scans", headers={"X-API-Key": reader, "content-type": "image/png"}, content=b"x")
    assert denied.status_code == 403


def test_list_scans_paginates(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    key = make_key(http, admin_headers, "scans.create", "moderation.read")
    headers = {"X-API-Key": key}
    for _ in range(3):
        http.post(
            "/v1/scans",
            params={"model_id": "paging-model"},
            headers={**headers, "content-type": "image/png"},
            content=encoded("chelsea"),
        )
    seen, token = [], ""
    while True:
        page = http.get(
            "/v1/scans", params={"model_id": "paging-model", "page_size": 2, "page_token": token}, headers=headers
        ).json()
        seen += page["scans"]
        token = page["next_page_token"]
        if not token:
            break
    assert len(seen) == 3
    stats = http.get("/v1/tagStats", headers=headers).json()
    assert int(stats["recorded_count"]) >= 1


def test_idempotent_request_id(http: httpx.Client, admin_headers: dict[str, str]) -> None:
    key = make_key(http, admin_headers, "scans.create")
    headers = {"X-API-Key": key, "content-type": "image/png"}
    params = {"request_id": "0b0e7d3c-5b1e-4c5a-9d59-9c0f3f6d1a11"}
    first = http.post("/v1/scans", params=params, headers=headers, content=encoded("coffee")).json()["scan"]
    second = http.post("/v1/scans", params=params, headers=headers, content=encoded("coffee")).json()["scan"]
    assert first["scan_id"] == second["scan_id"]
    taken = http.post("/v1/scans", params={"scan_id": first["scan_id"]}, headers=headers, content=encoded("coffee"))
    assert taken.status_code == 409


def test_return_immediately_answers_202_and_the_scan_completes(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    import time

    key = make_key(http, admin_headers, "scans.create", "moderation.read")
    response = http.post(
        "/v1/scans",
        params={"return_immediately": "true"},
        headers={"X-API-Key": key, "content-type": "image/png"},
        content=encoded("rocket"),
    )
    assert response.status_code == 202, response.text
    scan_id = response.json()["scan"]["scan_id"]
    assert response.json()["scan"]["state"] == "SCAN_STATE_RUNNING"
    deadline = time.monotonic() + 30
    while True:
        scan = http.get(f"/v1/scans/{scan_id}", headers={"X-API-Key": key}).json()["scan"]
        if scan["state"] == "SCAN_STATE_SUCCEEDED":
            break
        assert time.monotonic() < deadline, scan
        time.sleep(0.2)
    assert scan["result"]["verdict"] in ("VERDICT_APPROVED", "VERDICT_FLAGGED")
