"""From evidence to a verdict, as MuseNest computes it today (docs/legacy/musenest.md), with a statement of reasons.

Per frame: NudeNet labels are mapped (``*_GENITALIA_EXPOSED`` → GENITALIA, ``*_BREAST_EXPOSED`` →
BREAST_EXPOSED, FACE_FEMALE/FACE_MALE → FACE_DETECTED, others keep their name); the nudity score is
Σ confidence(0–100) × weight ÷ 100 over detections whose component is enabled; it is multiplied by
``underage_detected`` when the age signal fired and by ``child_content_blip`` when the child-content
signal fired, and capped at 100. MuseNest's rules, in its order: score ≤ auto_approve_under →
APPROVED; else ≥ auto_reject_over → REJECTED; else ≥ auto_flag_over → FLAGGED; otherwise FLAGGED. The
order keeps the verdict defined when the thresholds are out of order (the config service stores them
with a warning): approve 99 > flag 98 approves a score of 98.5. Then, each overriding the ones before:

* any age or child signal → FLAGGED, urgent review, whatever the score (a weak signal never
  auto-approves and never auto-rejects);
* a hash-bank match → REJECTED (known-bad media needs no second look);
* flagged text (title, tags, description) → at least FLAGGED.

GIF/video: every frame is decided; the media's verdict is the worst frame's, and that frame is named.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from clearframe_runtime.vocabulary import COMPONENT_OF, map_label
from services.scanner.analyzers.base import Detection

APPROVED, FLAGGED, REJECTED = "APPROVED", "FLAGGED", "REJECTED"
_SEVERITY = {APPROVED: 0, FLAGGED: 1, REJECTED: 2}


@dataclass(frozen=True)
class Policy:
    """The resolved analysis configuration of an upload's usage intent and model."""

    usage_intent: str
    model_id: str
    version: int
    source: str
    components: dict[str, bool]
    weights: dict[str, float]
    auto_approve_under: float
    auto_flag_over: float
    auto_reject_over: float
    underage_multiplier: float
    child_multiplier: float
    age_estimation: bool
    child_content_detection: bool
    image_description: bool
    child_keywords: tuple[str, ...]
    age_threshold: int
    description_analysis: bool
    webhook_delivery: bool
    #: The config service's warnings about this configuration, repeated in every scan's result.
    config_warnings: tuple[str, ...] = ()

    def weight(self, label: str) -> float:
        mapped = map_label(label)
        component = COMPONENT_OF.get(mapped)
        if component is not None and not self.components.get(component, True):
            return 0.0
        return self.weights.get(mapped, self.weights.get(label, 0.0))


@dataclass(frozen=True)
class Rule:
    rule: str
    description: str
    observed: float = 0.0
    threshold: float = 0.0
    labels: tuple[str, ...] = ()


@dataclass
class FrameDecision:
    index: int
    verdict: str
    #: After multipliers, capped at 100 (what the thresholds compare).
    risk_score: float
    #: Before multipliers.
    nudity_score: float
    rules: list[Rule] = field(default_factory=list)


@dataclass
class Decision:
    verdict: str
    #: Max over frames, before multipliers.
    nudity_score: float
    #: The deciding frame's score after multipliers.
    risk_score: float
    human_review_required: bool
    urgent: bool
    rules: list[Rule]
    worst_frame: int
    frames: list[FrameDecision]
    summary: str


def nudity_score(detections: Sequence[Detection], policy: Policy) -> tuple[float, list[str]]:
    score, contributing = 0.0, []
    for detection in detections:
        weight = policy.weight(detection.label)
        if weight > 0:
            score += detection.score * 100.0 * weight / 100.0
            contributing.append(detection.label)
    return score, contributing


def decide_frame(
    index: int, detections: Sequence[Detection], policy: Policy, *, underage: bool, child: bool
) -> FrameDecision:
    raw, labels = nudity_score(detections, policy)
    score = raw
    rules: list[Rule] = []
    if underage:
        score *= policy.underage_multiplier
    if child:
        score *= policy.child_multiplier
    score = min(score, 100.0)
    if score <= policy.auto_approve_under:
        verdict = APPROVED
        rules.append(
            Rule(
                "nudity_score_at_most_auto_approve_under",
                "nudity score within the approval threshold",
                score,
                policy.auto_approve_under,
                tuple(labels),
            )
        )
    elif score >= policy.auto_reject_over:
        verdict = REJECTED
        rules.append(
            Rule(
                "nudity_score_at_least_auto_reject_over",
                "nudity score reaches the rejection threshold",
                score,
                policy.auto_reject_over,
                tuple(labels),
            )
        )
    elif score >= policy.auto_flag_over:
        verdict = FLAGGED
        rules.append(
            Rule(
                "nudity_score_at_least_auto_flag_over",
                "nudity score reaches the flag threshold: human review",
                score,
                policy.auto_flag_over,
                tuple(labels),
            )
        )
    else:
        verdict = FLAGGED
        rules.append(
            Rule(
                "nudity_score_between_thresholds",
                "nudity score needs human review",
                score,
                policy.auto_flag_over,
                tuple(labels),
            )
        )
    return FrameDecision(
        index=index, verdict=verdict, risk_score=round(score, 3), nudity_score=round(raw, 3), rules=rules
    )


def decide(
    frames: Sequence[tuple[int, Sequence[Detection]]],
    policy: Policy,
    *,
    underage: bool,
    child: bool,
    child_terms: Sequence[str] = (),
    min_age: float | None = None,
    hash_matches: Sequence[str] = (),
    text_flagged_fields: Sequence[str] = (),
) -> Decision:
    """The verdict of a scan: the worst frame's, then the overriding signals."""
    decided = [decide_frame(i, d, policy, underage=underage, child=child) for i, d in frames] or [
        decide_frame(0, (), policy, underage=underage, child=child)
    ]
    worst = max(decided, key=lambda f: (_SEVERITY[f.verdict], f.risk_score))
    verdict, rules, urgent = worst.verdict, list(worst.rules), False
    if len(decided) > 1:
        rules.insert(0, Rule("worst_frame", f"frame {worst.index} decides the media", worst.risk_score))
    if underage or child:
        verdict, urgent = FLAGGED, True
        if underage:
            rules.append(
                Rule(
                    "underage_signal",
                    "estimated age below the threshold: human review required",
                    min_age or 0.0,
                    policy.age_threshold,
                )
            )
        if child:
            rules.append(
                Rule("child_content_signal", "child-content keywords: human review required", labels=tuple(child_terms))
            )
    if hash_matches:
        verdict = REJECTED
        rules.append(Rule("hash_bank_match", "matches known-bad media: " + ", ".join(hash_matches)))
    if text_flagged_fields and verdict == APPROVED:
        verdict = FLAGGED
    if text_flagged_fields:
        rules.append(
            Rule("text_flagged", "title/tags/description flagged by text moderation", labels=tuple(text_flagged_fields))
        )
    summary = f"{verdict.lower()}: " + "; ".join(r.description for r in rules)
    return Decision(
        verdict=verdict,
        nudity_score=max(f.nudity_score for f in decided),
        risk_score=worst.risk_score,
        human_review_required=verdict == FLAGGED,
        urgent=urgent,
        rules=rules,
        worst_frame=worst.index,
        frames=decided,
        summary=summary,
    )


def child_keyword_hits(text: str, keywords: Sequence[str]) -> list[str]:
    """Keywords found as whole words (case-insensitive) in the upload's text."""
    words = set(re.findall(r"[\w']+", text.lower()))
    return sorted({k for k in keywords if k.lower() in words})
