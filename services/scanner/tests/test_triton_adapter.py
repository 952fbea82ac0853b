"""TritonInference against the real local Triton: results, deadlines, fast failure, recovery."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clearframe_mesh.process import free_port
from clearframe_mesh.triton import LocalTriton
from clearframe_runtime.errors import DeadlineExceeded, Unavailable
from services.scanner.adapters.triton import (
    InferenceFailed,
    ServerTimes,
    TritonInference,
    region_prefix,
    remove_stale_regions,
)
from services.scanner.tests.conftest import new_local_triton

COFFEE_LIKE = np.zeros((1, 3, 320, 320), dtype=np.float32)


async def test_infer_returns_requested_outputs(triton: TritonInference) -> None:
    batch = np.zeros((2, 3, 64, 64), dtype=np.float32)
    result = await triton.infer("age", {"images": batch}, ["probabilities"], timeout_s=10.0)
    assert result["probabilities"].shape == (2, 81)
    np.testing.assert_allclose(result["probabilities"].sum(axis=1), 1.0, atol=1e-3)
    assert await triton.ready(["nudenet", "opennsfw", "age"])
    assert not await triton.ready(["no_such_model"])


async def test_bad_request_fails_without_retry(triton: TritonInference) -> None:
    wrong_shape = np.zeros((1, 3, 32, 32), dtype=np.float32)
    with pytest.raises(InferenceFailed) as caught:
        await triton.infer("age", {"images": wrong_shape}, ["probabilities"], timeout_s=10.0)
    assert caught.value.reason == "TRITON_INFERENCE_FAILED"


async def test_deadline_exceeded(triton: TritonInference) -> None:
    big = np.zeros((16, 3, 320, 320), dtype=np.float32)
    with pytest.raises(DeadlineExceeded):
        await triton.infer("nudenet", {"images": big}, ["output0"], timeout_s=0.005)


async def test_closed_port_raises_unavailable_quickly() -> None:
    inference = TritonInference(f"127.0.0.1:{free_port()}")  # default settings
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable) as caught:
            await inference.infer("nudenet", {"images": COFFEE_LIKE}, ["output0"], timeout_s=10.0)
        assert time.monotonic() - started < 2.0
        assert caught.value.reason == "TRITON_UNAVAILABLE"
        assert not await inference.ready(["nudenet"])
    finally:
        await inference.close()


@pytest.mark.parametrize("shared_memory", [False, True], ids=["grpc", "shared-memory"])
async def test_recovers_when_triton_comes_back(tmp_path: Path, shared_memory: bool) -> None:
    # With shared memory, the fresh Triton knows none of the scanner's regions: they are registered again.
    server = new_local_triton(tmp_path)
    inference = TritonInference(server.grpc_url, timeout_s=20.0, shared_memory=shared_memory)
    try:
        server.start()
        await inference.wait_ready(["nudenet"], timeout_s=120.0)
        first = await inference.infer("nudenet", {"images": COFFEE_LIKE}, ["output0"])
        assert first["output0"].shape == (1, 22, 2100)

        server.stop()
        started = time.monotonic()
        with pytest.raises(Unavailable):
            await inference.infer("nudenet", {"images": COFFEE_LIKE}, ["output0"])
        assert time.monotonic() - started < 2.0

        server.start()  # same ports, fresh workspace
        await inference.wait_ready(["nudenet"], timeout_s=120.0)
        again = await inference.infer("nudenet", {"images": COFFEE_LIKE}, ["output0"])
        np.testing.assert_allclose(again["output0"], first["output0"], atol=1e-4)
    finally:
        await inference.close()
        server.stop()


async def test_each_inference_is_a_client_span_with_the_server_times(
    triton: TritonInference, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from services.scanner.adapters import triton as adapter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(adapter, "tracer", provider.get_tracer("test"))
    for batch in (3, 2):
        await triton.infer("age", {"images": np.zeros((batch, 3, 64, 64), dtype=np.float32)}, ["probabilities"])
        await triton.flush_spans()  # one request at a time: each span has its own request's times
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["triton.infer age", "triton.infer age"]
    for span, batch in zip(spans, (3, 2), strict=True):
        attributes: dict[str, Any] = dict(span.attributes or {})
        assert span.kind == SpanKind.CLIENT
        assert attributes["triton.model"] == "age"
        assert attributes["triton.batch_size"] == batch
        assert attributes["triton.attempts"] == 1
        # The server's own account of this request (nothing else ran on this model meanwhile).
        assert attributes["triton.server.requests_in_sample"] == 1
        assert attributes["triton.server.compute_infer_ms"] > 0
        assert attributes["triton.server.queue_ms"] >= 0
    # Concurrent requests: each span still gets the server's times (the mean of the overlapping ones).
    exporter.clear()
    await asyncio.gather(
        *(
            triton.infer("age", {"images": np.zeros((1, 3, 64, 64), dtype=np.float32)}, ["probabilities"])
            for _ in range(4)
        )
    )
    await triton.flush_spans()
    spans = exporter.get_finished_spans()
    assert len(spans) == 4
    for span in spans:
        times: dict[str, Any] = dict(span.attributes or {})
        assert times["triton.server.compute_infer_ms"] > 0
        assert 1 <= times["triton.server.requests_in_sample"] <= 4
    provider.shutdown()


class _CountingStatistics(TritonInference):
    """Answers at once and counts statistics calls; Triton's counters advance by what was answered."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1:1")
        self.statistics_calls = 0
        self.answered = 0

    async def _infer(self, model: str, inputs: Any, outputs: Any, timeout_s: Any, span: Any) -> dict[str, Any]:
        self.answered += 1
        return {}

    async def _sample_server_times(self, model: str) -> ServerTimes | None:
        self.statistics_calls += 1
        await asyncio.sleep(0)
        return ServerTimes(self.answered, (self.answered, self.answered, 2 * self.answered, self.answered))


