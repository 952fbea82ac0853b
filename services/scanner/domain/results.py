"""From the pipeline's outcome and the policy to the full ScanResult: evidence per analyzer and frame, the
derived seed-000 values, the decision and its statement of reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clearframe_runtime.vocabulary import map_label
from services.scanner.analyzers.base import TextInput
from services.scanner.domain import decision as decisions
from services.scanner.domain.model import (
    ANALYSIS_VERSION,
    AgeEvidence,
    AnalyzerEvidence,
    DetectionEvidence,
    Failure,
    FrameEvidence,
    HashMatchEvidence,
    LegacyEvidence,
    Reasons,
    ScanResult,
    ScoredLabel,
    TextEvidence,
    TextFieldEvidence,
    Thresholds,
)
from services.scanner.domain.pipeline import NUDENET, ScanOutcome

NO_CAPTIONING = (
    "image_description is enabled in the configuration but no captioning model is available offline; it did not run"
)


def _ns(seconds: float) -> float:
    """Durations to the nanosecond, the resolution they are reported and stored with."""
    return round(seconds * 1e9) / 1e9


def risk_level(score: float) -> str:
    if score >= 90:
        return "CRITICAL"
    if score >= 60:
        return "HIGH"
    if score >= 25:
        return "MEDIUM"
    return "LOW"


@dataclass(frozen=True)
class Signals:
    """Age, child-content, hash and text signals gathered from the analyzers' outputs."""

    min_age: float | None
    faces: int
    underage: bool
    child_terms: list[str]
    matches: list[dict[str, Any]]
    text_fields: dict[str, dict[str, Any]]


def signals(outcome: ScanOutcome, policy: decisions.Policy, text: TextInput) -> Signals:
    ages = [age for f in outcome.frames if (o := f.outputs.get("age")) for age in o.extra.get("ages", [])]
    faces = sum(int(o.scores.get("faces", 0)) for f in outcome.frames if (o := f.outputs.get("age")))
    min_age = min(ages) if ages else None
    underage = bool(policy.age_estimation and min_age is not None and min_age < policy.age_threshold)
    all_text = " ".join(text.fields().values())
    # No captioning model ships offline, so child-content keywords are looked for in the upload's own text.
    child_terms = (
        decisions.child_keyword_hits(all_text, policy.child_keywords) if policy.child_content_detection else []
    )
    matches = []
    for report in outcome.frames:
        pdq = report.outputs.get("pdq")
        if pdq is None:
            continue
        for match in pdq.extra.get("matches", []):
            matches.append({**match, "frame_index": report.frame.index, "frame_hash": pdq.extra.get("pdq", "")})
    text_run = outcome.analyzers.get("text")
    text_fields = text_run.media_output.extra.get("fields", {}) if text_run and text_run.media_output else {}
    return Signals(min_age, faces, underage, child_terms, matches, dict(text_fields))


def _analyzers(outcome: ScanOutcome, policy: decisions.Policy) -> dict[str, AnalyzerEvidence]:
    evidence = {
        name: AnalyzerEvidence(
            analyzer=name,
            model_version=run.version,
            frames_analyzed=run.frames_analyzed,
            latency_s=_ns(run.latency_s),
            scores={k: float(v) for k, v in run.scores.items()},
            labels=tuple(ScoredLabel(k, v) for k, v in sorted(run.labels.items(), key=lambda kv: -kv[1])),
            error=Failure("INTERNAL", run.error) if run.error else None,
        )
        for name, run in outcome.analyzers.items()
    }
    if policy.image_description or policy.description_analysis:
        # No captioning model ships offline: say so instead of ignoring the setting.
        evidence["image_description"] = AnalyzerEvidence(
            analyzer="image_description", skipped=True, error=Failure("UNIMPLEMENTED", NO_CAPTIONING)
        )
    return evidence


