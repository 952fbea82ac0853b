"""The blob store on S3-compatible object storage (production), through ``obstore``'s async client.

A PUT is atomic in S3 (an object is visible whole or not at all), partial reads are ranged GETs, and a
listing walks ``ListObjectsV2`` pages. Every call is bounded by ``timeout_s`` (requests, retries and all).

How failures reach callers:

- missing key → :class:`~services.sharelinks.ports.BlobNotFound` (``size`` answers None, ``delete`` nothing);
- endpoint unreachable, a 5xx, no answer in time, a missing bucket →
  :class:`~clearframe_runtime.errors.Unavailable` (reason ``BLOB_STORE_UNAVAILABLE``), naming the endpoint
  and bucket, never the credentials;
- credentials refused (401/403) → also ``Unavailable``, reason ``BLOB_STORE_CREDENTIALS_REJECTED``: the
  service is misconfigured, which its callers can neither fix nor be blamed for (``PermissionDenied`` would
  tell them they lack a permission), and health must turn NOT_SERVING.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

import obstore
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store

from clearframe_runtime.errors import Unavailable
from services.sharelinks.adapters.blob_keys import check_range, validate_key, validate_prefix
from services.sharelinks.ports import BlobInfo, BlobNotFound

if TYPE_CHECKING:
    from obstore import GetOptions, ObjectMeta

T = TypeVar("T")


class S3BlobStore:
    """:class:`~services.sharelinks.ports.BlobStore` on one bucket of an S3-compatible server.

    ``virtual_hosted`` selects ``https://bucket.host/key`` URLs (AWS) over path style
    ``https://host/bucket/key`` (SeaweedFS, MinIO); ``allow_http`` permits a plain-HTTP endpoint.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        virtual_hosted: bool = False,
        allow_http: bool = True,
        timeout_s: float = 10.0,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.timeout_s = timeout_s
        limit = timedelta(seconds=timeout_s)
        self._store = S3Store(
            bucket,
            endpoint=self.endpoint,
            access_key_id=access_key,
            secret_access_key=secret_key,
            region=region,
            virtual_hosted_style_request=virtual_hosted,
            client_options={
                "allow_http": allow_http,
                "timeout": limit,
                "connect_timeout": min(limit, timedelta(seconds=5)),
            },
            # A few quick retries of connection errors and 5xx; the overall bound is `_bounded`'s.
            retry_config={
                "max_retries": 3,
                "retry_timeout": limit,
                "backoff": {
                    "init_backoff": timedelta(milliseconds=50),
                    "max_backoff": timedelta(seconds=1),
                    "base": 2,
                },
            },
        )

    # Error mapping

    def _where(self) -> str:
        return f"object store {self.endpoint} (bucket {self.bucket!r})"

    def _unavailable(self, operation: str, exc: BaseException) -> Unavailable:
        # obstore raises typed errors for some statuses only (a refused listing is a GenericError); its
        # message's first line names the HTTP status or the transport failure. Raw text never reaches callers.
        first_line = str(exc).partition("\n")[0]
        refused = any(code in first_line for code in ("status code: 401", "status code: 403"))
        if isinstance(exc, PermissionDeniedError | UnauthenticatedError) or refused:
            return Unavailable(
                f"{self._where()} refused the configured credentials ({operation})",
                reason="BLOB_STORE_CREDENTIALS_REJECTED",
            )
        if isinstance(exc, TimeoutError):
            why = f"no answer within {self.timeout_s:g} s"
        elif "NoSuchBucket" in str(exc):
            why = "no such bucket"
        elif "status code: 5" in first_line:
            why = "the server answered with an error (5xx)"
        elif "timed out" in first_line:
            why = f"no answer within {self.timeout_s:g} s"
        elif "error sending request" in first_line or "connect" in first_line.lower():
            why = "cannot connect"
        else:
            why = "the request failed"
        return Unavailable(f"{self._where()} is unavailable: {operation}: {why}", reason="BLOB_STORE_UNAVAILABLE")

    async def _bounded(self, operation: str, call: Awaitable[T]) -> T:
        """``call`` within ``timeout_s``; transport and server failures become Unavailable."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await call
        except (FileNotFoundError, ValueError):
            raise
        except (BaseError, TimeoutError, OSError) as exc:
            raise self._unavailable(operation, exc) from exc

    # The port

    async def put(self, key: str, data: bytes) -> None:
        validate_key(key)
        await self._bounded("put", obstore.put_async(self._store, key, bytes(data)))

    async def _read(self, key: str, options: GetOptions | None) -> bytes:
        result = await obstore.get_async(self._store, key, options=options)
        return bytes(await result.bytes_async())

    async def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        validate_key(key)
        check_range(start, end)
        if start == 0 and end is None:
            try:
                return await self._bounded("get", self._read(key, None))
            except FileNotFoundError as exc:
                raise BlobNotFound(key) from exc
        options: GetOptions = {"range": {"offset": start} if end is None else (start, end + 1)}
        try:
            return await self._bounded("get", self._read(key, options))
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        except Unavailable as exc:
            if exc.reason != "BLOB_STORE_UNAVAILABLE":
                raise
            # S3 answers an unsatisfiable range with 416, which obstore reports as a generic error: ask for the
            # size to tell that apart (and a key deleted meanwhile) from an outage.
            size = await self.size(key)
            if size is None:
                raise BlobNotFound(key) from exc
            if start >= size:
                raise ValueError(f"range start {start} is not before the blob's size {size}") from exc
            raise

    async def size(self, key: str) -> int | None:
        validate_key(key)
        try:
            meta = await self._bounded("head", obstore.head_async(self._store, key))
        except FileNotFoundError:
            return None
        return int(meta["size"])

    async def delete(self, key: str) -> None:
        validate_key(key)
        try:
            await self._bounded("delete", obstore.delete_async(self._store, key))
        except FileNotFoundError:
            return

    async def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        validate_prefix(prefix)
        # S3 lists by folder (``a/b`` finds ``a/b/…``, not ``a/bc``): list the prefix's folder, then filter.
        folder = prefix.rpartition("/")[0]
        stream = obstore.list(self._store, f"{folder}/" if folder else None, chunk_size=500)
        while True:
            try:
                chunk: Sequence[ObjectMeta] = await self._bounded("list", stream.__anext__())
            except StopAsyncIteration:
                return
            except FileNotFoundError as exc:
                raise Unavailable(
                    f"{self._where()} is unavailable: list: no such bucket", reason="BLOB_STORE_UNAVAILABLE"
                ) from exc
            for meta in chunk:
                if meta["path"].startswith(prefix):
                    yield BlobInfo(key=meta["path"], size=int(meta["size"]), modified=meta["last_modified"])

    async def check(self) -> None:
        """One ``ListObjectsV2`` of the bucket's top level (a delimiter keeps it to a page of folders)."""
        try:
            await self._bounded("check", obstore.list_with_delimiter_async(self._store, None))
        except FileNotFoundError as exc:
            raise Unavailable(
                f"{self._where()} is unavailable: check: no such bucket", reason="BLOB_STORE_UNAVAILABLE"
            ) from exc


__all__ = ["S3BlobStore"]
