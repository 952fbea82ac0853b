"""The decision engine: MuseNest's rules in MuseNest's order, each threshold boundary, the signals that
override the score, and the worst frame of a GIF/video."""

from __future__ import annotations

import pytest

from clearframe_runtime.vocabulary import map_label
from services.scanner.analyzers.base import Detection
from services.scanner.domain.decision import (
    APPROVED,
    FLAGGED,
    REJECTED,
    child_keyword_hits,
    decide,
    decide_frame,
    nudity_score,
)
from services.scanner.tests.fakes import detection, policy


def genitalia(score: float) -> list[Detection]:
    """One detection whose nudity score is exactly ``score`` (weight 100: 0–1 confidence → 0–100)."""
    return [detection("FEMALE_GENITALIA_EXPOSED", score / 100)]


@pytest.mark.parametrize(
    ("score", "verdict", "rule"),
    [
        (0.0, APPROVED, "nudity_score_at_most_auto_approve_under"),
        (20.0, APPROVED, "nudity_score_at_most_auto_approve_under"),  # ≤ approve: the boundary approves
        (20.5, FLAGGED, "nudity_score_between_thresholds"),
        (49.5, FLAGGED, "nudity_score_between_thresholds"),
        (50.0, FLAGGED, "nudity_score_at_least_auto_flag_over"),  # ≥ flag: the boundary flags
        (79.5, FLAGGED, "nudity_score_at_least_auto_flag_over"),
        (80.0, REJECTED, "nudity_score_at_least_auto_reject_over"),  # ≥ reject: the boundary rejects
        (100.0, REJECTED, "nudity_score_at_least_auto_reject_over"),
    ],
)
def test_each_threshold_boundary(score: float, verdict: str, rule: str) -> None:
    frame = decide_frame(0, genitalia(score), policy(), underage=False, child=False)
    assert (frame.verdict, frame.rules[0].rule) == (verdict, rule)
    assert frame.risk_score == pytest.approx(score)


@pytest.mark.parametrize(
    ("score", "verdict"),
    [
        # MuseNest's own test script: approve 99 above flag 98 (reject 100). Its order decides:
        (98.5, APPROVED),  # ≤ approve is asked first, so 98.5 approves although it is ≥ flag
        (99.0, APPROVED),
        (99.5, FLAGGED),  # not ≤ approve, not ≥ reject, ≥ flag
        (100.0, REJECTED),
    ],
)
def test_out_of_order_thresholds_follow_musenests_order(score: float, verdict: str) -> None:
    out_of_order = policy(auto_approve_under=99.0, auto_flag_over=98.0, auto_reject_over=100.0)
    assert decide_frame(0, genitalia(score), out_of_order, underage=False, child=False).verdict == verdict


def test_reject_below_approve_approves_first() -> None:
    # approve 60 > reject 40: "≤ approve" comes first, so 50 approves; 70 rejects; never undefined.
    inverted = policy(auto_approve_under=60.0, auto_flag_over=50.0, auto_reject_over=40.0)
    assert decide_frame(0, genitalia(50), inverted, underage=False, child=False).verdict == APPROVED
    assert decide_frame(0, genitalia(70), inverted, underage=False, child=False).verdict == REJECTED


def test_flag_above_reject_never_flags_by_score() -> None:
    flag_high = policy(auto_approve_under=10.0, auto_flag_over=90.0, auto_reject_over=50.0)
    frame = decide_frame(0, genitalia(30), flag_high, underage=False, child=False)
    assert (frame.verdict, frame.rules[0].rule) == (FLAGGED, "nudity_score_between_thresholds")
    assert decide_frame(0, genitalia(60), flag_high, underage=False, child=False).verdict == REJECTED


def test_label_mapping_and_weights() -> None:
    assert map_label("MALE_GENITALIA_EXPOSED") == map_label("FEMALE_GENITALIA_EXPOSED") == "GENITALIA"
    assert map_label("FEMALE_BREAST_EXPOSED") == "BREAST_EXPOSED"
    assert map_label("FACE_MALE") == "FACE_DETECTED"
    assert map_label("BELLY_EXPOSED") == "BELLY_EXPOSED"
    score, labels = nudity_score(
        [detection("FEMALE_BREAST_EXPOSED", 0.8), detection("BUTTOCKS_EXPOSED", 0.5), detection("FACE_FEMALE", 0.9)],
        policy(),
    )
    assert score == pytest.approx(80 * 0.5 + 50 * 0.4)  # the face weighs 0
    assert labels == ["FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED"]


def test_a_disabled_component_does_not_count() -> None:
    components = dict(policy().components, genitalia_detection=False)
    frame = decide_frame(0, genitalia(95), policy(components=components), underage=False, child=False)
    assert (frame.verdict, frame.nudity_score) == (APPROVED, 0.0)


def test_multipliers_raise_the_score_and_cap_it_at_100() -> None:
    base = decide_frame(0, genitalia(30), policy(), underage=True, child=False)
    assert (base.nudity_score, base.risk_score) == (30.0, 60.0)  # × underage 2
    both = decide_frame(0, genitalia(30), policy(), underage=True, child=True)
    assert both.risk_score == 100.0  # 30 × 2 × 3 = 180, capped


def test_age_or_child_signal_flags_urgently_whatever_the_score() -> None:
    low = decide([(0, genitalia(5))], policy(), underage=True, child=False, min_age=12.0)
    assert (low.verdict, low.urgent, low.human_review_required) == (FLAGGED, True, True)
    assert any(r.rule == "underage_signal" and r.observed == 12.0 and r.threshold == 18 for r in low.rules)
    high = decide([(0, genitalia(90))], policy(), underage=False, child=True, child_terms=["kid"])
    assert (high.verdict, high.urgent) == (FLAGGED, True)  # a weak signal never auto-rejects
    assert any(r.rule == "child_content_signal" and r.labels == ("kid",) for r in high.rules)


def test_a_hash_match_rejects_and_flagged_text_flags() -> None:
    matched = decide([(0, [])], policy(), underage=False, child=False, hash_matches=["bank:42"])
    assert matched.verdict == REJECTED and "bank:42" in matched.summary
    text = decide([(0, [])], policy(), underage=False, child=False, text_flagged_fields=["title"])
    assert (text.verdict, text.rules[-1].rule, text.rules[-1].labels) == (FLAGGED, "text_flagged", ("title",))
    rejected = decide([(0, genitalia(90))], policy(), underage=False, child=False, text_flagged_fields=["title"])
    assert rejected.verdict == REJECTED  # text flags at least; it never lowers a rejection


def test_the_worst_frame_decides_a_media_and_is_named() -> None:
    media = decide([(0, genitalia(5)), (7, genitalia(60)), (9, genitalia(30))], policy(), underage=False, child=False)
    assert (media.verdict, media.worst_frame, media.risk_score) == (FLAGGED, 7, 60.0)
    assert media.rules[0].rule == "worst_frame" and "frame 7" in media.rules[0].description
    assert media.nudity_score == 60.0
    assert [f.verdict for f in media.frames] == [APPROVED, FLAGGED, FLAGGED]
    assert media.summary.startswith("flagged: ")


def test_no_frames_is_decided_as_an_empty_frame() -> None:
    empty = decide([], policy(), underage=False, child=False)
    assert (empty.verdict, empty.risk_score, empty.human_review_required) == (APPROVED, 0.0, False)


def test_child_keywords_match_whole_words_case_insensitively() -> None:
    assert child_keyword_hits("A KID's drawing; kidney beans", ["kid", "kidney", "child"]) == ["kidney"]
    assert child_keyword_hits("the Kid plays", ["kid"]) == ["kid"]
