"""The service as a process: events acknowledged while it stops on SIGTERM are in the database afterwards
(the group-commit writer waits out its linger, the server drains, and the ingestor flushes before exit)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc

from clearframe.analytics.v1 import analytics_service_pb2 as pb
from clearframe.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from clearframe_mesh.process import free_port
from clearframe_mesh.readiness import wait_serving
from clearframe_runtime import db
from clearframe_runtime.principal import KIND_API_KEY, PRINCIPAL_HEADER, SIGNATURE_HEADER, Principal, PrincipalCodec
from services.analytics.adapters.sql import SqlEventStore
from services.analytics.domain.model import EventFilter

SECRET = "s" * 32


async def test_events_acknowledged_during_a_sigterm_are_stored(tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite:///{tmp_path}/analytics.db"
    env = {
        **os.environ,
        "CLEARFRAME_INTERNAL_SECRET": SECRET,
        "CLEARFRAME_LISTEN": f"127.0.0.1:{port}",
        "DATABASE_URL": url,
        # A long linger: the calls are surely waiting in the writer's queue when the signal arrives.
        "CLEARFRAME_ANALYTICS_LINGER_MS": "300",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.analytics", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        await asyncio.to_thread(wait_serving, f"127.0.0.1:{port}", timeout_s=30)
        value, signature = PrincipalCodec(SECRET).encode(
            Principal("service:test", KIND_API_KEY, frozenset({"analytics.write"}))
        )
        metadata = ((PRINCIPAL_HEADER, value), (SIGNATURE_HEADER, signature))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AnalyticsServiceStub(channel)
            calls = [
                stub.RecordEvent(
                    pb.RecordEventRequest(
                        event=pb.Event(event_id=f"e{n}", asset_id="0123456789abcdef", event_type=pb.EVENT_TYPE_VIEW)
                    ),
                    metadata=metadata,
                    timeout=10,
                )
                for n in range(40)
            ]
            await asyncio.sleep(0.1)
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
