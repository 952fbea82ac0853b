"""The scan use cases with in-memory ports: creating scans (each bad input), idempotency, background
scans, drain at shutdown, recovery at start, and seed 000's /check, /batch and /stats."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from clearframe_runtime.errors import AlreadyExists, InvalidArgument, Unavailable
from services.scanner.analyzers.base import AnalysisContext, Frame, FrameOutput
from services.scanner.domain.decision import Policy
from services.scanner.domain.model import Scan, ScanState
from services.scanner.domain.pipeline import NUDENET, OPENNSFW, ScanPipeline
from services.scanner.domain.scans import INTERRUPTED, Created, LegacyRefusal, NewScan, ScanLimits, Scanner
from services.scanner.tests.fakes import (
    Analyzers,
    Clock,
    Frames,
    Ids,
    Images,
    Policies,
    Scans,
    ScriptedAnalyzer,
    detection,
    png,
)

GIF = b"GIF89a" + b"\0" * 20  # the fake frame source does not read it


class Gate(ScriptedAnalyzer):
    """An analyzer that waits until the test opens the gate."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def analyze(self, frames: Sequence[Frame], context: AnalysisContext) -> list[FrameOutput]:
        self.entered.set()
        await self.gate.wait()
        return [FrameOutput() for _ in frames]


def scanner(
    *analyzers: ScriptedAnalyzer,
    frames: Frames | None = None,
    policies: Policies | None = None,
    limits: ScanLimits | None = None,
    runner: str = "me",
) -> tuple[Scanner, Scans, Clock]:
    clock, store = Clock(), Scans()
    pipeline = ScanPipeline(
        Analyzers(*(analyzers or (ScriptedAnalyzer(NUDENET), ScriptedAnalyzer(OPENNSFW)))),
        frames or Frames(5, paced=False),
        clock=clock.seconds,
    )
    return (
        Scanner(
            limits or ScanLimits(),
            pipeline,
            store,
            policies or Policies(),
            Images(),
            clock=clock.now,
            new_id=Ids(),
            runner=runner,
        ),
        store,
        clock,
    )


def failures_told(service: Scanner) -> list[Scan]:
    """What the scanner's failure listeners hear."""
    told: list[Scan] = []

    async def listen(scan: Scan) -> None:
        told.append(scan)

    service.failure_listeners.append(listen)
    return told


async def test_a_scan_of_an_image_completes_and_is_stored_and_announced() -> None:
    service, store, clock = scanner()
    heard: list[tuple[Scan, Policy]] = []

    async def listener(scan: Scan, policy: Policy) -> None:
        heard.append((scan, policy))

    service.listeners.append(listener)
    scan, created = await service.create(NewScan(png(), "image/png", title="hi"), "alice", ())
    assert created is Created.COMPLETED
    assert (scan.scan_id, scan.state, scan.media_type, scan.creator, scan.runner) == (
        "scan0001",
        ScanState.SUCCEEDED,
        "image",
        "alice",
        "me",
    )
    assert scan.result is not None and scan.result.verdict == "APPROVED"
    assert store.scans["scan0001"] == scan and scan.completed_at == clock.now()
    assert heard == [(scan, Policies().value)]
    assert store.tags == {}  # rating:safe is not counted


