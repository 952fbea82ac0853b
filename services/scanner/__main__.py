"""Run the scanner service: `python -m services.scanner`.

ScannerService and ModerationService (decisions, review, audit, webhooks) share one process: every
completed scan reaches moderation through ``Scanner.listeners``, every failed one through
``Scanner.failure_listeners`` (the decision feed that WatchDecisions streams).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import structlog

from clearframe.scanner.v1 import (
    moderation_service_pb2,
    moderation_service_pb2_grpc,
    scanner_service_pb2,
    scanner_service_pb2_grpc,
)
from clearframe_runtime import db
from clearframe_runtime.clock import utcnow
from clearframe_runtime.health import Component, database_component, grpc_service_component
from clearframe_runtime.principal import PrincipalCodec
from clearframe_runtime.server import Servicer, run_service, serve
from clearframe_runtime.settings import DatabaseSettings, load_settings
from services.scanner import metrics as scanner_metrics
from services.scanner.adapters.config import GrpcPolicySource
from services.scanner.adapters.frames import GrpcFrameSource
from services.scanner.adapters.images import FilesystemImageStore
from services.scanner.adapters.sql import SqlScanStore
from services.scanner.adapters.triton import TritonInference
from services.scanner.analyzers.registry import AnalyzerRegistry
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.api import ScannerServicer
from services.scanner.domain.pipeline import ScanPipeline
from services.scanner.domain.scans import Scanner
from services.scanner.moderation.adapters.sql import SqlModerationStore
from services.scanner.moderation.api import ModerationServicer
from services.scanner.moderation.wiring import moderation_parts
from services.scanner.settings import ScannerSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)


async def main() -> None:
    settings, database = load_settings("scanner", ScannerSettings, DatabaseSettings)
    engine = db.create_engine(database.database_url)
    sessions = db.session_factory(engine)
    triton = TritonInference(
        settings.triton_url,
        timeout_s=settings.triton_timeout_s,
        retries=settings.triton_retries,
        backoff_s=settings.triton_backoff_s,
        shared_memory=settings.triton_shared_memory,
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
        registry,
        frames,
        batch_size=settings.scanner_batch_size,
        in_flight=settings.scanner_batches_in_flight,
        hard_limit=settings.scanner_hard_limit,
    )
    scans = SqlScanStore(sessions)
    images = FilesystemImageStore(settings.scanner_image_store)
    scanner = Scanner(
        settings.limits(),
        pipeline,
        scans,
        policies,
        images,
        clock=utcnow,
        new_id=lambda: uuid.uuid4().hex,
        runner=settings.instance(),
    )
    webhook_client = httpx.AsyncClient(follow_redirects=False)
    parts = moderation_parts(sessions, webhook_client)
    deliveries = parts.deliveries
    scanner.listeners.append(parts.listener)
    scanner.failure_listeners.append(parts.listener.failed)
    scanner.listeners.append(scanner_metrics.on_scan_completed)
    scanner.failure_listeners.append(scanner_metrics.on_scan_failed)
    review_queue = scanner_metrics.ReviewQueueGauge(SqlModerationStore(sessions), utcnow)
    sweeper: list[asyncio.Task[None]] = []

    async def start() -> None:
        await db.migrate(database.database_url, MIGRATIONS)
        await scanner.recover()  # what a killed predecessor left RUNNING
        await registry.start()
        try:  # serve even when Triton is late: scans answer UNAVAILABLE until it is ready
            await triton.wait_ready(registry.triton_models(), timeout_s=30)
        except Exception as exc:
            log.warning("triton.not_ready", error=str(exc))
        deliveries.start()
        review_queue.start()
        sweeper.append(asyncio.create_task(scanner.sweep_orphans(asyncio.sleep)))

    async def stop() -> None:
        for task in sweeper:
            task.cancel()
        await asyncio.gather(*sweeper, return_exceptions=True)
        await scanner.drain(settings.shutdown_grace_s)  # background scans, before their clients close
        await deliveries.stop()
        await review_queue.stop()
        await registry.close()
        await asyncio.gather(triton.close(), frames.close(), policies.close(), webhook_client.aclose())
        await engine.dispose()

    await serve(
        "scanner",
        settings,
        [
            Servicer(
                ScannerServicer(scanner, codec),
                scanner_service_pb2_grpc.add_ScannerServiceServicer_to_server,
                scanner_service_pb2.DESCRIPTOR.services_by_name["ScannerService"],
            ),
            Servicer(
                ModerationServicer(parts.moderation, scans, codec, parts.feed),
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