async def test_a_burst_of_inferences_costs_one_baseline_and_one_statistics_call() -> None:
    triton = _CountingStatistics()
    await asyncio.gather(*(triton.infer("nudenet", {}, []) for _ in range(8)))
    await triton.flush_spans()
    assert triton.statistics_calls == 2  # the model's baseline, then one sample for all eight spans
    await triton.infer("nudenet", {}, [])
    await triton.flush_spans()
    assert triton.statistics_calls == 3


# --- shared memory --------------------------------------------------------------------------------------


def _shm_files(inference: TritonInference) -> list[str]:
    prefix = f"{region_prefix(socket.gethostname(), os.getpid())}{id(inference):x}-"
    return [name for name in os.listdir("/dev/shm") if name.startswith(prefix)]


async def test_shared_memory_gives_the_same_results_and_reuses_its_regions(
    local_triton: LocalTriton, triton: TritonInference
) -> None:
    batch = np.random.default_rng(3).random((3, 3, 320, 320), dtype=np.float32)
    plain = await triton.infer("nudenet", {"images": batch}, ["output0"], timeout_s=30.0)
    inference = TritonInference(local_triton.grpc_url, timeout_s=30.0, shared_memory=True)
    try:
        for _ in range(5):
            shared = await inference.infer("nudenet", {"images": batch}, ["output0"])
            np.testing.assert_array_equal(shared["output0"], plain["output0"])
        assert len(_shm_files(inference)) == 1  # one region, written again for every call
        faces = np.random.default_rng(4).random((2, 3, 64, 64), dtype=np.float32)
        answers = await asyncio.gather(
            *(inference.infer("age", {"images": faces}, ["probabilities"]) for _ in range(4))
        )
        expected = await triton.infer("age", {"images": faces}, ["probabilities"])
        for answer in answers:
            np.testing.assert_array_equal(answer["probabilities"], expected["probabilities"])
        assert 1 <= len(_shm_files(inference)) <= 5
    finally:
        await inference.close()
    assert _shm_files(inference) == []  # closed: unregistered and removed


def test_regions_of_killed_scanners_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    dead = tmp_path / f"{region_prefix('host-a', dead_pid)}7f-1"
    alive = tmp_path / f"{region_prefix('host-a', os.getpid())}7f-1"
    other_host = tmp_path / f"{region_prefix('host-b', dead_pid)}7f-1"
    for path in (dead, alive, other_host):
        path.write_bytes(b"\0" * 16)
    assert remove_stale_regions(tmp_path, host="host-a") == [dead.name]
    assert not dead.exists() and alive.exists() and other_host.exists()
