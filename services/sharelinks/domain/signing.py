"""Signed asset URLs with key rotation (seed 002's scheme, plus a key id).

A signed URL carries its parameters, ``expires`` (epoch seconds), ``kid`` (the id of the key that signed
it) and ``signature`` = unpadded base64url of HMAC-SHA256(secret of kid, ``path + "?" +
urlencode(sorted(params))``), where params are every query parameter except ``signature`` — so
``expires`` and ``kid`` are covered, and changing any parameter breaks the signature.

A :class:`KeyRing` holds several keys: every key verifies, the ``active`` one signs. Rotation adds a new
active key and keeps the old ones until their URLs have expired; retiring a key makes its URLs answer
UNKNOWN_KEY. Keys come from :func:`parse_keys` (production: a secret) or from the file store in
``services/sharelinks/adapters/keys.py`` (``make run``).

Pure: no I/O, no clock (``now_epoch`` is passed in).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

__all__ = [
    "KID_RE",
    "MAX_EXPIRES",
    "MIN_SECRET_BYTES",
    "RESERVED_PARAMS",
    "KeyRing",
    "Problem",
    "Verdict",
    "parse_keys",
    "split_url",
]

KID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)
MIN_SECRET_BYTES: Final = 32
#: 9999-12-31T23:59:59Z: the largest expiry a protobuf Timestamp (and a person) can read.
MAX_EXPIRES: Final = 253_402_300_799
#: Parameters the signing sets itself; callers may not pass them as extra parameters.
RESERVED_PARAMS: Final = frozenset({"expires", "kid", "signature"})

_EXPIRES_RE: Final = re.compile(r"0|[1-9][0-9]{0,11}", re.ASCII)
#: 32 bytes of HMAC-SHA256 as unpadded base64url.
_SIGNATURE_RE: Final = re.compile(r"[A-Za-z0-9_-]{43}", re.ASCII)
_PATH_RE: Final = re.compile(r"/[\x21-\x7e]*", re.ASCII)


class Problem(Enum):
    """Why a signed URL is not valid (the contract's SignedUrlProblem, plus key rotation and lifetime)."""

    MALFORMED = "MALFORMED"
    MISSING_PARAMS = "MISSING_PARAMS"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    EXPIRED = "EXPIRED"
    TOO_LONG = "TOO_LONG"


@dataclass(frozen=True)
class Verdict:
    """The outcome of :meth:`KeyRing.verify`: ``problem`` None means valid; ``message`` says why not (for
    people); ``expires`` and ``kid`` are set whenever they could be read."""

    problem: Problem | None
    message: str = ""
    expires: int | None = None
    kid: str | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _message(path: str, params: Mapping[str, str]) -> bytes:
    signed = sorted((k, v) for k, v in params.items() if k != "signature")
    return (path + "?" + urlencode(signed)).encode("utf-8")


def _check_path(path: str) -> None:
    if not _PATH_RE.fullmatch(path) or "?" in path or "#" in path:
        raise ValueError("path must start with '/' and be printable ASCII without '?' or '#'")


def _check_expires(expires: int) -> None:
    if isinstance(expires, bool) or not isinstance(expires, int) or not 0 <= expires <= MAX_EXPIRES:
        raise ValueError(f"expires must be an integer epoch second in 0…{MAX_EXPIRES}")


class KeyRing:
    """Signing keys by id: every key verifies, ``active`` signs.

    Key ids are 1–32 chars of ``[A-Za-z0-9_-]``; secrets at least :data:`MIN_SECRET_BYTES` bytes. Anything
    else is ValueError (the message never contains a secret). Immutable; ``repr`` shows ids only.
    """

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        copied: dict[str, bytes] = {}
        for kid, secret in keys.items():
            if not isinstance(kid, str) or not KID_RE.fullmatch(kid):
                raise ValueError(f"key id {str(kid)[:40]!r} is not 1-32 chars of [A-Za-z0-9_-]")
            if not isinstance(secret, bytes | bytearray) or len(secret) < MIN_SECRET_BYTES:
                raise ValueError(f"the secret of key {kid!r} must be at least {MIN_SECRET_BYTES} bytes")
            copied[kid] = bytes(secret)
        if active not in copied:
            raise ValueError(f"the active key {active[:40]!r} is not among the keys")
        self._keys = copied
        self._active = active

    @property
    def active(self) -> str:
        """The id of the key that signs."""
        return self._active

    @property
    def kids(self) -> frozenset[str]:
        """The ids of every key that verifies."""
        return frozenset(self._keys)

    def secret(self, kid: str) -> bytes:
        """The secret of ``kid`` (KeyError when unknown); for the key store only."""
        return self._keys[kid]

    def __repr__(self) -> str:
        return f"KeyRing(kids={sorted(self._keys)!r}, active={self._active!r})"

    def _signature(self, kid: str, path: str, params: Mapping[str, str]) -> str:
        return _b64url(hmac.new(self._keys[kid], _message(path, params), hashlib.sha256).digest())

    def signed_params(self, path: str, params: Mapping[str, str], *, expires: int) -> dict[str, str]:
        """``params`` plus ``expires``, ``kid`` (the active key) and ``signature``: the whole signed query."""
        _check_path(path)
        _check_expires(expires)
        clash = RESERVED_PARAMS & set(params)
        if clash:
            raise ValueError(f"parameters {sorted(clash)} are set by the signing itself")
        query = {**params, "expires": str(expires), "kid": self._active}
        query["signature"] = self._signature(self._active, path, query)
        return query

    def sign(self, path: str, params: Mapping[str, str], *, expires: int) -> str:
        """The signature of ``path`` with ``params`` valid until ``expires`` (epoch seconds), by the active
        key; the URL must carry ``params``, ``expires`` and ``kid`` = :attr:`active` beside it."""
        return self.signed_params(path, params, expires=expires)["signature"]

    def signed_url(self, base: str, path: str, params: Mapping[str, str], expires: int) -> str:
        """``base + path`` with a signed query. A query already on ``path`` (``/a/x?foo=1``) is kept and
        signed too (as the seed kept existing parameters); a name in both is ValueError, as is a ``base``
        with a query or fragment. ``base`` is the public origin (``https://clearframe.example``); only
        ``path`` is signed."""
        origin = urlsplit(base)
        if origin.query or origin.fragment or not origin.scheme or not origin.netloc:
            raise ValueError("base must be an absolute URL without query or fragment")
        bare, _, existing_query = path.partition("?")
        existing = _parse_query(existing_query)
        if existing is None:
            raise ValueError("the query on path repeats a parameter or is not valid")
        overlap = set(existing) & set(params)
        if overlap:
            raise ValueError(f"parameters {sorted(overlap)} are both on the path and in params")
        query = self.signed_params(bare, {**existing, **params}, expires=expires)
        signature = query.pop("signature")
        ordered = [*sorted(query.items()), ("signature", signature)]
        # %20, not "+", for spaces: the gateway's transcoder decodes %XX in query values but keeps "+".
        return base.rstrip("/") + bare + "?" + urlencode(ordered, quote_via=quote)

    def verify(self, path: str, params: Mapping[str, str], now_epoch: int, *, max_lifetime_s: int) -> Verdict:
        """Whether ``params`` (the whole query, ``signature`` included) sign ``path`` validly at
        ``now_epoch``.

        Checked in this order, the first failure answering: MALFORMED (bad path, ``expires`` not a plain
        integer in range, ``kid`` not a key id), MISSING_PARAMS, UNKNOWN_KEY, BAD_SIGNATURE (compared in
        constant time), EXPIRED (``now >= expires``), TOO_LONG (``expires - now > max_lifetime_s``: a URL
        signed for longer than policy allows, e.g. before the limit was lowered or with a leaked key).
        The signature is checked before the time, so a forged URL never learns more than "bad signature".
        """
        try:
            _check_path(path)
        except ValueError:
            return Verdict(Problem.MALFORMED, "Malformed URL: the path is not valid")
        missing = sorted(name for name in RESERVED_PARAMS if name not in params)
        if missing:
            return Verdict(Problem.MISSING_PARAMS, f"Missing signature parameters: {', '.join(missing)}")
        raw_expires, kid, signature = params["expires"], params["kid"], params["signature"]
        if not _EXPIRES_RE.fullmatch(raw_expires) or int(raw_expires) > MAX_EXPIRES:
            return Verdict(Problem.MALFORMED, "Malformed URL: expires is not a valid epoch second")
        expires = int(raw_expires)
        if not KID_RE.fullmatch(kid):
            return Verdict(Problem.MALFORMED, "Malformed URL: kid is not a valid key id", expires)
        if kid not in self._keys:
            return Verdict(Problem.UNKNOWN_KEY, f"Unknown signing key {kid!r} (retired or never issued)", expires, kid)
        expected = self._signature(kid, path, params)
        # compare_digest needs ASCII str: a signature of another shape cannot match anyway.
        if not _SIGNATURE_RE.fullmatch(signature) or not hmac.compare_digest(expected, signature):
            return Verdict(Problem.BAD_SIGNATURE, "Invalid signature", expires, kid)
        if now_epoch >= expires:
            return Verdict(Problem.EXPIRED, "URL has expired", expires, kid)
        if expires - now_epoch > max_lifetime_s:
            return Verdict(
                Problem.TOO_LONG,
                f"URL expires too far in the future (at most {max_lifetime_s} s from now)",
                expires,
                kid,
            )
        return Verdict(None, "", expires, kid)

    def verify_url(self, url: str, now_epoch: int, *, max_lifetime_s: int) -> Verdict:
        """:meth:`verify` of an absolute URL or a path with query (VerifySignedUrl)."""
        split = split_url(url)
        if split is None:
            return Verdict(Problem.MALFORMED, "Malformed URL: not a URL with a query, or a parameter repeats")
        return self.verify(split[0], split[1], now_epoch, max_lifetime_s=max_lifetime_s)


def _parse_query(query: str) -> dict[str, str] | None:
    """The parameters of a query string; None when one repeats or it does not parse."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query), max_num_fields=64)
    except ValueError:
        return None
    params = dict(pairs)
    return params if len(params) == len(pairs) else None


def split_url(url: str) -> tuple[str, dict[str, str]] | None:
    """(path, query parameters) of an absolute URL or a path with query; None when it has no usable path,
    has a fragment, or repeats a parameter (a repeated parameter could be read two ways)."""
    if len(url) > 8192:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.fragment or not parts.path.startswith("/"):
        return None
    params = _parse_query(parts.query)
    if params is None:
        return None
    return parts.path, params


def _decode_secret(kid: str, text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the secret of key {kid!r} is not valid base64") from None


def parse_keys(spec: str) -> tuple[dict[str, bytes], str]:
    """Keys from a secret's text: ``"k2:<base64>,k1:<base64>"`` — comma-separated ``kid:secret`` pairs, the
    secret in base64 (standard or URL-safe, padding optional), white space around entries ignored. The
    **first** key is the active one (rotate by prepending a new key; retire by removing one).

    ValueError for an empty spec, a malformed entry, a repeated kid, or a key :class:`KeyRing` would
    refuse; messages never contain secrets.
    """
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for index, entry in enumerate(spec.split(",")):
        entry = entry.strip()
        if not entry:
            continue
        kid, sep, text = entry.partition(":")
        kid = kid.strip()
        if not sep or not KID_RE.fullmatch(kid):
            raise ValueError(f"signing key entry {index + 1} is not 'kid:base64secret'")
        if kid in keys:
            raise ValueError(f"signing key {kid!r} appears twice")
        keys[kid] = _decode_secret(kid, text.strip())
        order.append(kid)
    if not order:
        raise ValueError("no signing keys given")
    KeyRing(keys, order[0])  # the same checks as the ring that will be built from them
    return keys, order[0]
