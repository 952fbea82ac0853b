"""Result building from a pipeline outcome and a policy, and its lossless trip through the wire messages
(the api's answers and the SQL adapter's stored form)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clearframe.scanner.v1 import types_pb2 as types
from services.scanner import wire
from services.scanner.analyzers.base import AnalysisContext, Analyzer, AnalyzerError, Frame, FrameOutput, TextInput
from services.scanner.domain.model import Failure, Scan, ScanState
from services.scanner.domain.pipeline import NUDENET, OPENNSFW, ScanOutcome, ScanPipeline
from services.scanner.domain.results import NO_CAPTIONING, build_result, risk_level
from services.scanner.tests.fakes import (
    T0,
    Analyzers,
    Frames,
    MediaAnalyzer,
    ScriptedAnalyzer,
    detection,
    image,
    policy,
)
from services.scanner.wire import plain, reasons_message, scan_from_json, scan_json, scan_message, scan_of

CONTEXT = AnalysisContext(timeout_s=5.0)


async def outcome_of(*analyzers: Analyzer, frames: int = 0, text: TextInput | None = None) -> ScanOutcome:
    pipeline = ScanPipeline(Analyzers(*analyzers), Frames(frames, paced=False))
    context = replace(CONTEXT, text=text or TextInput())
    if frames:
        return await pipeline.scan_media(b"", "image/gif", context, gif_step=1, video_step=1, max_frames=60)
    return await pipeline.scan_image(Frame(image=image(10, 20)), context)


async def test_a_clean_image() -> None:
    outcome = await outcome_of(ScriptedAnalyzer(NUDENET), ScriptedAnalyzer(OPENNSFW, {0: FrameOutput({"nsfw": 0.02})}))
    result, decision = build_result(outcome, policy(), TextInput(), T0)
    assert (result.verdict, result.risk_level, result.review_priority, result.human_review_required) == (
        "APPROVED",
        "LOW",
        "",
        False,
    )
    assert (result.frames_total, result.frames_analyzed, result.completed_at) == (1, 1, T0)
    assert result.frames[0].width == 10 and result.frames[0].height == 20
    assert result.frames[0].scores == {"nsfw": 0.02, "legacy_risk": 0.02, "opennsfw.nsfw": 0.02}
    assert result.legacy is not None and result.legacy.rating_tag == "rating:safe"
    assert result.tags == ("rating:safe",)
    assert result.text is None and result.hash_matches == ()
    assert result.reasons.thresholds.auto_approve_under == 20.0 and result.reasons.config_version == 3
    assert result.reasons.rules == tuple(decision.rules)


async def test_evidence_of_a_flagged_gif() -> None:
    breast = FrameOutput(detections=[detection("FEMALE_BREAST_EXPOSED", 0.9)])
    outcome = await outcome_of(ScriptedAnalyzer(NUDENET, {2: breast}), ScriptedAnalyzer(OPENNSFW), frames=4)
    result, _ = build_result(outcome, policy(), TextInput(), T0)
    assert result.verdict == "FLAGGED" and result.review_priority == "NORMAL"
    assert result.risk_score == 45.0 and result.risk_level == "MEDIUM"  # 90 × weight 50
    assert [f.risk_score for f in result.frames] == [0.0, 0.0, 45.0, 0.0]
    (found,) = result.frames[2].detections
    assert (found.label, found.mapped_label, found.score) == ("FEMALE_BREAST_EXPOSED", "BREAST_EXPOSED", 0.9)
    assert result.legacy is not None and result.legacy.classes.sexy == 0.9  # the worst frame's classes
    assert result.reasons.rules[0].rule == "worst_frame"
    assert result.analyzers[NUDENET].frames_analyzed == 4


async def test_a_failing_analyzer_and_captioning_are_reported_not_hidden() -> None:
    outcome = await outcome_of(ScriptedAnalyzer("pdq", fail=AnalyzerError("bank unreadable")))
    result, _ = build_result(outcome, policy(image_description=True), TextInput(), T0)
    assert result.analyzers["pdq"].error == Failure("INTERNAL", "AnalyzerError: bank unreadable")
    caption = result.analyzers["image_description"]
    assert caption.skipped and caption.error == Failure("UNIMPLEMENTED", NO_CAPTIONING)


async def test_age_child_hash_and_text_signals() -> None:
    age = ScriptedAnalyzer("age", {0: FrameOutput(scores={"faces": 2}, extra={"ages": [15.5, 30.0]})})
    pdq = ScriptedAnalyzer(
        "pdq",
        {
            0: FrameOutput(
                extra={
                    "pdq": "ab" * 32,
                    "matches": [{"bank": "ncmec", "id": "7", "hash": "ab" * 31 + "a8", "distance": 3, "threshold": 31}],
                }
            )
        },
    )
    fields = {"title": {"flagged": True, "probability": 0.9, "matched_terms": ["badword"]}, "tags": {"flagged": False}}
    text = MediaAnalyzer("text", FrameOutput(extra={"fields": fields}))
    words = TextInput(title="badword kid")
    outcome = await outcome_of(age, pdq, text, text=words)
    result, _ = build_result(outcome, policy(), words, T0)
    assert result.age.underage_signal and result.age.faces_checked == 2 and result.age.min_estimated_age_years == 15.5
    assert result.age.child_content_signal and result.age.matched_keywords == ("kid",)
    (match,) = result.hash_matches
    assert (match.list, match.matched_id, match.distance, match.frame_index) == ("ncmec", "7", 3, 0)
    assert (match.hash, match.matched_hash) == ("ab" * 32, "ab" * 31 + "a8")
    assert wire.result_of(wire.result_message(result)).hash_matches == result.hash_matches  # stored, answered
    assert result.pdq_hash == "ab" * 32
    assert result.verdict == "REJECTED"  # the hash match overrides the urgent flag
    assert result.text is not None and result.text.flagged
    assert [(f.field, f.flagged, f.matched_terms) for f in result.text.fields] == [
        ("tags", False, ()),
        ("title", True, ("badword",)),
    ]
    rules = [r.rule for r in result.reasons.rules]
    assert {"underage_signal", "child_content_signal", "hash_bank_match", "text_flagged"} <= set(rules)


async def test_switched_off_signals_do_not_fire() -> None:
    age = ScriptedAnalyzer("age", {0: FrameOutput(scores={"faces": 1}, extra={"ages": [12.0]})})
    words = TextInput(title="kid")
    outcome = await outcome_of(age, text=words)
    result, _ = build_result(outcome, policy(age_estimation=False, child_content_detection=False), words, T0)
    assert not result.age.underage_signal and not result.age.child_content_signal
    assert result.age.min_estimated_age_years == 12.0  # still reported as evidence
    assert result.verdict == "APPROVED"


@pytest.mark.parametrize(
    ("score", "level"), [(0, "LOW"), (24.9, "LOW"), (25, "MEDIUM"), (60, "HIGH"), (90, "CRITICAL")]
)
def test_risk_levels(score: float, level: str) -> None:
    assert risk_level(score) == level


async def test_scans_survive_the_wire_and_the_stored_form_unchanged() -> None:
    breast = FrameOutput(detections=[detection("FEMALE_BREAST_EXPOSED", 0.9)], labels=[("x", 0.5)])
    outcome = await outcome_of(
        ScriptedAnalyzer(NUDENET, {1: breast}), ScriptedAnalyzer("broken", fail=AnalyzerError("no")), frames=3
    )
    result, _ = build_result(outcome, policy(image_description=True), TextInput(), T0)
    scan = Scan(
        scan_id="s1",
        state=ScanState.SUCCEEDED,
        content_type="image/gif",
        size_bytes=12,
        sha256="0" * 64,
        usage_intent="public_site",
        created_at=T0,
        tags=("a", "b"),
        media_type="animated_gif",
        completed_at=T0,
        result=result,
    )
    assert scan_of(scan_message(scan)) == scan
    assert scan_from_json(scan_json(scan), runner="r1") == replace(scan, runner="r1")
    failed = replace(scan, state=ScanState.FAILED, result=None, error=Failure("ABORTED", "gone", "SCAN_INTERRUPTED"))
    assert scan_of(scan_message(failed)) == failed
    message = scan_message(scan)
    assert message.result.legacy.provenance.origin == types.VALUE_ORIGIN_DERIVED
    assert message.result.analyzers[NUDENET].labels[0].origin == types.VALUE_ORIGIN_MEASURED
    assert message.media_type == types.MEDIA_TYPE_ANIMATED_GIF
    # What moderation stores as the statement of reasons: every field, proto names.
    reasons = plain(reasons_message(result.reasons))
    assert set(reasons) == {"automated", "rules", "thresholds", "usage_intent", "model_id", "config_version", "summary"}
