"""The service as a process: events acknowledged while it stops on SIGTERM are in the database afterwards
(the group-commit writer waits out its linger, the server drains, and the ingestor flushes before exit);
killed outright (SIGKILL) under load, every event it acknowledged is stored, and counted exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clearframe.analytics.v1 import analytics_service_pb2 as pb
from clearframe.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from clearframe_mesh.process import free_port
from clearframe_mesh.readiness import wait_serving
from clearframe_runtime import db
from clearframe_runtime.principal import KIND_API_KEY, PRINCIPAL_HEADER, SIGNATURE_HEADER, Principal, PrincipalCodec
from clearframe_runtime.protoconv import timestamp
from services.analytics.__main__ import MIGRATIONS
from services.analytics.adapters.sql import SqlEventStore
from services.analytics.domain.model import Event, EventFilter, EventType, Metrics, Platform

SECRET = "s" * 32
ASSET = "0123456789abcdef"


def _metadata(permission: str = "analytics.write") -> tuple[tuple[str, str], ...]:
    value, signature = PrincipalCodec(SECRET).encode(Principal("service:test", KIND_API_KEY, frozenset({permission})))
    return ((PRINCIPAL_HEADER, value), (SIGNATURE_HEADER, signature))


async def _start(tmp_path: Path, **settings: str) -> tuple[asyncio.subprocess.Process, int, str]:
    port = free_port()
    url = f"sqlite:///{tmp_path}/analytics.db"
    env = {
        **os.environ,
        "CLEARFRAME_INTERNAL_SECRET": SECRET,
        "CLEARFRAME_LISTEN": f"127.0.0.1:{port}",
        "DATABASE_URL": url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.analytics",
        env={**env, **settings},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    await asyncio.to_thread(wait_serving, f"127.0.0.1:{port}", timeout_s=30)
    return process, port, url


async def _pending(metrics_port: int) -> float:
    """The events the service holds unwritten (its clearframe_analytics_ingest_pending gauge)."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "clearframe_analytics_ingest_pending":
                return float(sample.value)
    return 0.0


