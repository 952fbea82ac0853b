"""Run the scanner service: `python -m services.scanner`.

ScannerService and ModerationService (decisions, review, audit, webhooks) share one process: every
completed scan reaches moderation through ``Scanner.listeners``.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import structlog
from pydantic import ValidationError

from clearframe.scanner.v1 import (
    moderation_service_pb2,
    moderation_service_pb2_grpc,
    scanner_service_pb2,
    scanner_service_pb2_grpc,
)
from clearframe_runtime import db
from clearframe_runtime.health import Component, database_component, grpc_service_component
from clearframe_runtime.principal import PrincipalCodec
from clearframe_runtime.server import Servicer, run_service, serve
from clearframe_runtime.settings import DatabaseSettings, describe_missing
from services.scanner.adapters.config import GrpcPolicySource
from services.scanner.adapters.frames import GrpcFrameSource
from services.scanner.adapters.sql import SqlScanStore
from services.scanner.adapters.triton import TritonInference
from services.scanner.analyzers.registry import AnalyzerRegistry
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.api import Scanner, ScannerServicer
from services.scanner.moderation.adapters.sql import SqlModerationStore
from services.scanner.moderation.api import ModerationServicer, ScanListener
from services.scanner.moderation.domain import Moderation, UrlPolicy
from services.scanner.moderation.settings import ModerationSettings
from services.scanner.moderation.webhooks import DeliveryWorker
from services.scanner.pipeline import ScanPipeline
from services.scanner.settings import ScannerSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)


async def main() -> None:
    try:
        settings, database, moderation_settings = ScannerSettings(), DatabaseSettings(), ModerationSettings()
    except ValidationError as exc:
        raise SystemExit(f"scanner: {describe_missing(exc)}") from exc
    engine = db.create_engine(database.database_url)
    triton = TritonInference(
        settings.triton_url,
        timeout_s=settings.triton_timeout_s,
        retries=settings.triton_retries,
        backoff_s=settings.triton_backoff_s,
    )
    registry = AnalyzerRegistry(
        settings.scanner_modules_cfg,
        AnalyzerSettings(inference_timeout_s=settings.triton_timeout_s, hash_bank_dir=settings.scanner_hash_banks),
        triton,
    )
    frames = GrpcFrameSource(settings.frames_url, settings.max_message_bytes)
    codec = PrincipalCodec(settings.internal_secret.get_secret_value())
    policies = GrpcPolicySource(settings.config_url, codec)
    pipeline = ScanPipeline(
        registry, frames, batch_size=settings.scanner_batch_size, hard_limit=settings.scanner_hard_limit
    )
    scans = SqlScanStore(db.session_factory(engine))
    scanner = Scanner(settings, pipeline, scans, policies)
    moderation_store = SqlModerationStore(db.session_factory(engine))
    webhook_client = httpx.AsyncClient(follow_redirects=False)
    deliveries = DeliveryWorker(
        moderation_store,
        webhook_client,
        timeout_s=moderation_settings.webhook_timeout_s,
        concurrency=moderation_settings.webhook_concurrency,
        poll_s=moderation_settings.webhook_poll_s,
    )
    moderation = Moderation(
        moderation_store,
        url_policy=UrlPolicy(
            allow_loopback=moderation_settings.webhook_allow_loopback,
            allowed_private_hosts=frozenset(
                h.strip().lower() for h in moderation_settings.webhook_allowed_private_hosts.split(",") if h.strip()
            ),
        ),
        on_deliveries=deliveries.wake,
    )
    scanner.listeners.append(ScanListener(moderation))
    watcher: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal watcher
        await db.migrate(database.database_url, MIGRATIONS)
        await registry.load()
        for name, error in registry.failures().items():
            log.warning("analyzer.not_loaded", analyzer=name, error=error)
        try:
            # Serve even when Triton is late: scans answer UNAVAILABLE until it is ready.
            await triton.wait_ready(registry.triton_models(), timeout_s=30)
        except Exception as exc:
            log.warning("triton.not_ready", error=str(exc))
        watcher = asyncio.create_task(registry.watch())
        deliveries.start()

    async def stop() -> None:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await deliveries.stop()
        await registry.close()
        await asyncio.gather(triton.close(), frames.close(), policies.close(), webhook_client.aclose())
        await engine.dispose()

    await serve(
        "scanner",
        settings,
        [
            Servicer(
                ScannerServicer(scanner, codec, settings.scanner_image_store),
                scanner_service_pb2_grpc.add_ScannerServiceServicer_to_server,
                scanner_service_pb2.DESCRIPTOR.services_by_name["ScannerService"],
            ),
            Servicer(
                ModerationServicer(moderation, scans, codec),
                moderation_service_pb2_grpc.add_ModerationServiceServicer_to_server,
                moderation_service_pb2.DESCRIPTOR.services_by_name["ModerationService"],
            ),
        ],
        on_start=start,
        on_stop=stop,
        # Hard dependencies: without any of them no scan can succeed, so the scanner is NOT_SERVING.
        components=[
            Component("triton", lambda: triton.ready(registry.triton_models())),
            database_component(engine),
            grpc_service_component("frames", settings.frames_url),
        ],
    )


if __name__ == "__main__":
    run_service("scanner", main)
