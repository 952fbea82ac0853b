"""What runs beside the requests: following the scanner's decision feed, producing renditions of approved
assets, and purging CDN caches when an asset stops being delivered.

Each is a small supervisor with injected clock and sleep, so its retry rules are unit-tested without
waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta

import structlog

from clearframe_runtime.clock import Clock
from clearframe_runtime.errors import DeadlineExceeded, DomainError, Unavailable
from services.sharelinks.domain.assets import Assets
from services.sharelinks.domain.model import Asset, RenditionRecord, RenditionState, original_key, rendition_key
from services.sharelinks.ports import (
    AssetStore,
    BlobNotFound,
    BlobStore,
    CdnPurger,
    DecisionFeed,
    RenditionFailed,
    RenditionMaker,
    RenditionSpec,
)

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class _Tasks:
    """Background tasks kept referenced until done; ``idle()`` waits for all (tests, shutdown)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Awaitable[None], name: str) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


class DecisionFollower:
    """Applies the scanner's decision feed to the assets, resuming from the stored cursor: a restart of
    either side misses nothing (the feed replays everything after the cursor; applying is idempotent)."""

    def __init__(
        self,
        feed: DecisionFeed,
        assets: Assets,
        store: AssetStore,
        *,
        sleep: Sleep,
        retry_s: float = 1.0,
        invalidate: Callable[[str], None] | None = None,
    ):
        #: Drops what a cache holds of an asset: called for every event about it, applied here or not (another
        #: replica may have applied it to the shared database already).
        self._invalidate = invalidate
        self._feed = feed
        self._assets = assets
        self._store = store
        self._sleep = sleep
        self._retry_s = retry_s
        #: The revision applied last (for health and tests).
        self.revision = 0
        self.connected = False

    async def run(self) -> None:
        self.revision = await self._store.cursor()
        while True:
            try:
                async for event in self._feed.watch(self.revision):
                    self.connected = True
                    if event.kind != "heartbeat":
                        if self._invalidate is not None and event.asset_id:
                            self._invalidate(event.asset_id)
                        await self._assets.apply(event)
                    if event.revision > self.revision:
                        self.revision = event.revision
                        await self._store.save_cursor(event.revision)
            except Unavailable as exc:
                log.warning("decision feed interrupted; resuming", revision=self.revision, error=exc.message)
            except DomainError as exc:
                if exc.reason == "REVISION_AHEAD":
                    # The scanner's database was replaced: its feed starts over, and so do we.
                    log.warning("decision feed is behind our cursor; resynchronising from 0", revision=self.revision)
                    self.revision = 0
                    await self._store.save_cursor(0)
                else:
                    log.error("decision feed refused", revision=self.revision, reason=exc.reason, error=exc.message)
            self.connected = False
            await self._sleep(self._retry_s)


class PurgeQueue:
    """Asks the CDN purge hook to drop an asset's cached copies (surrogate key = asset id: the original
    and every rendition carry it), retrying with exponential backoff; every attempt is logged."""

    def __init__(self, purger: CdnPurger | None, *, sleep: Sleep, attempts: int = 6, backoff_s: float = 1.0):
        self._purger = purger
        self._sleep = sleep
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._tasks = _Tasks()

    async def request(self, asset: Asset) -> None:
        if self._purger is None:
            return
        self._tasks.spawn(self._purge((asset.asset_id,)), name=f"purge-{asset.asset_id}")

    async def _purge(self, keys: tuple[str, ...]) -> None:
        assert self._purger is not None
        for attempt in range(1, self._attempts + 1):
            try:
                await self._purger.purge(keys)
            except Exception as exc:  # any failure of the hook is retried, never raised into a request
                log.warning("CDN purge failed", surrogate_keys=list(keys), attempt=attempt, error=str(exc))
                if attempt < self._attempts:
                    await self._sleep(self._backoff_s * 2 ** (attempt - 1))
                continue
            log.info("CDN purged", surrogate_keys=list(keys), attempt=attempt)
            return
        log.error("CDN purge given up", surrogate_keys=list(keys), attempts=self._attempts)

    async def idle(self) -> None:
        await self._tasks.idle()

    async def close(self) -> None:
        await self._tasks.cancel()