async def test_events_acknowledged_during_a_sigterm_are_stored(tmp_path: Path) -> None:
    metrics_port = free_port()
    # A long linger holds the calls in the writer's queue; the signal comes once all 40 are there.
    process, port, url = await _start(
        tmp_path, CLEARFRAME_ANALYTICS_LINGER_MS="1000", CLEARFRAME_METRICS_PORT=str(metrics_port)
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AnalyticsServiceStub(channel)
            calls = [
                asyncio.ensure_future(
                    stub.RecordEvent(
                        pb.RecordEventRequest(
                            event=pb.Event(event_id=f"e{n}", asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW)
                        ),
                        metadata=_metadata(),
                        timeout=20,
                    )
                )
                for n in range(40)
            ]
            deadline = asyncio.get_running_loop().time() + 10
            while await _pending(metrics_port) < 40:
                assert asyncio.get_running_loop().time() < deadline, "the calls never reached the writer's queue"
                await asyncio.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            answers = await asyncio.gather(*calls, return_exceptions=True)
        acknowledged = {a.event.event_id for a in answers if isinstance(a, pb.RecordEventResponse)}
        assert len(acknowledged) == 40, [a for a in answers if not isinstance(a, pb.RecordEventResponse)]
        _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, err.decode()[-2000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()
    engine = db.create_engine(url)
    try:
        stored = {e.event_id for e in await SqlEventStore(engine).page(EventFilter(), 0, 100)}
    finally:
        await engine.dispose()
    assert acknowledged <= stored


async def test_killed_under_load_it_loses_nothing_it_acknowledged(tmp_path: Path) -> None:
    """Eight producers send batches of 50 new events as fast as they are answered; the process is killed
    (SIGKILL: no drain, no flush) mid-stream. Every batch answered OK is in the database, and the rollups
    count each stored event once — what was in flight but unanswered may or may not be there."""
    process, port, url = await _start(tmp_path)
    acknowledged: set[str] = set()
    sent = 0
    killed = False
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AnalyticsServiceStub(channel)

            async def producer(worker: int) -> None:
                nonlocal sent
                for batch in range(10_000):
                    ids = [f"w{worker}-b{batch}-e{n}" for n in range(50)]
                    events = [pb.Event(event_id=i, asset_id=ASSET, event_type=pb.EVENT_TYPE_VIEW) for i in ids]
                    sent += len(ids)
                    try:
                        answer = await stub.BatchRecordEvents(
                            pb.BatchRecordEventsRequest(events=events), metadata=_metadata(), timeout=10
                        )
                    except grpc.aio.AioRpcError:
                        return  # the process is gone
                    assert not answer.errors and answer.recorded_count == len(ids), answer
                    acknowledged.update(ids)

            producers = [asyncio.ensure_future(producer(w)) for w in range(8)]
            while len(acknowledged) < 2000:  # under load: thousands written, more in flight
                await asyncio.sleep(0.02)
                assert not any(p.done() for p in producers), "a producer stopped before the kill"
            process.kill()
            killed = True
            await asyncio.gather(*producers)
    finally:
        # Killed once only: a second kill() polls the child (Popen.send_signal does), reaping it before
        # asyncio's child watcher can, which then reports 255.
        if process.returncode is None and not killed:
            process.kill()
        await process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert sent > len(acknowledged)  # some calls were cut off unanswered
    engine = db.create_engine(url)
    try:
        store = SqlEventStore(engine)
        stored = {e.event_id for e in await store.page(EventFilter(), 0, sent + 1)}
        counted = Metrics.of(await store.counts(EventFilter(asset_id=ASSET), frozenset()))
    finally:
        await engine.dispose()
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged events lost"
    assert counted.views == len(stored)


async def test_a_raw_retention_drops_expired_days_at_start_and_their_events_keep_counting(tmp_path: Path) -> None:
    """With CLEARFRAME_ANALYTICS_RAW_RETENTION_DAYS the service drops the expired days' raw events as it
    starts: ListEvents no longer shows them, the asset's metrics still count them, and an event older than
    the retention is refused."""
    url = f"sqlite:///{tmp_path}/analytics.db"
    await db.migrate(url, MIGRATIONS)
    now = datetime.now(UTC)

    def view(event_id: str, at: datetime) -> Event:
        return Event(event_id, ASSET, EventType.VIEW, Platform.WEB, "", at, at, {}, "Mozilla/5.0", False)

    engine = db.create_engine(url)
    try:
        await SqlEventStore(engine).record([view("old", now - timedelta(days=10)), view("new", now)])
    finally:
        await engine.dispose()
    process, port, _ = await _start(tmp_path, CLEARFRAME_ANALYTICS_RAW_RETENTION_DAYS="3")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AnalyticsServiceStub(channel)
            reader = _metadata("analytics.read")
            deadline = asyncio.get_running_loop().time() + 20
            while True:
                listed = await stub.ListEvents(pb.ListEventsRequest(asset_id=ASSET), metadata=reader, timeout=5)
                if [e.event_id for e in listed.events] == ["new"]:
                    break
                assert asyncio.get_running_loop().time() < deadline, "the expired day was never dropped"
                await asyncio.sleep(0.1)
            metrics = await stub.GetAssetMetrics(pb.GetAssetMetricsRequest(asset_id=ASSET), metadata=reader, timeout=5)
            assert metrics.metrics.views == 2
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.RecordEvent(
                    pb.RecordEventRequest(
                        event=pb.Event(
                            asset_id=ASSET,
                            event_type=pb.EVENT_TYPE_VIEW,
                            event_time=timestamp(now - timedelta(days=4)),
                        )
                    ),
                    metadata=_metadata(),
                    timeout=5,
                )
            assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert "INVALID_EVENT_TIME" in repr(refused.value.trailing_metadata())
    finally:
        process.terminate()
        await process.communicate()