def _frames(outcome: ScanOutcome, decision: decisions.Decision) -> tuple[FrameEvidence, ...]:
    risk = {f.index: f.risk_score for f in decision.frames}
    frames = []
    for report in outcome.frames:
        scores = {"nsfw": report.unsafe, "legacy_risk": report.risk}
        for name, output in report.outputs.items():
            if name != NUDENET:
                scores.update({f"{name}.{k}": float(v) for k, v in output.scores.items()})
        frames.append(
            FrameEvidence(
                index=report.frame.index,
                timestamp_s=_ns(report.frame.timestamp_s),
                width=report.frame.image.width,
                height=report.frame.image.height,
                risk_score=risk.get(report.frame.index, 0.0),
                detections=tuple(
                    DetectionEvidence(d.label, map_label(d.label), d.score, d.box) for d in report.detections
                ),
                scores=scores,
                labels=tuple(ScoredLabel(t, s) for t, s in report.tags),
            )
        )
    return tuple(frames)


def _legacy(outcome: ScanOutcome) -> LegacyEvidence | None:
    worst = max(outcome.frames, key=lambda r: r.risk, default=None)
    if worst is None:
        return None
    return LegacyEvidence(
        classes=worst.classes,
        danbooru_tags=tuple(ScoredLabel(t, s) for t, s in worst.tags),
        rating_tag=worst.rating,
        legacy_risk=outcome.max_risk,
    )


def _text(fields: dict[str, dict[str, Any]], flagged: list[str]) -> TextEvidence | None:
    if not fields:
        return None
    return TextEvidence(
        fields=tuple(
            TextFieldEvidence(
                field=name,
                flagged=bool(info.get("flagged")),
                probability=float(info.get("probability", 0.0)),
                matched_terms=tuple(info.get("matched_terms", [])),
            )
            for name, info in sorted(fields.items())
        ),
        flagged=bool(flagged),
    )


def build_result(
    outcome: ScanOutcome, policy: decisions.Policy, text: TextInput, completed_at: datetime
) -> tuple[ScanResult, decisions.Decision]:
    """The full result of a scan and the decision behind its verdict."""
    found = signals(outcome, policy, text)
    flagged_fields = sorted(k for k, v in found.text_fields.items() if v.get("flagged"))
    decision = decisions.decide(
        [(f.frame.index, f.detections) for f in outcome.frames],
        policy,
        underage=found.underage,
        child=bool(found.child_terms),
        child_terms=found.child_terms,
        min_age=found.min_age,
        hash_matches=[f"{m.get('bank')}:{m.get('id', '')}" for m in found.matches],
        text_flagged_fields=flagged_fields,
    )
    first_pdq = outcome.frames[0].outputs.get("pdq") if outcome.frames else None
    result = ScanResult(
        verdict=decision.verdict,
        nudity_score=decision.nudity_score,
        risk_score=decision.risk_score,
        risk_level=risk_level(decision.risk_score),
        human_review_required=decision.human_review_required,
        review_priority=("URGENT" if decision.urgent else "NORMAL") if decision.human_review_required else "",
        analyzers=_analyzers(outcome, policy),
        frames=_frames(outcome, decision),
        legacy=_legacy(outcome),
        text=_text(found.text_fields, flagged_fields),
        age=AgeEvidence(
            underage_signal=found.underage,
            faces_checked=found.faces,
            min_estimated_age_years=found.min_age or 0.0,
            threshold_years=policy.age_threshold,
            child_content_signal=bool(found.child_terms),
            matched_keywords=tuple(found.child_terms),
        ),
        hash_matches=tuple(
            HashMatchEvidence(
                algorithm="pdq",
                list=str(m.get("bank", "")),
                matched_id=str(m.get("id", "")),
                distance=int(m.get("distance", 0)),
                threshold=int(m.get("threshold", 0)),
                frame_index=int(m.get("frame_index", 0)),
                matched_hash=str(m.get("hash", "")),
                hash=str(m.get("frame_hash", "")),
            )
            for m in found.matches
        ),
        reasons=Reasons(
            automated=True,
            rules=tuple(decision.rules),
            thresholds=Thresholds(policy.auto_approve_under, policy.auto_flag_over, policy.auto_reject_over),
            usage_intent=policy.usage_intent,
            model_id=policy.model_id,
            config_version=policy.version,
            summary=decision.summary,
        ),
        tags=tuple(outcome.tags()),
        frames_total=outcome.frames_total,
        frames_analyzed=len(outcome.frames),
        pdq_hash=str(first_pdq.extra.get("pdq", "")) if first_pdq else "",
        analysis_version=ANALYSIS_VERSION,
        completed_at=completed_at,
        warnings=policy.config_warnings,
    )
    return result, decision
