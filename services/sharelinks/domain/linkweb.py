"""What a short link looks like on the web: its code, the redirect target, who is visiting (a person on
some platform, or a chat app's link crawler), the Open Graph card, the Gone page and the QR code.

Pure functions of their arguments (the QR code comes from segno, which is pure Python too).
"""

from __future__ import annotations

import html
import io
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import segno

from clearframe_runtime.errors import InvalidArgument
from services.sharelinks.domain.model import CODE_ALPHABET, CODE_LENGTH, CODE_RE

#: First path segments the gateway routes elsewhere, and words a slug may not take lest it read as one.
RESERVED_CODES = frozenset(
    {
        "a", "s", "v1", "v2", "api", "healthz", "readyz", "livez", "metrics", "token", "check", "batch",
        "stats", "admin", "static", "assets", "links", "card", "qr", "favicon.ico", "robots.txt",
    }
)  # fmt: skip


def new_code() -> str:
    """A fresh random code: 8 characters of [A-Za-z0-9] from the operating system's CSPRNG."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def check_code(code: str) -> None:
    """Any code a path may carry (a generated code or a custom slug); anything else is refused before a
    lookup."""
    if not CODE_RE.match(code):
        raise InvalidArgument(
            f"{code[:80]!r} is not a short code (3-64 characters of A-Z, a-z, 0-9, '_' and '-')",
            field="code",
            reason="INVALID_SHORT_CODE",
        )


def check_slug(slug: str) -> None:
    """A custom code chosen by its creator: a valid code that is not a reserved route word."""
    if slug.lower() in RESERVED_CODES:
        raise InvalidArgument(
            f"{slug!r} is reserved (it reads as one of the gateway's own routes)",
            field="code",
            reason="RESERVED_SHORT_CODE",
        )
    check_code(slug)


def redirect_target(canonical_url: str, utm: tuple[tuple[str, str], ...]) -> str:
    """The asset's canonical URL with the link's UTM parameters (``utm_source=…``) appended."""
    if not utm:
        return canonical_url
    return canonical_url + "?" + urlencode([(f"utm_{key}", value) for key, value in utm])


@dataclass(frozen=True)
class CardFacts:
    """What a link's card shows, gathered from the link, its asset and its renditions."""

    title: str
    description: str
    short_url: str
    canonical_url: str
    site_name: str
    kind: str  # "image", "animated" (GIF, animated WebP) or "video"
    content_type: str
    width: int
    height: int
    poster_url: str = ""
    poster_type: str = ""
    poster_width: int = 0
    poster_height: int = 0
    mp4_url: str = ""
    mp4_width: int = 0
    mp4_height: int = 0


def open_graph(facts: CardFacts) -> dict[str, Any]:
    """The card's Open Graph values (the fields of the contract's OpenGraph message).

    The image is the still (the poster rendition; a still image is its own); the video is the MP4
    rendition (a video is its own until the rendition exists)."""
    moving = facts.kind in ("animated", "video")
    if facts.poster_url:
        image, image_type, width, height = facts.poster_url, facts.poster_type, facts.poster_width, facts.poster_height
    elif facts.kind != "video":
        image, image_type, width, height = facts.canonical_url, facts.content_type, facts.width, facts.height
    else:
        image, image_type, width, height = "", "", 0, 0
    video = facts.mp4_url or (facts.canonical_url if facts.kind == "video" else "")
    return {
        "title": facts.title,
        "description": facts.description,
        "url": facts.short_url,
        "type": "video.other" if moving else "website",
        "image": image,
        "image_type": image_type,
        "image_width": width,
        "image_height": height,
        "video": video,
        "site_name": facts.site_name,
        "twitter_card": "player" if moving else "summary_large_image",
    }


def _video_size(facts: CardFacts) -> tuple[int, int]:
    return (facts.mp4_width, facts.mp4_height) if facts.mp4_url else (facts.width, facts.height)


def card_html(facts: CardFacts) -> str:
    """The HTML page link crawlers read: Open Graph and Twitter meta tags, every value escaped."""
    graph = open_graph(facts)
    tags: list[tuple[str, str, object]] = [
        ("property", "og:title", graph["title"]),
        ("property", "og:description", graph["description"]),
        ("property", "og:url", graph["url"]),
        ("property", "og:type", graph["type"]),
        ("property", "og:site_name", graph["site_name"]),
    ]
    if graph["image"]:
        tags += [
            ("property", "og:image", graph["image"]),
            ("property", "og:image:type", graph["image_type"]),
            ("property", "og:image:width", graph["image_width"]),
            ("property", "og:image:height", graph["image_height"]),
        ]
    video_width, video_height = _video_size(facts)
    if graph["video"]:
        video_type = "video/mp4" if facts.mp4_url else facts.content_type
        tags += [
            ("property", "og:video", graph["video"]),
            ("property", "og:video:secure_url", graph["video"]),
            ("property", "og:video:type", video_type),
            ("property", "og:video:width", video_width),
            ("property", "og:video:height", video_height),
        ]
    tags += [
        ("name", "twitter:card", graph["twitter_card"]),
        ("name", "twitter:title", graph["title"]),
        ("name", "twitter:description", graph["description"]),
    ]
    if graph["image"]:
        tags.append(("name", "twitter:image", graph["image"]))
    if graph["twitter_card"] == "player" and graph["video"]:
        tags += [
            ("name", "twitter:player", graph["video"]),
            ("name", "twitter:player:width", video_width),
            ("name", "twitter:player:height", video_height),
        ]
    e = _escape
    meta = "\n".join(
        f'<meta {kind}="{e(name)}" content="{e(str(value))}">' for kind, name, value in tags if value != ""
    )
    preview = f'<img src="{e(str(graph["image"]))}" alt="{e(facts.title)}">' if graph["image"] else ""
    return (
        "<!doctype html>\n"
        f'<html><head><meta charset="utf-8"><title>{e(facts.title)}</title>\n'
        f'<link rel="canonical" href="{e(facts.canonical_url)}">\n{meta}\n</head>\n'
        f'<body><a href="{e(facts.canonical_url)}">{preview or e(facts.title)}</a></body></html>\n'
    )


def wants_json(accept: str) -> bool:
    """Whether the client asked for JSON rather than a page (an API client, not a browser)."""
    accept = accept.lower()
    return "application/json" in accept and "text/html" not in accept


def gone_json(reason: str) -> dict[str, object]:
    return {"error": "gone", "reason": reason, "message": f"this link no longer works ({reason})"}


def gone_html(reason: str) -> str:
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>Link gone</title></head>\n'
        f"<body><h1>This link no longer works</h1><p>{_escape(reason)}.</p></body></html>\n"
    )


def qr_png(url: str, *, scale: int) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_svg(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="svg", scale=4, border=4, xmldecl=False)
    return out.getvalue()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _escape(text: str) -> str:
    return html.escape(_CONTROL.sub("", text), quote=True)
