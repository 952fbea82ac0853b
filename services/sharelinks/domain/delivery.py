"""HTTP delivery rules for asset bytes (seed 002's CDN helpers, brought to RFC 9110/9111/6266).

Pure functions, no I/O and no clock of their own (``now`` is passed in): the servicer of
``DownloadAsset`` reads the request headers, calls :func:`plan`, and answers what the plan says
(status, headers, which bytes, whether to send a body).

Decisions worth knowing (each pinned by a test in ``tests/test_delivery.py``):

- **Range** (:func:`parse_range`): only the ``bytes`` unit (case-insensitive) and only the first range of
  a list are honoured; the rest of the list is never parsed. ``None`` means "serve the full body": no
  header, another unit, syntax garbage, or a header over :data:`MAX_RANGE_HEADER` characters.
  Unsatisfiable (HTTP 416): start ≥ total, **end ≥ total** (seed 002 treats an end beyond the length as
  invalid, where RFC 9110 would clamp it), start > end, ``-0``, and any range of an empty body. A suffix
  longer than the body (``bytes=-99999`` of 10 bytes) is the whole body, as RFC 9110 says. Numbers of
  more than 18 digits are well-formed but larger than any stored body, so they are never converted: as a
  start or an end they make the range unsatisfiable, as a suffix length they select the whole body.
  Seed 002 answered an invalid range with 200 and the full body; we answer 416 (RFC 9110).
- **Conditional requests**: ``If-None-Match`` is evaluated before ``Range`` (RFC 9110 §13.2.2); it uses
  the weak comparison, accepts lists and ``*``, and treats anything malformed or overlong as "no match"
  (so garbage costs a full answer, never a wrong 304). ``If-Range`` uses the strong comparison only: a
  date or a weak tag never matches, so the full 200 is served.
- **Caching** (:func:`cache_headers`): the seed's header formulas; signed URLs are ``private`` and their
  ``max-age`` never outlives the signature (``immutable`` is dropped when capped). 416 answers carry
  ``Cache-Control: no-store``: an error about one client's Range must not be stored for the URL.
- **Content type**: uploaded bytes are only ever labelled with an allow-listed image/video type
  (:data:`SAFE_CONTENT_TYPES`); anything else (HTML, SVG, XML, JS …) becomes
  ``application/octet-stream``. ``X-Content-Type-Options: nosniff`` is always sent.
- **HEAD** answers the headers GET would have answered (Content-Length included) without the body;
  Range is ignored for HEAD (RFC 9110 §14.2 defines range handling for GET only).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Final
from urllib.parse import quote

from clearframe_runtime.errors import InvalidArgument

__all__ = [
    "DISPOSITIONS",
    "MAX_CONDITIONAL_HEADER",
    "MAX_FILENAME_CHARS",
    "MAX_RANGE_HEADER",
    "SAFE_CONTENT_TYPES",
    "ByteRange",
    "CachePolicy",
    "DeliveryPlan",
    "Unsatisfiable",
    "cache_headers",
    "content_disposition",
    "delivered_content_type",
    "http_date",
    "if_none_match",
    "if_range",
    "parse_range",
    "plan",
    "safe_filename",
    "strong_etag",
]

#: Longer Range headers are ignored (full body): no client needs more for one range.
MAX_RANGE_HEADER: Final = 1024
#: Longer If-None-Match / If-Range headers never match.
MAX_CONDITIONAL_HEADER: Final = 4096
#: Longest file name announced in Content-Disposition (characters), as the Asset contract allows.
MAX_FILENAME_CHARS: Final = 255
#: Numbers with more digits than this are beyond any stored body (10**18 bytes is an exabyte).
_MAX_DIGITS: Final = 18

#: The only content types uploaded bytes are delivered with (what CreateAsset accepts and what the
#: renditions are). Never HTML, SVG, XML or script: a browser would run them on our origin.
SAFE_CONTENT_TYPES: Final = frozenset({"image/gif", "image/png", "image/jpeg", "image/webp", "video/mp4", "video/webm"})
_FALLBACK_CONTENT_TYPE: Final = "application/octet-stream"

DISPOSITIONS: Final = frozenset({"inline", "attachment"})


class CachePolicy(Enum):
    """Cache lifetime announced on delivery, in seconds (seed 002's constants)."""

    IMMUTABLE = 31_536_000  # 1 year, with the `immutable` directive
    LONG = 86_400  # 24 hours
    SHORT = 3_600  # 1 hour
    NO_CACHE = 0

    @property
    def max_age_s(self) -> int:
        return self.value


@dataclass(frozen=True)
class ByteRange:
    """A satisfiable range: bytes ``start`` … ``end``, both inclusive (``end < total``)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class Unsatisfiable:
    """A well-formed byte range that selects nothing of this body (HTTP 416); ``reason`` is for logs."""

    reason: str


@dataclass(frozen=True)
class DeliveryPlan:
    """What to answer: ``status``, response ``headers``, and when ``body`` is true the bytes
    ``start`` … ``end`` (inclusive; ``end`` None = to the end of the blob)."""

    status: int
    headers: dict[str, str]
    start: int
    end: int | None
    body: bool


# --- Range -------------------------------------------------------------------------------------------

_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)", re.ASCII)
_OWS = " \t"


def _beyond(digits: str) -> bool:
    """True when the decimal ``digits`` are too many to be an offset into any stored body."""
    return len(digits.lstrip("0")) > _MAX_DIGITS


def parse_range(header: str | None, total: int) -> ByteRange | Unsatisfiable | None:
    """The first byte range of a ``Range`` header against a body of ``total`` bytes.

    ``None``: serve the full body (no header, other unit, garbage, overlong). See the module docstring for
    every rule.
    """
    if total < 0:
        raise ValueError(f"total must be >= 0, not {total}")
    if header is None or len(header) > MAX_RANGE_HEADER:
        return None
    unit, sep, range_set = header.strip(_OWS).partition("=")
    if not sep or unit.lower() != "bytes":
        return None
    # First non-empty list element only (RFC 9110 §5.6.1: empty elements are ignored); the header is
    # bounded by MAX_RANGE_HEADER, so skipping empties is bounded too.
    first = ""
    rest = range_set
    while not first and rest:
        element, _, rest = rest.partition(",")
        first = element.strip(_OWS)
    match = _RANGE_SPEC.fullmatch(first)
    if match is None:
        return None
    start_s, end_s = match.groups()
    if not start_s and not end_s:
        return None  # "bytes=-"
    if not start_s:  # suffix: the last n bytes, the whole body when n exceeds it
        if not _beyond(end_s) and int(end_s) == 0:
            return Unsatisfiable("suffix length 0")
        if total == 0:
            return Unsatisfiable("empty body")
        n = total if _beyond(end_s) else min(int(end_s), total)
        return ByteRange(total - n, total - 1)
    # A number beyond _MAX_DIGITS exceeds every body, so such a start or end is always unsatisfiable.
    if _beyond(start_s) or (end_s and _beyond(end_s)):
        return Unsatisfiable("offset beyond any body")
    start = int(start_s)
    end = int(end_s) if end_s else None
    if end is not None and start > end:
        return Unsatisfiable("start after end")
    if start >= total:
        return Unsatisfiable("start beyond the length")
    if end is None:
        return ByteRange(start, total - 1)
    if end >= total:
        return Unsatisfiable("end beyond the length")
    return ByteRange(start, end)


# --- ETag and conditional requests ----------------------------------------------------------------------

_SHA256_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)
# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE ; etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3)
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*(?:,|\Z)')


def strong_etag(sha256_hex: str) -> str:
    """The strong ETag of a body: its full SHA-256 (64 lowercase hex chars), quoted."""
    if not _SHA256_HEX.fullmatch(sha256_hex):
        raise ValueError("sha256_hex must be 64 lowercase hex characters")
    return f'"{sha256_hex}"'


def _entity_tags(header: str) -> list[tuple[bool, str]] | None:
    """The (weak, opaque-tag) pairs of a comma-separated entity-tag list; None when malformed.

    Empty list elements are skipped (RFC 9110 §5.6.1); a comma inside a quoted tag is part of the tag.
    """
    tags: list[tuple[bool, str]] = []
    pos = 0
    while True:
        while pos < len(header) and header[pos] in " \t,":
            pos += 1
        if pos == len(header):
            return tags
        match = _ENTITY_TAG.match(header, pos)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        pos = match.end()


def _opaque(etag: str) -> str:
    return etag.removeprefix("W/").strip('"')


def if_none_match(header: str | None, etag: str) -> bool:
    """True when ``If-None-Match`` matches ``etag`` (weak comparison; ``*`` matches an existing body).

    Absent, empty, malformed or overlong headers never match.
    """
    if header is None or len(header) > MAX_CONDITIONAL_HEADER:
        return False
    if header.strip(_OWS) == "*":
        return True
    tags = _entity_tags(header)
    if not tags:
        return False
    wanted = _opaque(etag)
    return any(opaque == wanted for _weak, opaque in tags)


def if_range(header: str | None, etag: str) -> bool:
    """True when a Range may be honoured: no ``If-Range``, or one that is exactly our strong ``etag``.

    Strong comparison only (RFC 9110 §13.1.5): a weak tag, a date (we send no Last-Modified), a list or
    anything else is false, which means "ignore the Range and serve the full 200".
    """
    if header is None:
        return True
    if len(header) > MAX_CONDITIONAL_HEADER:
        return False
    return header.strip(_OWS) == etag and not etag.startswith("W/")


# --- Cache headers -------------------------------------------------------------------------------------

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(when: datetime) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7), e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``; locale independent."""
    if when.tzinfo is None:
        raise ValueError("http_date needs an aware datetime")
    t = when.astimezone(UTC)
    return (
        f"{_DAYS[t.weekday()]}, {t.day:02d} {_MONTHS[t.month - 1]} {t.year:04d} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d} GMT"
    )


def cache_headers(
    policy: CachePolicy,
    now: datetime,
    *,
    private: bool = False,
    max_age_cap_s: int | None = None,
) -> dict[str, str]:
    """Cache-Control, Expires (and Pragma for NO_CACHE) for ``policy`` at ``now``.

    NO_CACHE → ``no-cache, no-store, must-revalidate``, ``Pragma: no-cache``, ``Expires: 0``. Otherwise
    ``public|private, max-age=N[, immutable]`` and ``Expires`` = now + N. ``max_age_cap_s`` (a signed
    URL's remaining lifetime; negative counts as 0) lowers N and then drops ``immutable``.
    """
    if policy is CachePolicy.NO_CACHE:
        return {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache", "Expires": "0"}
    max_age = policy.max_age_s
    immutable = policy is CachePolicy.IMMUTABLE
    if max_age_cap_s is not None and max_age_cap_s < max_age:
        max_age = max(max_age_cap_s, 0)
        immutable = False
    directives = ["private" if private else "public", f"max-age={max_age}"]
    if immutable:
        directives.append("immutable")
    return {
        "Cache-Control": ", ".join(directives),
        "Expires": http_date(now.replace(microsecond=0) + timedelta(seconds=max_age)),
    }


# --- File names and Content-Disposition ----------------------------------------------------------------

# Unicode categories removed from file names: controls, format characters (e.g. U+202E RIGHT-TO-LEFT
# OVERRIDE, which makes "gif\u202eexe.txt" look harmless), separators that break lines, surrogates,
# private use and unassigned code points.
_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Characters no common file system accepts in a name (Windows' reserved set).
_RESERVED_CHARS: Final = frozenset('<>:"|?*')
_WINDOWS_DEVICES: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
)
_MAX_EXTENSION_CHARS: Final = 16
# attr-char of RFC 8187 minus ALPHA / DIGIT (which quote() never escapes).
_ATTR_CHAR_SAFE: Final = "!#$&+-.^_`|~"


def _truncate(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` characters, keeping a short extension."""
    if len(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and len(ext) <= _MAX_EXTENSION_CHARS:
        return stem[: limit - len(ext) - 1].rstrip(" .") + "." + ext
    return name[:limit].rstrip(" .")


def safe_filename(name: str) -> str:
    """A file name that is safe to store and to announce: the last path segment of ``name`` (both ``/`` and
    ``\\`` separate), NFC-normalized, without control/format characters, Windows-reserved characters
    replaced by ``_``, other white space collapsed to one space, no leading or trailing dots or spaces, a
    Windows device name prefixed with ``_``, at most :data:`MAX_FILENAME_CHARS` characters (the extension
    kept).

    Raises InvalidArgument (field ``filename``, reason ``INVALID_FILENAME``) when nothing usable is left
    (empty, ``..``, only separators or controls).
    """
    text = unicodedata.normalize("NFC", name)
    segment = re.split(r"[/\\]", text)[-1]
    cleaned: list[str] = []
    for ch in segment:
        category = unicodedata.category(ch)
        if category in _DROPPED_CATEGORIES:
            continue
        if ch in _RESERVED_CHARS:
            cleaned.append("_")
        elif category == "Zs":
            cleaned.append(" ")
        else:
            cleaned.append(ch)
    result = re.sub(" {2,}", " ", "".join(cleaned)).strip(" .")
    result = _truncate(result, MAX_FILENAME_CHARS)
    if not result:
        raise InvalidArgument(
            "the file name is empty once directories and control characters are removed",
            field="filename",
            reason="INVALID_FILENAME",
        )
    if result.split(".", 1)[0].upper() in _WINDOWS_DEVICES:
        result = _truncate("_" + result, MAX_FILENAME_CHARS)
    return result


def _ascii_fallback(name: str) -> str:
    """The ``filename=`` value: printable ASCII without quotes, backslashes, ``;`` or ``%`` (some agents
    percent-decode it, RFC 6266 Appendix D); accents are dropped, other non-ASCII becomes ``_``."""
    decomposed = unicodedata.normalize("NFKD", name)
    out: list[str] = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        if " " <= ch <= "~" and ch not in '"\\;%':
            out.append(ch)
        else:
            out.append("_")
    return _truncate("".join(out).strip(" ."), MAX_FILENAME_CHARS) or "download"


def content_disposition(kind: str, filename: str) -> str:
    """``Content-Disposition`` (RFC 6266): ``inline`` or ``attachment`` (empty = inline), the safe name as
    an ASCII ``filename="…"`` and, when that fallback is not the exact name (non-ASCII, ``;``, ``%`` …),
    ``filename*=UTF-8''…`` (RFC 8187) with the exact name percent-encoded.

    An unknown ``kind`` is InvalidArgument (``disposition``, ``INVALID_SIGNED_PARAM``: it comes from a
    signed URL); an unusable file name is InvalidArgument from :func:`safe_filename`.
    """
    kind = kind or "inline"
    if kind not in DISPOSITIONS:
        raise InvalidArgument(
            f"disposition must be 'inline' or 'attachment', not {kind[:32]!r}",
            field="disposition",
            reason="INVALID_SIGNED_PARAM",
        )
    name = safe_filename(filename)
    fallback = _ascii_fallback(name)
    value = f'{kind}; filename="{fallback}"'
    if fallback != name:
        value += "; filename*=UTF-8''" + quote(name, safe=_ATTR_CHAR_SAFE)
    return value


# --- The plan ------------------------------------------------------------------------------------------

_SURROGATE_KEY = re.compile(r"[A-Za-z0-9._:/-]{1,128}", re.ASCII)


def delivered_content_type(content_type: str) -> str:
    """The Content-Type to send for stored bytes: the allow-listed type (lowercase, parameters dropped) or
    ``application/octet-stream``."""
    media_type = content_type.split(";", 1)[0].strip(_OWS).lower()
    return media_type if media_type in SAFE_CONTENT_TYPES else _FALLBACK_CONTENT_TYPE


def plan(
    *,
    method: str,
    size: int,
    sha256: str,
    content_type: str,
    cache_policy: CachePolicy,
    filename: str,
    asset_id: str,
    now: datetime,
    range_header: str | None = None,
    if_none_match_header: str | None = None,
    if_range_header: str | None = None,
    disposition: str = "inline",
    surrogate_keys: Sequence[str] = (),
    signed_expires: int | None = None,
) -> DeliveryPlan:
    """How to answer a GET or HEAD of a stored body.

    ``size``/``sha256``/``content_type`` describe the body; ``signed_expires`` (epoch seconds) is set when
    the request came through a valid signed URL (then ``private`` and max-age capped at the time left).
    ``asset_id`` and ``surrogate_keys`` tag the answer for CDN purges (``Surrogate-Key`` space-separated,
    ``Cache-Tag`` comma-separated); each key is 1–128 chars of ``[A-Za-z0-9._:/-]``.

    Order (RFC 9110 §13.2.2): If-None-Match → 304; then, for GET, Range (if If-Range allows it) → 206 or
    416; else 200. 304 and 416 have no body; HEAD never has one.
    """
    if method not in ("GET", "HEAD"):
        raise ValueError(f"only GET and HEAD deliver bytes, not {method[:16]!r}")
    if size < 0:
        raise ValueError("size must be >= 0")
    keys = [asset_id, *(k for k in surrogate_keys if k != asset_id)]
    for key in keys:
        if not _SURROGATE_KEY.fullmatch(key):
            raise ValueError(f"invalid surrogate key {key[:32]!r}")
    etag = strong_etag(sha256)

    if signed_expires is not None:
        cache = cache_headers(cache_policy, now, private=True, max_age_cap_s=signed_expires - int(now.timestamp()))
    else:
        cache = cache_headers(cache_policy, now)
    headers: dict[str, str] = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": content_disposition(disposition, filename),
        "Surrogate-Key": " ".join(keys),
        "Cache-Tag": ",".join(keys),
        **cache,
    }

    if if_none_match(if_none_match_header, etag):
        return DeliveryPlan(304, headers, 0, None, body=False)

    ctype = delivered_content_type(content_type)
    if method == "GET":
        wanted = parse_range(range_header, size)
        if wanted is not None and if_range(if_range_header, etag):
            if isinstance(wanted, Unsatisfiable):
                headers = {k: v for k, v in headers.items() if k not in ("Expires", "Pragma")}
                headers["Cache-Control"] = "no-store"
                headers["Content-Range"] = f"bytes */{size}"
                headers["Content-Length"] = "0"
                return DeliveryPlan(416, headers, 0, None, body=False)
            headers["Content-Type"] = ctype
            headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
            headers["Content-Length"] = str(wanted.length)
            return DeliveryPlan(206, headers, wanted.start, wanted.end, body=True)

    headers["Content-Type"] = ctype
    headers["Content-Length"] = str(size)
    return DeliveryPlan(200, headers, 0, None, body=method == "GET")
