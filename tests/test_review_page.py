"""The review page in a real browser (Debian's chromium driven by Playwright) against the real mesh.

A strict model flags an uploaded photo; a reviewer signs in with an API key, finds the case in the
queue, unblurs it, rejects it with the keyboard (and undoes a first decision before it is sent), sees it
leave the queue, and the decision, its reviewer and its audit entry are read back through the API. A
request with the cookie but without (or with a forged) CSRF token is refused; a reader without
`moderation.review` cannot decide; after sign-out the media is not served and the old cookie is dead.

No browser is downloaded: Playwright drives the system chromium (`.ci/run` installs it). Without it the
test fails — it never skips.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from clearframe_mesh.launcher import Mesh
from tests.conftest import h, make_key
from tests.media_samples import PHOTOS, _encode, photo
from tests.test_assets import settled, upload, wait_for
from tests.test_moderation import config

CONFIG = "/api/v1/analysis/config"
XSS = "<img src=x onerror=\"document.title='pwned'\">"
#: Markup for a title without spaces (a query parameter's "+" reaches the service as it is, not as a space).
XSS_TITLE = "<svg/onload=document.title='pwned'>"


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Debian's chromium is not installed: `apt-get install -y chromium` (.ci/run does it)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def flagged(http: httpx.Client, keys: dict[str, str]) -> dict[str, Any]:
    """A FLAGGED asset of a model of its own (the astronaut's face weighs 100) and its open review case."""
    model = strict_model(http, keys)
    asset_id, case = flag(http, keys, unique_astronaut("GIF"), model, title=f"Astronaut{XSS_TITLE}", tags=["space"])
    return {"model": model, "asset_id": asset_id, "case": case}


def strict_model(http: httpx.Client, keys: dict[str, str]) -> str:
    model = "m" + uuid.uuid4().hex[:12]
    stored = http.put(f"{CONFIG}/store/{model}", headers=h(keys["config"]), json=config(100, webhooks=False))
    assert stored.status_code == 200, stored.text
    return model


def flag(
    http: httpx.Client, keys: dict[str, str], data: bytes, model: str, **params: Any
) -> tuple[str, dict[str, Any]]:
    """Upload bytes under a strict model; the asset id and its open review case once it is FLAGGED."""
    created = upload(http, keys, data, model, **params)
    assert created.status_code == 201, created.text
    asset_id: str = created.json()["asset"]["asset_id"]
    assert settled(http, keys, asset_id)["moderation_status"] == "MODERATION_STATUS_FLAGGED"
    cases = http.get("/v1/reviews", params={"asset_id": asset_id}, headers=h(keys["read"])).json()["cases"]
    (case,) = cases
    return asset_id, dict(case)


def unique_astronaut(fmt: str) -> bytes:
    """The astronaut (one face: flagged by the strict model) with a corner pixel of its own: assets are named
    by their bytes, so these never collide with other tests' uploads in the same mesh."""
    image = photo("astronaut").convert("RGB")
    image.putpixel((0, 0), tuple(secrets.token_bytes(3)))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def screenshots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: CLEARFRAME_REVIEW_SCREENSHOTS (e.g. docs/) when set, else the test's folder."""
    configured = os.environ.get("CLEARFRAME_REVIEW_SCREENSHOTS", "")
    target = Path(configured) if configured else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target


def sign_in(page: Page, mesh: Mesh, key: str) -> None:
    response = page.goto(f"{mesh.gateway_url}/review/")
    assert response is not None and response.ok
    assert page.url.endswith("/review/index.html")
    expect(page.locator("#sign-in")).to_be_visible()
    page.fill("#credential", key)
    page.press("#credential", "Enter")
    expect(page.locator("#whoami")).to_be_visible()
    expect(page.locator("#credential")).to_have_value("")


def session_cookie(context: BrowserContext) -> dict[str, Any]:
    (cookie,) = [c for c in context.cookies() if c["name"] == "cf_review"]
    return dict(cookie)


def test_page_headers_and_redirect(http: httpx.Client) -> None:
    redirect = http.get("/review/")
    assert redirect.status_code == 302 and redirect.headers["location"] == "/review/index.html"
    page = http.get("/review/index.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and " on" + "click=" not in page.text  # no inline script
    assert http.get("/review/review.js").headers["content-type"].startswith("text/javascript")
    assert http.get("/review/nothing.js").status_code == 404
    assert http.get("/review/..%2Fapi.py").status_code in (400, 404)


def test_reviewer_clears_a_case_with_the_keyboard(
    browser: Browser, mesh: Mesh, http: httpx.Client, keys: dict[str, str], flagged: dict[str, Any], tmp_path: Path
) -> None:
    case_id, asset_id = flagged["case"]["case_id"], flagged["asset_id"]
    reviewer = http.get("/v1/caller", headers=h(keys["review"])).json()["caller"]["subject"]
    shots = screenshots_dir(tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Script errors and CSP violations fail the test; refused requests (the 401 before sign-in, the
    # test's own 403s, the browser's /favicon.ico 404) are expected.
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
    )
    try:
        sign_in(page, mesh, keys["review"])
        expect(page.locator("#subject")).to_have_text(reviewer)
        cookie = session_cookie(context)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        storage = page.evaluate("() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
        assert keys["review"] not in storage and keys["review"] not in page.url
        assert keys["review"] not in page.evaluate("() => document.cookie")  # HttpOnly: script sees nothing

        # The queue, filtered to this test's model: the flagged case, opened, blurred, with its boxes.
        page.fill("#filter-model", flagged["model"])
        page.press("#filter-model", "Escape")  # leave the field: keys are shortcuts again
        row = page.locator(f'#cases li[data-case-id="{case_id}"]')
        expect(row).to_have_count(1)
        expect(page.locator("#count-shown")).to_have_text("1")
        expect(page.locator("#case-id")).to_have_text(case_id)
        expect(page.locator("#stage")).to_have_class("stage blurred")
        page.wait_for_function("() => document.getElementById('media').naturalWidth > 0")
        detections = flagged["case"]["result"]["frames"][0]["detections"]
        assert detections, "the astronaut has a face detection"
        expect(page.locator("#boxes .box")).to_have_count(len(detections))
        expect(page.locator("#boxes .box").first).to_contain_text(detections[0]["mapped_label"])
        expect(page.locator("#rules li").first).to_be_visible()
        expect(page.locator("#audit li")).not_to_have_count(0)
        # Cases opened this session (in the shared test mesh, another test's case may be opened before the
        # filter applies): at least this one.
        expect(page.locator("#viewed")).not_to_have_text("0")
        # The upload's title, markup included, is text on the page.
        expect(page.locator("#meta")).to_contain_text(f"Astronaut{XSS_TITLE}")
        assert page.locator("#meta svg").count() == 0 and page.title() != "pwned"
        page.screenshot(path=str(shots / "review-queue.png"))

        page.keyboard.press("u")
        expect(page.locator("#stage")).to_have_class("stage")
        page.keyboard.press("g")
        expect(page.locator("#stage")).to_have_class("stage gray")
        page.keyboard.press("g")
        page.keyboard.press("?")
        expect(page.locator("#help")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#help")).to_be_hidden()

        # A first decision is undone before it is sent: the case stays open.
        page.keyboard.press("a")
        expect(page.locator("#pending")).to_be_visible()
        page.keyboard.press("z")
        expect(page.locator("#pending")).to_be_hidden()
        page.wait_for_timeout(4500)
        still = http.get(f"/v1/reviews/{case_id}", headers=h(keys["read"])).json()["review_case"]
        assert still["state"] == "REVIEW_CASE_STATE_OPEN"

        # Notes with markup stay text; r rejects, sent after the undo window; the case leaves the queue.
        page.keyboard.press("n")
        page.keyboard.type(f"explicit {XSS}")
        page.keyboard.press("Escape")
        page.keyboard.press("r")
        expect(page.locator("#last")).to_be_visible(timeout=15000)
        expect(row).to_have_count(0)
        expect(page.locator("#last-text")).to_contain_text(XSS)
        assert page.locator("#last img").count() == 0 and page.title() != "pwned"
        statement = json.loads(page.locator("#sor").inner_text())
        assert statement["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        assert statement["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
        assert statement["automated_detection"] == "Yes"
        assert statement["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
        assert XSS in statement["decision_facts"]
        assert statement["content_type"] == ["CONTENT_TYPE_IMAGE"]
        page.screenshot(path=str(shots / "review-decision.png"), full_page=True)
        with page.expect_download() as download:
            page.keyboard.press("e")
        exported = json.loads(Path(download.value.path()).read_text())
        assert exported == statement

        decided = http.get(f"/v1/reviews/{case_id}", headers=h(keys["read"])).json()["review_case"]
        assert decided["state"] == "REVIEW_CASE_STATE_DECIDED"
        decision = http.get(f"/v1/decisions/{decided['decision_id']}", headers=h(keys["read"])).json()["decision"]
        assert decision["verdict"] == "VERDICT_REJECTED" and decision["reviewer"] == reviewer
        assert decision["notes"] == f"explicit {XSS}" and statement["puid"] == decision["decision_id"]
        entries = http.get(
            "/v1/auditEntries", params={"decision_id": decision["decision_id"]}, headers=h(keys["read"])
        ).json()["entries"]
        assert [(e["action"], e["actor"]) for e in entries] == [("AUDIT_ACTION_MANUAL_DECISION", reviewer)]

        # CSRF: the cookie alone, or with a forged token, changes nothing.
        value = session_cookie(context)["value"]
        jar = {"cookie": f"cf_review={value}"}
        for extra in ({}, {"x-csrf-token": "forged"}):
            refused = http.post(
                f"/v1/reviews/{case_id}:decide", headers={**jar, **extra}, json={"verdict": "VERDICT_APPROVED"}
            )
            assert refused.status_code == 403, refused.text
            assert refused.json()["details"][0]["reason"] == "CSRF_TOKEN_INVALID"
        in_page = page.evaluate(
            """async (id) => (await fetch('/v1/reviews/' + id + ':decide', {method: 'POST',
                 headers: {'Content-Type': 'application/json'}, body: '{"verdict":"VERDICT_APPROVED"}'})).status""",
            case_id,
        )
        assert in_page == 403
        assert http.get(f"/v1/assets/{asset_id}/preview", headers=jar).status_code == 200

        # Sign-out: the cookie goes, the old value is dead, and no media is served without a session.
        page.click("#sign-out")
        expect(page.locator("#sign-in")).to_be_visible()
        assert not [c for c in context.cookies() if c["name"] == "cf_review"]
        assert http.get(f"/v1/assets/{asset_id}/preview", headers=jar).status_code == 401
        assert http.get("/v1/reviews", headers=jar).status_code == 401
        assert context.request.get(f"{mesh.gateway_url}/v1/assets/{asset_id}/preview").status == 401
        assert page.locator("#media").get_attribute("src") is None
        assert not errors, errors
    finally:
        context.close()


def test_a_reader_cannot_decide(
    browser: Browser, mesh: Mesh, http: httpx.Client, keys: dict[str, str], admin_headers: dict[str, str]
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, mesh, keys["read"])
        expect(page.locator("#approve")).to_be_disabled()
        csrf = page.evaluate("async () => (await (await fetch('/v1/reviewSession')).json()).session.csrf_token")
        status = page.evaluate(
            """async (token) => (await fetch('/v1/reviews/nonexistent:decide', {method: 'POST',
                 headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
                 body: '{"verdict":"VERDICT_APPROVED"}'})).status""",
            csrf,
        )
        assert status == 403
        # A session cannot mint another session, and a key without moderation.read gets none.
        again = page.evaluate(
            """async (token) => (await fetch('/v1/reviewSession', {method: 'POST',
                 headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token}, body: '{}'})).status""",
            csrf,
        )
        assert again == 403
        assets_only = make_key(http, admin_headers, "assets.write")
        assert http.post("/v1/reviewSession", headers=h(assets_only), json={}).status_code == 403
        assert http.post("/v1/reviewSession", json={}).status_code == 401
    finally:
        context.close()


def test_bulk_decision_by_keyboard(browser: Browser, mesh: Mesh, http: httpx.Client, keys: dict[str, str]) -> None:
    model = strict_model(http, keys)
    flagged = [flag(http, keys, unique_astronaut(fmt), model) for fmt in ("PNG", "JPEG")]
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, mesh, keys["review"])
        page.fill("#filter-model", model)
        page.press("#filter-model", "Escape")
        expect(page.locator("#count-shown")).to_have_text("2")
        expect(page.locator("#case-id")).not_to_be_empty()
        first = page.locator("#case-id").inner_text()
        page.keyboard.press("x")
        page.keyboard.press("j")
        expect(page.locator("#case-id")).not_to_have_text(first)
        page.keyboard.press("x")
        expect(page.locator("#selected-count")).to_have_text("2")
        page.keyboard.press("Shift+A")
        expect(page.locator("#pending-text")).to_contain_text("Approving 2 cases")
        expect(page.locator("#last-text")).to_contain_text("2 cases approved", timeout=15000)
        expect(page.locator("#cases li")).to_have_count(0)
        expect(page.locator("#sor")).to_contain_text("no statement of reasons is due")
        expect(page.locator("#viewed")).to_have_text("2")
        for asset_id, case in flagged:
            decided = http.get(f"/v1/reviews/{case['case_id']}", headers=h(keys["read"])).json()["review_case"]
            assert decided["state"] == "REVIEW_CASE_STATE_DECIDED", asset_id
            wait_for(lambda: http.get(f"/a/{asset_id}").status_code == 200, timeout_s=10, what="publication")  # noqa: B023
    finally:
        context.close()


def unique_video(path: Path, frames: int = 43) -> bytes:
    """A real MP4 (MPEG-4 part 2) cycling through the sample photos, the astronaut on frames 0, 5, 10 …: the
    scanner samples frames 0, 20 and 42 (the last: the chelsea cat). Each frame has a random pixel of its own."""
    images = []
    for i in range(frames):
        image = photo(PHOTOS[i % len(PHOTOS)]).resize((320, 240))
        image.putpixel((0, 0), tuple(secrets.token_bytes(3)))
        images.append(image)
    return _encode(images, path, 15, "mpeg4", "mp4")


def frame_response(page: Page, asset_id: str, index: int) -> Any:
    return page.expect_response(lambda r: r.url.endswith(f"/v1/assets/{asset_id}/frames/{index}"))


def test_a_flagged_video_shows_its_timeline_and_real_frames(
    browser: Browser, mesh: Mesh, http: httpx.Client, keys: dict[str, str], tmp_path: Path
) -> None:
    model = strict_model(http, keys)
    asset_id, case = flag(
        http, keys, unique_video(tmp_path / "clip.mp4"), model, content_type="video/mp4", title="Clip"
    )
    frames = case["result"]["frames"]
    assert len(frames) > 1, frames
    risks = [f.get("risk_score", 0) for f in frames]
    driving = risks.index(max(risks))
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, mesh, keys["review"])
        with frame_response(page, asset_id, frames[driving].get("index", 0)) as first:
            page.fill("#filter-model", model)
            page.press("#filter-model", "Escape")
        answer = first.value
        # The real frame, not the blurred preview: a JPEG of the frame's own shape, never cached.
        assert answer.status == 200 and answer.headers["content-type"] == "image/jpeg"
        assert "no-store" in answer.headers["cache-control"]
        analysed = frames[driving]
        # What the reviewer sees: the image element holds the decoded frame (from a blob: URL of those bytes).
        media = page.locator("#media")
        expect(media).to_have_attribute("data-frame-index", str(analysed.get("index", 0)))
        page.wait_for_function(
            "() => { const m = document.getElementById('media'); return m.complete && m.naturalWidth > 0; }"
        )
        width, height = media.evaluate("m => [m.naturalWidth, m.naturalHeight]")
        assert abs(width / height - analysed["width"] / analysed["height"]) < 0.02
        assert width >= min(analysed["width"], 1280) - 1  # full size (the preview is 320 px high and blurred)

        # The timeline: every sampled frame with its risk; the riskiest marked and shown with its boxes.
        expect(page.locator("#timeline")).to_be_visible()
        buttons = page.locator("#frames button.frame")
        expect(buttons).to_have_count(len(frames))
        expect(page.locator("#frames button.frame.hot")).to_have_count(1)
        assert page.locator("#frames button.frame.hot").get_attribute("data-position") == str(driving)
        expect(page.locator("#frames button.frame.current")).to_have_attribute("data-position", str(driving))
        for position, f in enumerate(frames):
            expect(buttons.nth(position)).to_contain_text(f"risk {f.get('risk_score', 0):.1f}")
        expect(page.locator("#stage")).to_have_class("stage blurred")
        boxes = page.locator("#boxes .box")
        expect(boxes).to_have_count(len(analysed.get("detections", [])))
        detection = analysed["detections"][0]
        expect(boxes.first).to_contain_text(f"{detection['mapped_label']} {round(100 * detection['score'])}%")

        # A click on a box unblurs only inside it: the crop of the real frame shows, the frame stays blurred.
        boxes.first.click()
        expect(boxes.first).to_have_class("box peek")
        expect(boxes.first.locator("img.crop")).to_be_visible()
        expect(page.locator("#stage")).to_have_class("stage blurred")
        page.screenshot(path=str(screenshots_dir(tmp_path) / "review-case.png"), full_page=True)
        page.keyboard.press("u")
        expect(page.locator("#stage")).to_have_class("stage")

        # Another frame: fetched, shown with its own boxes (none on the cat).
        other = next(p for p in range(len(frames)) if p != driving)
        with frame_response(page, asset_id, frames[other].get("index", 0)) as picked:
            buttons.nth(other).click()
        assert picked.value.status == 200
        expect(page.locator("#frames button.frame.current")).to_have_attribute("data-position", str(other))
        expect(page.locator("#media")).to_have_attribute("data-frame-index", str(frames[other].get("index", 0)))
        expect(boxes).to_have_count(len(frames[other].get("detections", [])))
        with frame_response(page, asset_id, frames[driving].get("index", 0)):
            page.keyboard.press("[" if driving < other else "]")  # back toward the riskiest, by key
    finally:
        context.close()


def test_the_unblurred_frames_only_to_a_review_session(
    http: httpx.Client, keys: dict[str, str], admin_headers: dict[str, str], flagged: dict[str, Any]
) -> None:
    asset_id = flagged["asset_id"]
    url = f"/v1/assets/{asset_id}/frames/0"
    assert http.get(f"/a/{asset_id}").status_code == 404  # FLAGGED media is never public
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"cookie": "cf_review=v1.e30.forged"}).status_code == 401
    # Keys are refused even with moderation.read: unblurred media goes to the page's session only.
    for key in (keys["read"], keys["review"]):
        refused = http.get(url, headers=h(key))
        assert refused.status_code == 403, refused.text
        assert refused.json()["details"][0]["reason"] == "REVIEW_SESSION_REQUIRED"
    assert http.get(url, headers=h(keys["assets"])).status_code == 403
    signed_in = http.post("/v1/reviewSession", headers=h(keys["read"]), json={})
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["set-cookie"].split(";", 1)[0]
    csrf = signed_in.json()["session"]["csrf_token"]
    served = http.get(url, headers={"cookie": cookie})
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"] == "private, no-store"
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.format == "JPEG" and image.size == (512, 512)  # the astronaut as uploaded
    beyond = http.get(f"/v1/assets/{asset_id}/frames/1", headers={"cookie": cookie})
    assert beyond.status_code == 400 and beyond.json()["details"][0]["reason"] == "INVALID_FRAME_INDEX"
    assert http.delete("/v1/reviewSession", headers={"cookie": cookie, "x-csrf-token": csrf}).status_code == 200
    assert http.get(url, headers={"cookie": cookie}).status_code == 401


def test_live_updates_follow_decisions_made_elsewhere(
    browser: Browser, mesh: Mesh, http: httpx.Client, keys: dict[str, str]
) -> None:
    model = strict_model(http, keys)
    _, case = flag(http, keys, unique_astronaut("PNG"), model)
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, mesh, keys["review"])
        page.fill("#filter-model", model)
        page.press("#filter-model", "Escape")
        expect(page.locator(f'#cases li[data-case-id="{case["case_id"]}"]')).to_have_count(1)
        # Pushed by the decision feed (polling is off while the stream is up).
        expect(page.locator("#live-state")).to_have_text("push")
        decided = http.post(
            f"/v1/reviews/{case['case_id']}:decide",
            headers=h(keys["review"]),
            json={"verdict": "VERDICT_APPROVED", "notes": "decided by another reviewer"},
        )
        assert decided.status_code == 200, decided.text
        expect(page.locator(f'#cases li[data-case-id="{case["case_id"]}"]')).to_have_count(0)
        # A newly flagged upload appears without a refresh.
        _, fresh = flag(http, keys, unique_astronaut("JPEG"), model)
        expect(page.locator(f'#cases li[data-case-id="{fresh["case_id"]}"]')).to_have_count(1)
        expect(page.locator("#live-state")).to_have_text("push")
    finally:
        context.close()
