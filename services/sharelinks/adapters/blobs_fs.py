"""The blob store on a local folder: the ``make run`` default.

A key is a path under the root (``originals/ab12`` → ``<root>/originals/ab12``). A write goes to a temporary
file in the blob's own folder, is flushed and fsynced, renamed over the final name, and the folder is
fsynced, so a crash leaves either the old blob, the new one, or nothing, never a partial file under a key.
Temporary names contain ``~``, which no key may, so listings never report them; :meth:`FsBlobStore.sweep_temp`
removes the ones a crashed writer left behind. The file system's calls block, so each runs in a worker
thread (``asyncio.to_thread``).

On a file system a key cannot be both a blob and a folder of other blobs: with ``a`` stored, ``a/b`` is
refused (ValueError), and the other way round.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clearframe_runtime.clock import Clock, utcnow
from clearframe_runtime.errors import Unavailable
from services.sharelinks.adapters.blob_keys import check_range, resolve_range, validate_key, validate_prefix
from services.sharelinks.ports import BlobInfo, BlobNotFound

#: Marks a temporary file: ``~`` is outside the key alphabet, so no key can name one.
TEMP_MARK = "~tmp-"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FsBlobStore:
    """:class:`~services.sharelinks.ports.BlobStore` on the folder ``root`` (created when missing)."""

    def __init__(self, root: Path, *, clock: Clock = utcnow) -> None:
        self.root = Path(root)
        self._clock = clock

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _unavailable(self, action: str, exc: OSError) -> Unavailable:
        return Unavailable(
            f"blob folder {self.root} cannot {action}: {exc.strerror or exc}", reason="BLOB_STORE_UNAVAILABLE"
        )

    # Writing

    def _make_parents(self, path: Path) -> None:
        """Create the folders above ``path`` one by one, fsyncing each new folder's parent (its entry)."""
        missing: list[Path] = []
        parent = path.parent
        while parent != self.root and not parent.is_dir():
            missing.append(parent)
            parent = parent.parent
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:
                if not folder.is_dir():
                    raise NotADirectoryError(errno.ENOTDIR, "a blob is in the way", str(folder)) from None
                continue
            _fsync_dir(folder.parent)

    def _put_sync(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.is_dir():
            raise ValueError(f"blob key {key!r} is a folder of other blobs in this store")
        self.root.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            try:
                self._make_parents(path)
                self._write_atomically(path, data)
                return
            except NotADirectoryError as exc:
                raise ValueError(f"blob key {key!r} runs through an existing blob in this store") from exc
            except FileNotFoundError:
                # A concurrent delete removed the emptied folder between mkdir and open; make it again.
                if attempt == 2:
                    raise

    def _write_atomically(self, path: Path, data: bytes) -> None:
        temp = path.with_name(f"{path.name}{TEMP_MARK}{secrets.token_hex(8)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        _fsync_dir(path.parent)

    async def put(self, key: str, data: bytes) -> None:
        validate_key(key)
        try:
            await asyncio.to_thread(self._put_sync, key, bytes(data))
        except ValueError:
            raise
        except OSError as exc:
            raise self._unavailable("store a blob", exc) from exc

    # Reading

    def _get_sync(self, key: str, start: int, end: int | None) -> bytes:
        path = self._path(key)
        try:
            with path.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                first, stop = resolve_range(start, end, size)
                file.seek(first)
                return file.read(stop - first)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise BlobNotFound(key) from exc

    async def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        validate_key(key)
        check_range(start, end)
        try:
            return await asyncio.to_thread(self._get_sync, key, start, end)
        except (BlobNotFound, ValueError):
            raise
        except OSError as exc:
            raise self._unavailable("read a blob", exc) from exc

    def _size_sync(self, key: str) -> int | None:
        try:
            info = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return None if stat.S_ISDIR(info.st_mode) else info.st_size

    async def size(self, key: str) -> int | None:
        validate_key(key)
        try:
            return await asyncio.to_thread(self._size_sync, key)
        except OSError as exc:
            raise self._unavailable("read a blob's size", exc) from exc

    # Deleting

    def _delete_sync(self, key: str) -> None:
        path = self._path(key)
        try:
            if path.is_dir():
                return
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        _fsync_dir(path.parent)
        # Empty folders go too, so that the key space stays as S3's (``a`` may become a blob again).
        folder = path.parent
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    break
                raise
            folder = folder.parent

    async def delete(self, key: str) -> None:
        validate_key(key)
        try:
            await asyncio.to_thread(self._delete_sync, key)
        except OSError as exc:
            raise self._unavailable("delete a blob", exc) from exc

    # Listing and housekeeping

    def _walk(self, prefix: str) -> Iterator[tuple[str, os.stat_result]]:
        """(key, stat) of every blob under the folder part of ``prefix``, temporary files left out."""
        folder_part = prefix.rpartition("/")[0]
        top = self.root.joinpath(*folder_part.split("/")) if folder_part else self.root
        if not top.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(top):
            relative = Path(dirpath).relative_to(self.root).as_posix()
            base = "" if relative == "." else f"{relative}/"
            dirnames[:] = [name for name in dirnames if TEMP_MARK not in name]
            for name in filenames:
                if TEMP_MARK in name:
                    continue
                key = base + name
                if key.startswith(prefix):
                    try:
                        yield key, Path(dirpath, name).stat()
                    except FileNotFoundError:
                        continue  # deleted while listing

    def _list_sync(self, prefix: str) -> list[BlobInfo]:
        return [
            BlobInfo(key=key, size=info.st_size, modified=datetime.fromtimestamp(info.st_mtime, UTC))
            for key, info in self._walk(prefix)
        ]

    async def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        validate_prefix(prefix)
        try:
            infos = await asyncio.to_thread(self._list_sync, prefix)
        except OSError as exc:
            raise self._unavailable("list blobs", exc) from exc
        for info in infos:
            yield info

    def _sweep_sync(self, older_than_s: float) -> int:
        cutoff = (self._clock() - timedelta(seconds=older_than_s)).timestamp()
        removed = 0
        if not self.root.is_dir():
            return 0
        for dirpath, _dirnames, filenames in os.walk(self.root):
            for name in filenames:
                if TEMP_MARK not in name:
                    continue
                path = Path(dirpath, name)
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed

    async def sweep_temp(self, older_than_s: float = 3600.0) -> int:
        """Delete temporary files older than ``older_than_s`` (left by crashed writers); how many went."""
        return await asyncio.to_thread(self._sweep_sync, older_than_s)

    def _check_sync(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "not readable and writable", str(self.root))

    async def check(self) -> None:
        try:
            await asyncio.to_thread(self._check_sync)
        except OSError as exc:
            raise self._unavailable("be used", exc) from exc


__all__ = ["TEMP_MARK", "FsBlobStore"]
