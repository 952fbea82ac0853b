"""A file-backed store of URL-signing keys, for ``make run`` (production reads keys from a secret with
:func:`services.sharelinks.domain.signing.parse_keys`).

The file is JSON, mode 0600, in a 0700 folder, and always replaced atomically (temporary file, fsync,
rename), so a crash never leaves half a key file::

    {"version": 1, "active": "k2",
     "keys": {"k1": {"secret": "<base64>", "created": "2026-01-01T00:00:00+00:00"},
              "k2": {"secret": "<base64>", "created": "…"}}}

:func:`load_or_create_keyring` creates it with one random 32-byte key ``k1`` on first start;
:func:`rotate` adds a new active key ``k<n+1>`` and keeps the old ones verifying; :func:`retire` drops a
key (never the active one). Changes take an exclusive lock on a sibling ``.lock`` file, so two processes
starting at once agree on one key. A file that is unreadable, malformed or readable by others is an error,
never silently replaced: replacing it would invalidate every URL already handed out.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from clearframe_runtime.clock import Clock, utcnow
from services.sharelinks.domain.signing import KID_RE, KeyRing

__all__ = ["KeyFileError", "load_or_create_keyring", "retire", "rotate"]

_VERSION: Final = 1
_SECRET_BYTES: Final = 32
_NUMBERED_KID: Final = re.compile(r"k([0-9]{1,9})", re.ASCII)


class KeyFileError(ValueError):
    """The key file exists but cannot be used (malformed, or readable by others); the message says how to
    fix it and never contains a secret."""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyFileError(f"cannot open the signing key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
        if mode & 0o077:
            raise KeyFileError(f"the signing key file {path} is accessible by others (mode {mode:04o}); chmod 600 it")
        raw = handle.read()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError(f"the signing key file {path} is not valid JSON") from None
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        raise KeyFileError(f"the signing key file {path} is not a version-{_VERSION} key file")
    return data


def _ring(path: Path, data: dict[str, Any]) -> KeyRing:
    keys = data.get("keys")
    active = data.get("active")
    if not isinstance(keys, dict) or not isinstance(active, str):
        raise KeyFileError(f"the signing key file {path} lacks 'keys' or 'active'")
    decoded: dict[str, bytes] = {}
    for kid, entry in keys.items():
        secret = entry.get("secret") if isinstance(entry, dict) else None
        try:
            if not isinstance(secret, str):
                raise ValueError
            decoded[kid] = base64.b64decode(secret, validate=True)
        except ValueError:
            raise KeyFileError(f"the secret of key {kid[:40]!r} in {path} is not base64") from None
    try:
        return KeyRing(decoded, active)
    except ValueError as exc:
        raise KeyFileError(f"the signing key file {path} is not usable: {exc}") from None


def _write(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` atomically, mode 0600."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(data, indent=2, sort_keys=True).encode("utf-8") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _new_entry(clock: Clock) -> dict[str, str]:
    return {
        "secret": base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii"),
        "created": clock().isoformat(),
    }


def load_or_create_keyring(path: Path, *, clock: Clock = utcnow) -> KeyRing:
    """The key ring stored at ``path``, created with one random key ``k1`` when the file does not exist.

    KeyFileError when the file exists but is unusable (see the module docstring).
    """
    data = _read(path)
    if data is not None:
        return _ring(path, data)
    with _locked(path):
        data = _read(path)  # another process may have created it meanwhile
        if data is None:
            data = {"version": _VERSION, "active": "k1", "keys": {"k1": _new_entry(clock)}}
            _write(path, data)
        return _ring(path, data)


def _next_kid(kids: Iterable[str]) -> str:
    numbers = [int(m.group(1)) for kid in kids if (m := _NUMBERED_KID.fullmatch(kid))]
    return f"k{max(numbers, default=0) + 1}"


def rotate(path: Path, *, kid: str | None = None, clock: Clock = utcnow) -> KeyRing:
    """Add a new random key (``kid``, default ``k<highest n + 1>``) and make it the active one; the old
    keys keep verifying. Creates the file when there is none. ValueError when ``kid`` is taken or not a
    valid key id."""
    with _locked(path):
        data = _read(path)
        if data is None:
            data = {"version": _VERSION, "active": "k1", "keys": {"k1": _new_entry(clock)}}
        _ring(path, data)  # refuse to extend an unusable file
        new_kid = kid if kid is not None else _next_kid(list(data["keys"]))
        if not KID_RE.fullmatch(new_kid):
            raise ValueError(f"key id {new_kid[:40]!r} is not 1-32 chars of [A-Za-z0-9_-]")
        if new_kid in data["keys"]:
            raise ValueError(f"key {new_kid!r} already exists")
        data["keys"][new_kid] = _new_entry(clock)
        data["active"] = new_kid
        _write(path, data)
        return _ring(path, data)


def retire(path: Path, kid: str) -> KeyRing:
    """Drop key ``kid``: URLs it signed answer UNKNOWN_KEY from then on. ValueError when there is no key
    file, no such key, or ``kid`` is the active key (rotate first)."""
    with _locked(path):
        data = _read(path)
        if data is None:
            raise ValueError(f"there is no signing key file at {path}")
        ring = _ring(path, data)
        if kid not in ring.kids:
            raise ValueError(f"there is no key {kid[:40]!r} to retire")
        if kid == ring.active:
            raise ValueError(f"key {kid!r} is the active key: rotate to a new key before retiring it")
        del data["keys"][kid]
        _write(path, data)
        return _ring(path, data)