async def test_a_gif_goes_through_the_frame_source() -> None:
    frames = Frames(7, paced=False)
    service, _, _ = scanner(frames=frames)
    scan, _ = await service.create(NewScan(GIF, "image/gif"), "alice", ())
    assert scan.media_type == "animated_gif"
    assert scan.result is not None and (scan.result.frames_total, scan.result.frames_analyzed) == (7, 3)
    assert frames.requests == [{"gif_step": 5, "video_step": 20, "max_frames": 60}]


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (NewScan(png(), usage_intent="somewhere"), "INVALID_USAGE_INTENT"),
        (NewScan(png(), model_id="bad id"), "INVALID_MODEL_ID"),
        (NewScan(png(), scan_id="x" * 65), "INVALID_SCAN_ID"),
        (NewScan(png(), asset_id="NOTHEX0123456789"), "INVALID_ARGUMENT"),
        (NewScan(png(), title="t" * 301), "TEXT_TOO_LONG"),
        (NewScan(png(), description="d" * 5001), "TEXT_TOO_LONG"),
        (NewScan(png(), tags=("t",) * 51), "TEXT_TOO_LONG"),
        (NewScan(png(), tags=("t" * 101,)), "TEXT_TOO_LONG"),
        (NewScan(b""), "EMPTY_BODY"),
        (NewScan(b"\0" * 101), "PAYLOAD_TOO_LARGE"),
        (NewScan(b"not an image", "image/png"), "MEDIA_UNDECODABLE"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_stored(request_: NewScan, reason: str) -> None:
    service, store, _ = scanner(limits=ScanLimits(max_media_bytes=100 if len(request_.data) > 100 else 10**6))
    with pytest.raises(InvalidArgument) as refused:
        await service.create(request_, "alice", ())
    assert refused.value.reason == reason
    assert store.scans == {}


async def test_request_ids_are_idempotent_per_caller_and_scan_ids_unique() -> None:
    service, _, _ = scanner()
    first, created = await service.create(NewScan(png(), request_id="req-1"), "alice", ())
    again, created_again = await service.create(NewScan(png(), request_id="req-1"), "alice", ())
    other, _ = await service.create(NewScan(png(), request_id="req-1"), "bob", ())
    assert (created, created_again) == (Created.COMPLETED, Created.EXISTING)
    assert again == first and other.scan_id != first.scan_id
    await service.create(NewScan(png(), scan_id="mine"), "alice", ())
    with pytest.raises(AlreadyExists):
        await service.create(NewScan(png(), scan_id="mine"), "alice", ())


async def test_a_failing_dependency_fails_a_synchronous_scan_without_storing_it() -> None:
    service, store, _ = scanner(policies=Policies(fail=Unavailable("config down", reason="CONFIG_UNAVAILABLE")))
    with pytest.raises(Unavailable):
        await service.create(NewScan(png()), "alice", ())
    assert store.scans == {}


async def test_a_failing_listener_does_not_fail_the_scan() -> None:
    service, store, _ = scanner()

    async def broken(scan: Scan, policy: Policy) -> None:
        raise RuntimeError("moderation is down")

    service.listeners.append(broken)
    scan, _ = await service.create(NewScan(png()), "alice", ())
    assert scan.state == ScanState.SUCCEEDED and store.scans[scan.scan_id].state == ScanState.SUCCEEDED


async def test_a_background_scan_is_running_then_completes() -> None:
    gate = Gate(NUDENET)
    service, store, _ = scanner(gate)
    scan, created = await service.create(NewScan(png(), return_immediately=True), "alice", ())
    assert created is Created.ACCEPTED and scan.state == ScanState.RUNNING
    assert store.scans[scan.scan_id].state == ScanState.RUNNING and store.scans[scan.scan_id].runner == "me"
    assert service.running == 1
    gate.gate.set()
    assert await service.drain(5.0) == 0
    assert store.scans[scan.scan_id].state == ScanState.SUCCEEDED and service.running == 0


async def test_a_background_scan_that_fails_is_stored_failed_with_its_reason() -> None:
    service, store, _ = scanner(policies=Policies(fail=Unavailable("config down", reason="CONFIG_UNAVAILABLE")))
    told = failures_told(service)
    scan, _ = await service.create(NewScan(png(), return_immediately=True), "alice", ())
    await service.drain(5.0)
    failed = store.scans[scan.scan_id]
    assert failed.state == ScanState.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.reason) == ("UNAVAILABLE", "CONFIG_UNAVAILABLE")
    assert told == [failed]  # moderation's decision feed hears it


