"""The scanner's SQL and filesystem adapters on a real database and directory, and the analyzers on the
inference port (any Inference works, not only Triton's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clearframe_runtime import db
from services.scanner.adapters.images import FilesystemImageStore
from services.scanner.adapters.sql import SqlScanStore
from services.scanner.analyzers import opennsfw
from services.scanner.analyzers.base import AnalysisContext, Frame, FrameOutput, TextInput
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.domain.model import Failure, Scan, ScanState
from services.scanner.domain.pipeline import NUDENET, ScanPipeline
from services.scanner.domain.results import build_result
from services.scanner.tests.fakes import T0, Analyzers, Frames, Inference, ScriptedAnalyzer, detection, image, policy

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


@pytest.fixture
async def store(database: str) -> AsyncIterator[SqlScanStore]:
    await db.migrate(database, MIGRATIONS)
    engine = db.create_engine(database)
    yield SqlScanStore(db.session_factory(engine))
    await engine.dispose()


def scan(scan_id: str, **changes: object) -> Scan:
    base = Scan(scan_id, ScanState.RUNNING, "image/png", 10, "a" * 64, "public_site", T0, runner="here")
    return replace(base, **changes)  # type: ignore[arg-type]


async def test_a_scan_and_its_result_come_back_as_stored(store: SqlScanStore) -> None:
    nudenet = ScriptedAnalyzer(NUDENET, {0: FrameOutput(detections=[detection("FEMALE_BREAST_EXPOSED", 0.7)])})
    outcome = await ScanPipeline(Analyzers(nudenet), Frames(1)).scan_image(Frame(image=image()), AnalysisContext())
    result, _ = build_result(outcome, policy(), TextInput(), T0)
    running = scan("s1", asset_id="0123456789abcdef")
    await store.save(running)
    assert await store.get("s1") == running
    done = replace(running, state=ScanState.SUCCEEDED, media_type="image", result=result, completed_at=T0)
    await store.save(done)
    assert await store.get("s1") == done
    assert await store.get("missing") is None


async def test_running_lists_every_running_scan_and_list_filters(store: SqlScanStore) -> None:
    await store.save(scan("a", runner="one"))
    await store.save(scan("b", runner="two", created_at=T0 + timedelta(seconds=1)))
    failed = scan("c", state=ScanState.FAILED, error=Failure("ABORTED", "gone", "SCAN_INTERRUPTED"), completed_at=T0)
    await store.save(failed)
    assert [(s.scan_id, s.runner) for s in await store.running()] == [("a", "one"), ("b", "two")]
    assert await store.get("c") == failed
    listed = await store.list_scans(
        asset_id="", verdict="", usage_intent="public_site", model_id="", start=None, end=None, offset=0, limit=10
    )
    assert [s.scan_id for s in listed][:1] == ["b"]  # newest first
    none = await store.list_scans(
        asset_id="", verdict="APPROVED", usage_intent="", model_id="", start=None, end=None, offset=0, limit=10
    )
    assert none == []


async def test_tag_counts(store: SqlScanStore) -> None:
    assert await store.record_tags(["x", "y", "x"]) == 3
    assert await store.record_tags([]) == 0
    assert await store.tag_stats(0, 1) == ([("x", 2)], 3)


async def test_evidence_images_are_kept_downscaled_under_their_digest(tmp_path: Path) -> None:
    images = FilesystemImageStore(tmp_path)
    path = await images.keep("ab" + "0" * 62, image(1200, 600))
    assert path == f"images/ab/ab{'0' * 62}.jpg"
    with Image.open(tmp_path / path) as kept:
        assert (kept.format, kept.size) == ("JPEG", (512, 256))


async def test_analyzers_run_on_any_inference_port() -> None:
    settings = AnalyzerSettings(max_batch_size=2, inference_timeout_s=4.0)
    inference = Inference({opennsfw.OUTPUT_NAME: np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], dtype=np.float32)})
    analyzer = opennsfw.create(settings, inference)
    frames = [Frame(image=image(), index=i) for i in range(3)]
    outputs = await analyzer.analyze(frames, AnalysisContext(timeout_s=1.5))
    assert [round(o.scores["nsfw"], 2) for o in outputs] == [0.1, 0.8, 0.5]
    # Batches of at most max_batch_size, each with the scan's remaining time as its deadline.
    assert [(model, shapes[opennsfw.INPUT_NAME][0], timeout) for model, shapes, timeout in inference.calls] == [
        ("opennsfw", 2, 1.5),
        ("opennsfw", 1, 1.5),
    ]