class RenditionWorker:
    """Produces the renditions of APPROVED assets in the background, at most ``concurrency`` at a time,
    from the approved bytes only. A failed rendition is recorded and retried later (up to
    ``max_attempts``); it never affects delivery of the original."""

    def __init__(
        self,
        store: AssetStore,
        blobs: BlobStore,
        maker: RenditionMaker,
        specs: Sequence[RenditionSpec],
        *,
        clock: Clock,
        concurrency: int = 1,
        max_attempts: int = 3,
        retry_after: timedelta = timedelta(minutes=1),
    ):
        self._store = store
        self._blobs = blobs
        self._maker = maker
        self.specs = tuple(specs)
        self._clock = clock
        self._limit = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts
        self._retry_after = retry_after
        self._queued: set[str] = set()
        self._tasks = _Tasks()

    def spec(self, name: str) -> RenditionSpec | None:
        return next((s for s in self.specs if s.name == name), None)

    async def schedule(self, asset: Asset) -> None:
        if asset.asset_id in self._queued:
            return
        self._queued.add(asset.asset_id)
        self._tasks.spawn(self._produce(asset.asset_id), name=f"renditions-{asset.asset_id}")

    async def resume(self) -> int:
        """Schedule every APPROVED asset with renditions missing or due for a retry (start-up, and then
        periodically). Returns how many were scheduled."""
        scheduled = 0
        for asset in await self._store.with_status("APPROVED"):
            records = {r.name: r for r in await self._store.renditions(asset.asset_id)}
            if any(self._due(records.get(spec.name)) for spec in self.specs):
                await self.schedule(asset)
                scheduled += 1
        return scheduled

    def _due(self, record: RenditionRecord | None) -> bool:
        if record is None or record.state is RenditionState.PENDING:
            return True
        if record.state is RenditionState.FAILED:
            return record.retry_at is not None and record.retry_at <= self._clock()
        return False

    async def _produce(self, asset_id: str) -> None:
        try:
            async with self._limit:
                await self._produce_all(asset_id)
        finally:
            self._queued.discard(asset_id)

    async def _produce_all(self, asset_id: str) -> None:
        asset = await self._store.get(asset_id)
        if asset is None or not asset.delivered:
            return
        try:
            source = await self._blobs.get(original_key(asset.sha256))
        except (Unavailable, BlobNotFound) as exc:
            log.warning("renditions postponed: original unreadable", asset_id=asset_id, error=str(exc))
            return
        records = {r.name: r for r in await self._store.renditions(asset_id)}
        for spec in self.specs:
            record = records.get(spec.name)
            if record is not None and not self._due(record):
                continue
            # Only from approved bytes: a takedown while we work stops the rest.
            current = await self._store.get(asset_id)
            if current is None or not current.delivered:
                return
            await self._produce_one(asset, source, spec, record)

    async def _produce_one(
        self, asset: Asset, source: bytes, spec: RenditionSpec, record: RenditionRecord | None
    ) -> None:
        attempts = (record.attempts if record else 0) + 1
        base = record or RenditionRecord(asset.asset_id, spec.name, RenditionState.PENDING)
        try:
            output = await self._maker.make(source, asset.content_type, spec)
            await self._blobs.put(rendition_key(asset.asset_id, spec.name), output.data)
        except (RenditionFailed, DeadlineExceeded, Unavailable) as exc:
            retry = attempts < self._max_attempts
            await self._store.save_rendition(
                replace(
                    base,
                    state=RenditionState.FAILED,
                    error=str(exc)[:500],
                    attempts=attempts,
                    retry_at=self._clock() + self._retry_after * 2 ** (attempts - 1) if retry else None,
                )
            )
            log.warning(
                "rendition failed", asset_id=asset.asset_id, rendition=spec.name, attempt=attempts, error=str(exc)
            )
            return
        await self._store.save_rendition(
            RenditionRecord(
                asset_id=asset.asset_id,
                name=spec.name,
                state=RenditionState.READY,
                content_type=output.content_type,
                width=output.width,
                height=output.height,
                size_bytes=len(output.data),
                sha256=hashlib.sha256(output.data).hexdigest(),
                attempts=attempts,
            )
        )
        log.info("rendition ready", asset_id=asset.asset_id, rendition=spec.name, bytes=len(output.data))

    async def idle(self) -> None:
        await self._tasks.idle()

    async def close(self) -> None:
        await self._tasks.cancel()
