"""Run the sharelinks service: `python -m services.sharelinks`.

AssetService (upload, moderation state, delivery, signed URLs, renditions) and ShareLinkService (short
links: the public redirect, cards for link crawlers, QR codes, exact clicks and CLICK events for analytics).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import structlog

from clearframe.sharelinks.v1 import (
    asset_service_pb2,
    asset_service_pb2_grpc,
    share_link_service_pb2,
    share_link_service_pb2_grpc,
)
from clearframe_runtime import db
from clearframe_runtime.clock import utcnow
from clearframe_runtime.ffmpeg import default_ffmpeg
from clearframe_runtime.health import Component, database_component, grpc_service_component
from clearframe_runtime.periodic import every
from clearframe_runtime.principal import PrincipalCodec
from clearframe_runtime.server import Servicer, run_service, serve
from clearframe_runtime.settings import DatabaseSettings, load_settings
from services.sharelinks.adapters.analytics import BufferedEventSender
from services.sharelinks.adapters.blobs_fs import FsBlobStore
from services.sharelinks.adapters.blobs_s3 import S3BlobStore
from services.sharelinks.adapters.frames import GrpcMediaProbe
from services.sharelinks.adapters.identity import ServiceIdentity
from services.sharelinks.adapters.keys import load_or_create_keyring
from services.sharelinks.adapters.purge import HttpPurger
from services.sharelinks.adapters.renditions import RENDITIONS, FfmpegRenditionMaker
from services.sharelinks.adapters.scanner import GrpcScanner
from services.sharelinks.adapters.sql import SqlAssetStore, SqlLinkStore
from services.sharelinks.api import AssetServicer
from services.sharelinks.api_links import ShareLinkServicer
from services.sharelinks.domain.assets import Assets, Limits
from services.sharelinks.domain.background import DecisionFollower, PurgeQueue, RenditionWorker
from services.sharelinks.domain.cache import BytesCache, CachingAssetStore
from services.sharelinks.domain.links import ClickCounter, LinkCache, Links
from services.sharelinks.domain.model import Asset
from services.sharelinks.domain.publishing import Delivery
from services.sharelinks.domain.signing import KeyRing, parse_keys
from services.sharelinks.metrics import observe_events
from services.sharelinks.ports import BlobStore
from services.sharelinks.settings import SharelinksSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)


def blob_store(settings: SharelinksSettings) -> BlobStore:
    if settings.blob_store == "s3":
        return S3BlobStore(
            endpoint=settings.s3_endpoint,
            bucket=settings.s3_bucket,
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
            region=settings.s3_region,
            virtual_hosted=settings.s3_virtual_hosted,
        )
    return FsBlobStore(settings.blob_dir)


def keyring(settings: SharelinksSettings) -> KeyRing:
    spec = settings.signing_keys.get_secret_value()
    if spec:
        keys, active = parse_keys(spec)
        return KeyRing(keys, active)
    return load_or_create_keyring(settings.signing_keys_file)


async def main() -> None:
    settings, database = load_settings("sharelinks", SharelinksSettings, DatabaseSettings)
    engine = db.create_engine(database.database_url)
    store = CachingAssetStore(
        SqlAssetStore(db.session_factory(engine)), ttl_s=settings.delivery_cache_ttl_s, monotonic=time.monotonic
    )
    blobs = blob_store(settings)
    codec = PrincipalCodec(settings.internal_secret.get_secret_value())
    identity = ServiceIdentity(codec)
    probe = GrpcMediaProbe(settings.frames_url, identity, max_message_bytes=settings.max_message_bytes)
    scanner = GrpcScanner(settings.scanner_url, identity, max_message_bytes=settings.max_message_bytes)
    maker = FfmpegRenditionMaker(default_ffmpeg(), timeout_s=settings.rendition_timeout_s)
    renditions = RenditionWorker(
        store,
        blobs,
        maker,
        RENDITIONS,
        clock=utcnow,
        concurrency=settings.rendition_concurrency,
        max_attempts=settings.rendition_max_attempts,
        retry_after=timedelta(seconds=settings.rendition_retry_s),
    )
    purger = (
        HttpPurger(settings.purge_url, token=settings.purge_token.get_secret_value()) if settings.purge_url else None
    )
    purges = PurgeQueue(purger, sleep=asyncio.sleep, attempts=settings.purge_attempts)
    link_store = SqlLinkStore(db.session_factory(engine))
    usage = BufferedEventSender(settings.analytics_url, identity, max_buffer=settings.event_buffer)
    observe_events(lambda: usage.buffered, lambda: usage.sent, lambda: usage.dropped + usage.rejected)
    counter = ClickCounter(link_store.add_clicks, interval_s=settings.click_flush_s)
    links = Links(
        link_store,
        store,
        base_url=settings.public_base_url,
        clock=utcnow,
        cache=LinkCache(
            ttl_s=settings.link_cache_ttl_s, monotonic=time.monotonic, max_entries=settings.link_cache_entries
        ),
        counter=counter,
        clicks=usage.record,
        site_name=settings.site_name,
    )

    async def unpublished(asset: Asset) -> None:
        links.forget_asset(asset.asset_id)
        await purges.request(asset)

    assets = Assets(
        store,
        blobs,
        probe,
        scanner,
        base_url=settings.public_base_url,
        clock=utcnow,
        limits=Limits(max_upload_bytes=settings.max_upload_bytes),
        on_approved=renditions.schedule,
        on_unpublished=unpublished,
    )
    delivery = Delivery(
        store,
        blobs,
        keyring(settings),
        [spec.name for spec in RENDITIONS],
        base_url=settings.public_base_url,
        clock=utcnow,
        max_lifetime_s=settings.signed_url_max_lifetime_s,
        previews=maker,
        cache=BytesCache(
            max_total_bytes=settings.delivery_cache_bytes, max_item_bytes=settings.delivery_cache_item_bytes
        ),
        views=usage.record,
    )

    def forget(asset_id: str) -> None:
        # Every decision event, on whichever replica it was decided: the rows and the links looked up afresh.
        store.invalidate(asset_id)
        links.forget_asset(asset_id)

    follower = DecisionFollower(scanner, assets, store, sleep=asyncio.sleep, invalidate=forget)
    tasks: list[asyncio.Task[object]] = []

    async def start() -> None:
        await db.migrate(database.database_url, MIGRATIONS)

        async def begin() -> None:
            # Scans that ended while nobody listened, and scans never started; then the renditions due.
            try:
                await assets.reconcile()
                await renditions.resume()
            except Exception as exc:
                log.warning("start-up reconciliation incomplete", error=str(exc))

        tasks.append(asyncio.create_task(follower.run(), name="decision-follower"))
        tasks.append(asyncio.create_task(usage.run(), name="usage-events"))
        tasks.append(asyncio.create_task(counter.run(), name="click-counts"))
        tasks.append(asyncio.create_task(begin(), name="reconcile"))
        tasks.append(asyncio.create_task(every(60.0, renditions.resume, "renditions"), name="renditions"))
        grace = timedelta(seconds=settings.blob_gc_grace_s)
        tasks.append(
            asyncio.create_task(every(settings.blob_gc_interval_s, lambda: assets.collect_garbage(grace), "blob-gc"))
        )

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Clicks counted in memory go to the database, usage events to analytics, before the engine closes.
        await counter.flush()
        await usage.close()
        await renditions.close()
        await purges.close()
        closers = [probe.close(), scanner.close()]
        if purger is not None:
            closers.append(purger.close())
        close_blobs = getattr(blobs, "close", None)
        if close_blobs is not None:
            closers.append(close_blobs())
        await asyncio.gather(*closers, return_exceptions=True)
        await engine.dispose()

    async def blobs_ok() -> bool:
        await blobs.check()
        return True

    async def following() -> bool:
        if not follower.connected:
            raise ConnectionError(f"not following the scanner's decision feed (at revision {follower.revision})")
        return True

    await serve(
        "sharelinks",
        settings,
        [
            Servicer(
                AssetServicer(assets, delivery, store, renditions, codec, settings.public_base_url),
                asset_service_pb2_grpc.add_AssetServiceServicer_to_server,
                asset_service_pb2.DESCRIPTOR.services_by_name["AssetService"],
            ),
            Servicer(
                ShareLinkServicer(links, codec),
                share_link_service_pb2_grpc.add_ShareLinkServiceServicer_to_server,
                share_link_service_pb2.DESCRIPTOR.services_by_name["ShareLinkService"],
            ),
        ],
        on_start=start,
        on_stop=stop,
        # Without the database nothing can be answered; without the blob store nothing delivered. The
        # scanner and frames are needed for uploads only, the decision feed for news of decisions:
        # reported, but delivery goes on without them.
        components=[
            database_component(engine),
            Component("blobs", blobs_ok),
            grpc_service_component("scanner", settings.scanner_url, hard=False),
            grpc_service_component("frames", settings.frames_url, hard=False),
            Component("decision-feed", following, hard=False),
        ],
    )


if __name__ == "__main__":
    run_service("sharelinks", main)