async def test_drain_cuts_short_what_outlives_the_grace_period() -> None:
    gate = Gate(NUDENET)
    service, store, _ = scanner(gate)
    told = failures_told(service)
    scan, _ = await service.create(NewScan(png(), return_immediately=True), "alice", ())
    await gate.entered.wait()
    assert await service.drain(0.01) == 1
    cut = store.scans[scan.scan_id]
    assert told == [cut]
    assert cut.state == ScanState.FAILED and cut.error is not None
    assert (cut.error.code, cut.error.reason) == ("ABORTED", INTERRUPTED)
    assert "submit it again" in cut.error.message and cut.completed_at is not None
    assert service.running == 0


async def test_recovery_finishes_this_instances_scans_and_orphans_only() -> None:
    service, store, clock = scanner(limits=ScanLimits(orphan_after_s=600))
    base = Scan("x", ScanState.RUNNING, "image/png", 1, "0" * 64, "public_site", clock.now() - timedelta(seconds=5))
    await store.save(replace(base, scan_id="mine", runner="me"))
    await store.save(replace(base, scan_id="busy-elsewhere", runner="other"))
    await store.save(replace(base, scan_id="orphan", runner="gone", created_at=clock.now() - timedelta(seconds=601)))
    await store.save(replace(base, scan_id="done", runner="me", state=ScanState.SUCCEEDED))
    told = failures_told(service)
    assert sorted(await service.recover()) == ["mine", "orphan"]
    assert sorted(s.scan_id for s in told) == ["mine", "orphan"] and all(s.state == ScanState.FAILED for s in told)
    for scan_id in ("mine", "orphan"):
        error = store.scans[scan_id].error
        assert store.scans[scan_id].state == ScanState.FAILED and error is not None and error.reason == INTERRUPTED
    assert store.scans["busy-elsewhere"].state == ScanState.RUNNING
    assert store.scans["done"].state == ScanState.SUCCEEDED
    assert await service.recover() == []


async def test_legacy_check_answers_the_seed_keys_in_order_and_keeps_the_image() -> None:
    nudenet = ScriptedAnalyzer(NUDENET, {0: FrameOutput(detections=[detection("FEMALE_BREAST_EXPOSED", 0.5)])})
    broken = ScriptedAnalyzer("module_a", fail=RuntimeError("boom"))
    service, store, _ = scanner(nudenet, ScriptedAnalyzer(OPENNSFW), broken)
    answer = await service.legacy_check(png(600, 400))
    assert list(answer)[:5] == [
        "modules.nsfw_scanner",
        "modules.tagging",
        "modules.deepdanbooru_tags",
        "modules.statistics",
        "modules.image_storage",
    ]
    assert answer["modules.tagging"] == {"tags": [{"label": "female_breast_exposed", "score": 0.5}]}
    assert answer["modules.deepdanbooru_tags"]["tags"][0] == {"label": "rating:questionable", "score": 1.0}
    assert answer["modules.statistics"] == {"recorded": 3}  # the tagging label, the rating and "breasts"
    storage = answer["modules.image_storage"]
    assert storage["path"].startswith("images/") and storage["metadata"]["width"] == 600
    assert answer["modules.module_a"] == {"error": "RuntimeError: boom"}
    assert store.tags["rating:questionable"] == 1


async def test_legacy_check_without_nudenet_says_so_under_its_keys() -> None:
    service, _, _ = scanner(ScriptedAnalyzer(OPENNSFW))
    answer = await service.legacy_check(png())
    assert answer["modules.tagging"] == {"error": "nudenet is not configured"}


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        (None, LegacyRefusal.MISSING, "image missing"),
        (b"", LegacyRefusal.MISSING, "image missing"),
        (b"\0" * 11, LegacyRefusal.TOO_LARGE, "payload too large"),
        (b"garbage", LegacyRefusal.INVALID, "invalid image"),
    ],
)
async def test_legacy_check_refusals(data: bytes | None, kind: str, message: str) -> None:
    service, _, _ = scanner(limits=ScanLimits(max_image_bytes=10))
    with pytest.raises(LegacyRefusal) as refused:
        await service.legacy_check(data)
    assert (refused.value.kind, refused.value.message) == (kind, message)


@pytest.mark.parametrize(
    ("frame_count", "mime", "expected", "sampled"),
    [
        (3, "image/gif", 3, 2),  # GIF step 5: frames 0 and 2 sampled, 3 extracted
        (23, "image/gif", 23, 6),
        (24, "video/mp4", 24, 3),  # "video" in the MIME type: step 20 → 0, 20, 23
        (100, "image/gif", 60, 21),  # the seed extracted at most 60
    ],
)
async def test_legacy_batch_frame_count_is_the_frames_extracted(
    frame_count: int, mime: str, expected: int, sampled: int
) -> None:
    frames = Frames(frame_count, kind="video" if "video" in mime else "animated_gif", paced=False)
    nudenet, opennsfw, other = ScriptedAnalyzer(NUDENET), ScriptedAnalyzer(OPENNSFW), ScriptedAnalyzer("pdq")
    service, _, _ = scanner(nudenet, opennsfw, other, frames=frames)
    answer = await service.legacy_batch(b"media", mime, ())
    assert answer == {"risk": 0.0, "tags": ["rating:safe"], "frameCount": expected}
    assert sum(len(b) for b in nudenet.batches) == sampled
    assert other.batches == []  # /batch runs only what its answer needs


async def test_legacy_batch_refusals_and_bad_media() -> None:
    service, _, _ = scanner(limits=ScanLimits(max_media_bytes=10))
    for data, kind in ((None, LegacyRefusal.MISSING), (b"\0" * 11, LegacyRefusal.TOO_LARGE)):
        with pytest.raises(LegacyRefusal) as refused:
            await service.legacy_batch(data, "image/gif", ())
        assert refused.value.kind == kind
    bad, _, _ = scanner(frames=Frames(3, fail=InvalidArgument("no frames")))
    with pytest.raises(LegacyRefusal) as invalid:
        await bad.legacy_batch(b"gif", "image/gif", ())
    assert (invalid.value.kind, invalid.value.message) == (LegacyRefusal.INVALID, "invalid media: no frames")


async def test_legacy_stats_counts_recorded_tags() -> None:
    explicit = FrameOutput(detections=[detection("MALE_GENITALIA_EXPOSED", 0.9)])
    service, _, _ = scanner(ScriptedAnalyzer(NUDENET, {0: explicit}), frames=Frames(2, paced=False))
    await service.legacy_batch(b"gif", "image/gif", ())
    assert await service.legacy_stats() == {"count": 2, "top_tags": ["penis", "rating:explicit"]}


async def test_a_running_scan_of_this_process_is_never_recovered() -> None:
    gate = Gate(NUDENET)
    service, store, clock = scanner(gate, limits=ScanLimits(orphan_after_s=60))
    scan, _ = await service.create(NewScan(png(), return_immediately=True), "alice", ())
    await gate.entered.wait()
    clock.advance(3600)
    assert await service.recover() == []
    assert store.scans[scan.scan_id].state == ScanState.RUNNING
    gate.gate.set()
    await service.drain(5.0)
    assert store.scans[scan.scan_id].state == ScanState.SUCCEEDED


async def test_the_orphan_sweep_runs_every_half_orphan_period() -> None:
    service, store, clock = scanner(limits=ScanLimits(orphan_after_s=600))
    await store.save(
        Scan("lost", ScanState.RUNNING, "image/png", 1, "0" * 64, "public_site", clock.now(), runner="a-dead-pod")
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)
        if len(waits) == 2:
            assert store.scans["lost"].state == ScanState.RUNNING  # 300 s old: not yet an orphan
        if len(waits) == 4:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await service.sweep_orphans(sleep)
    assert waits == [300.0] * 4
    assert store.scans["lost"].state == ScanState.FAILED  # more than 600 s old at the third round
