"""Scans and results between the domain's records and ``clearframe.scanner.v1`` messages, both ways.

The api answers with these messages, and the SQL adapter keeps each scan as the proto JSON of its
``Scan`` message (a versioned, documented shape), so both directions must be lossless.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.rpc import error_details_pb2, status_pb2

from clearframe.scanner.v1 import scanner_service_pb2 as pb
from clearframe.scanner.v1 import types_pb2 as types
from clearframe_runtime.errors import DOMAIN
from clearframe_runtime.protoconv import duration, timestamp, to_seconds
from services.scanner.analyzers.base import Box
from services.scanner.domain.decision import Rule
from services.scanner.domain.legacy import NsfwClasses
from services.scanner.domain.model import (
    AgeEvidence,
    AnalyzerEvidence,
    DetectionEvidence,
    Failure,
    FrameEvidence,
    HashMatchEvidence,
    LegacyEvidence,
    Reasons,
    Scan,
    ScanResult,
    ScanState,
    ScoredLabel,
    TextEvidence,
    TextFieldEvidence,
    Thresholds,
)

# --- small values ---------------------------------------------------------------------------------------


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    name: str = enum.Name(value)
    return "" if name.endswith("_UNSPECIFIED") else name.removeprefix(prefix)


def _enum_value(enum: Any, name: str, prefix: str) -> Any:
    return enum.Value(f"{prefix}{name}" if name else f"{prefix}UNSPECIFIED")


def verdict_value(name: str) -> Any:
    return _enum_value(types.Verdict, name, "VERDICT_")


def verdict_name(value: int) -> str:
    return _enum_name(types.Verdict, value, "VERDICT_")


def media_type_value(name: str) -> Any:
    return _enum_value(types.MediaType, name.upper(), "MEDIA_TYPE_")


def status_message(failure: Failure) -> status_pb2.Status:
    status = status_pb2.Status(code=grpc.StatusCode[failure.code].value[0], message=failure.message)
    if failure.reason:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=failure.reason, domain=DOMAIN))
        status.details.append(detail)
    return status


def failure_of(status: status_pb2.Status) -> Failure:
    code = next((c.name for c in grpc.StatusCode if c.value[0] == status.code), "UNKNOWN")
    reason = ""
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            reason = info.reason
    return Failure(code, status.message, reason)


def _labels(labels: tuple[ScoredLabel, ...], origin: Any) -> list[types.ScoredLabel]:
    return [types.ScoredLabel(label=x.label, score=x.score, origin=origin) for x in labels]


def _scored(labels: Any) -> tuple[ScoredLabel, ...]:
    return tuple(ScoredLabel(x.label, x.score) for x in labels)


# --- result → message ----------------------------------------------------------------------------------


def _analyzer_message(entry: types.AnalyzerResult, evidence: AnalyzerEvidence) -> None:
    entry.analyzer = evidence.analyzer
    entry.model_version = evidence.model_version
    entry.frames_analyzed = evidence.frames_analyzed
    entry.skipped = evidence.skipped
    if not evidence.skipped:
        entry.latency.CopyFrom(duration(evidence.latency_s))
    entry.scores.update(dict(evidence.scores))
    entry.labels.extend(_labels(evidence.labels, types.VALUE_ORIGIN_MEASURED))
    if evidence.error is not None:
        entry.error.CopyFrom(status_message(evidence.error))


def _frame_message(frame: FrameEvidence) -> types.FrameEvidence:
    message = types.FrameEvidence(
        index=frame.index, width=frame.width, height=frame.height, risk_score=frame.risk_score
    )
    message.timestamp.CopyFrom(duration(frame.timestamp_s))
    for d in frame.detections:
        message.detections.add(
            label=d.label,
            mapped_label=d.mapped_label,
            score=d.score,
            box=types.BoundingBox(x=d.box.x, y=d.box.y, width=d.box.width, height=d.box.height),
        )
    message.scores.update(dict(frame.scores))
    message.labels.extend(_labels(frame.labels, types.VALUE_ORIGIN_DERIVED))
    return message


def _legacy_message(legacy: LegacyEvidence) -> types.LegacyScores:
    c = legacy.classes
    return types.LegacyScores(
        nsfw_classes=types.LegacyNsfwClasses(
            drawings=c.drawings, hentai=c.hentai, neutral=c.neutral, porn=c.porn, sexy=c.sexy
        ),
        danbooru_tags=_labels(legacy.danbooru_tags, types.VALUE_ORIGIN_DERIVED),
        rating_tag=legacy.rating_tag,
        legacy_risk=legacy.legacy_risk,
        provenance=types.Provenance(
            origin=types.VALUE_ORIGIN_DERIVED, source_analyzers=list(legacy.source_analyzers), method=legacy.method
        ),
    )


def reasons_message(reasons: Reasons) -> types.StatementOfReasons:
    return types.StatementOfReasons(
        automated=reasons.automated,
        usage_intent=reasons.usage_intent,
        model_id=reasons.model_id,
        config_version=reasons.config_version,
        summary=reasons.summary,
        thresholds=types.AppliedThresholds(
            auto_approve_under=reasons.thresholds.auto_approve_under,
            auto_flag_over=reasons.thresholds.auto_flag_over,
            auto_reject_over=reasons.thresholds.auto_reject_over,
        ),
        rules=[
            types.ReasonRule(
                rule=r.rule,
                description=r.description,
                observed=r.observed,
                threshold=r.threshold,
                labels=list(r.labels),
            )
            for r in reasons.rules
        ],
    )


def result_message(result: ScanResult) -> types.ScanResult:
    message = types.ScanResult(
        verdict=verdict_value(result.verdict),
        nudity_score=result.nudity_score,
        risk_score=result.risk_score,
        risk_level=_enum_value(types.RiskLevel, result.risk_level, "RISK_LEVEL_"),
        human_review_required=result.human_review_required,
        review_priority=_enum_value(types.ReviewPriority, result.review_priority, "REVIEW_PRIORITY_"),
        tags=list(result.tags),
        frames_total=result.frames_total,
        frames_analyzed=result.frames_analyzed,
        analysis_version=result.analysis_version,
        complete_time=timestamp(result.completed_at),
        pdq_hash=result.pdq_hash,
        warnings=list(result.warnings),
    )
    for name, evidence in result.analyzers.items():
        _analyzer_message(message.analyzers[name], evidence)
    message.frames.extend(_frame_message(f) for f in result.frames)
    if result.legacy is not None:
        message.legacy.CopyFrom(_legacy_message(result.legacy))
    if result.text is not None:
        message.text.flagged = result.text.flagged
        for f in result.text.fields:
            message.text.fields.add(
                field=f.field, flagged=f.flagged, probability=f.probability, matched_terms=list(f.matched_terms)
            )
    age = result.age
    message.age.CopyFrom(
        types.AgeSignal(
            underage_signal=age.underage_signal,
            faces_checked=age.faces_checked,
            min_estimated_age_years=age.min_estimated_age_years,
            threshold_years=age.threshold_years,
            child_content_signal=age.child_content_signal,
            matched_keywords=list(age.matched_keywords),
        )
    )
    for m in result.hash_matches:
        message.hash_matches.add(
            algorithm=m.algorithm,
            list=m.list,
            matched_id=m.matched_id,
            distance=m.distance,
            threshold=m.threshold,
            frame_index=m.frame_index,
            matched_hash=m.matched_hash,
            hash=m.hash,
        )
    message.reasons.CopyFrom(reasons_message(result.reasons))
    return message


def scan_message(scan: Scan) -> pb.Scan:
    message = pb.Scan(
        scan_id=scan.scan_id,
        asset_id=scan.asset_id,
        state=pb.ScanState.Value(f"SCAN_STATE_{scan.state.value}"),
        media_type=media_type_value(scan.media_type),
        content_type=scan.content_type,
        size_bytes=scan.size_bytes,
        sha256=scan.sha256,
        usage_intent=scan.usage_intent,
        model_id=scan.model_id,
        title=scan.title,
        tags=list(scan.tags),
        description=scan.description,
        creator=scan.creator,
        create_time=timestamp(scan.created_at),
    )
    if scan.completed_at is not None:
        message.complete_time.CopyFrom(timestamp(scan.completed_at))
    if scan.result is not None:
        message.result.CopyFrom(result_message(scan.result))
    if scan.error is not None:
        message.error.CopyFrom(status_message(scan.error))
    return message


# --- message → result ----------------------------------------------------------------------------------


def _analyzer_of(entry: types.AnalyzerResult) -> AnalyzerEvidence:
    return AnalyzerEvidence(
        analyzer=entry.analyzer,
        model_version=entry.model_version,
        frames_analyzed=entry.frames_analyzed,
        latency_s=to_seconds(entry.latency),
        scores=dict(entry.scores),
        labels=_scored(entry.labels),
        error=failure_of(entry.error) if entry.HasField("error") else None,
        skipped=entry.skipped,
    )


def _frame_of(frame: types.FrameEvidence) -> FrameEvidence:
    return FrameEvidence(
        index=frame.index,
        timestamp_s=to_seconds(frame.timestamp),
        width=frame.width,
        height=frame.height,
        risk_score=frame.risk_score,
        detections=tuple(
            DetectionEvidence(d.label, d.mapped_label, d.score, Box(d.box.x, d.box.y, d.box.width, d.box.height))
            for d in frame.detections
        ),
        scores=dict(frame.scores),
        labels=_scored(frame.labels),
    )


def _legacy_of(legacy: types.LegacyScores) -> LegacyEvidence:
    c = legacy.nsfw_classes
    return LegacyEvidence(
        classes=NsfwClasses(drawings=c.drawings, hentai=c.hentai, neutral=c.neutral, porn=c.porn, sexy=c.sexy),
        danbooru_tags=_scored(legacy.danbooru_tags),
        rating_tag=legacy.rating_tag,
        legacy_risk=legacy.legacy_risk,
        source_analyzers=tuple(legacy.provenance.source_analyzers),
        method=legacy.provenance.method,
    )


def reasons_of(reasons: types.StatementOfReasons) -> Reasons:
    t = reasons.thresholds
    return Reasons(
        automated=reasons.automated,
        rules=tuple(Rule(r.rule, r.description, r.observed, r.threshold, tuple(r.labels)) for r in reasons.rules),
        thresholds=Thresholds(t.auto_approve_under, t.auto_flag_over, t.auto_reject_over),
        usage_intent=reasons.usage_intent,
        model_id=reasons.model_id,
        config_version=reasons.config_version,
        summary=reasons.summary,
    )


def result_of(message: types.ScanResult) -> ScanResult:
    age = message.age
    return ScanResult(
        verdict=verdict_name(message.verdict),
        nudity_score=message.nudity_score,
        risk_score=message.risk_score,
        risk_level=_enum_name(types.RiskLevel, message.risk_level, "RISK_LEVEL_"),
        human_review_required=message.human_review_required,
        review_priority=_enum_name(types.ReviewPriority, message.review_priority, "REVIEW_PRIORITY_"),
        analyzers={name: _analyzer_of(entry) for name, entry in message.analyzers.items()},
        frames=tuple(_frame_of(f) for f in message.frames),
        legacy=_legacy_of(message.legacy) if message.HasField("legacy") else None,
        text=TextEvidence(
            fields=tuple(
                TextFieldEvidence(f.field, f.flagged, f.probability, tuple(f.matched_terms))
                for f in message.text.fields
            ),
            flagged=message.text.flagged,
        )
        if message.HasField("text")
        else None,
        age=AgeEvidence(
            underage_signal=age.underage_signal,
            faces_checked=age.faces_checked,
            min_estimated_age_years=age.min_estimated_age_years,
            threshold_years=age.threshold_years,
            child_content_signal=age.child_content_signal,
            matched_keywords=tuple(age.matched_keywords),
        ),
        hash_matches=tuple(
            HashMatchEvidence(
                m.algorithm, m.list, m.matched_id, m.distance, m.threshold, m.frame_index, m.matched_hash, m.hash
            )
            for m in message.hash_matches
        ),
        reasons=reasons_of(message.reasons),
        tags=tuple(message.tags),
        frames_total=message.frames_total,
        frames_analyzed=message.frames_analyzed,
        pdq_hash=message.pdq_hash,
        analysis_version=message.analysis_version,
        completed_at=message.complete_time.ToDatetime(tzinfo=UTC),
        warnings=tuple(message.warnings),
    )


def scan_of(message: pb.Scan, runner: str = "") -> Scan:
    return Scan(
        scan_id=message.scan_id,
        state=ScanState(_enum_name(pb.ScanState, message.state, "SCAN_STATE_") or "RUNNING"),
        content_type=message.content_type,
        size_bytes=message.size_bytes,
        sha256=message.sha256,
        usage_intent=message.usage_intent,
        created_at=message.create_time.ToDatetime(tzinfo=UTC),
        asset_id=message.asset_id,
        model_id=message.model_id,
        title=message.title,
        tags=tuple(message.tags),
        description=message.description,
        creator=message.creator,
        media_type=_enum_name(types.MediaType, message.media_type, "MEDIA_TYPE_").lower(),
        completed_at=message.complete_time.ToDatetime(tzinfo=UTC) if message.HasField("complete_time") else None,
        result=result_of(message.result) if message.HasField("result") else None,
        error=failure_of(message.error) if message.HasField("error") else None,
        runner=runner,
    )


def scan_json(scan: Scan) -> str:
    """The stored form of a scan: its Scan message as proto JSON."""
    document: str = json_format.MessageToJson(scan_message(scan), indent=None)
    return document


def scan_from_json(document: str, runner: str = "") -> Scan:
    return scan_of(json_format.Parse(document, pb.Scan()), runner)


def plain(message: Any) -> dict[str, Any]:
    """A message as a JSON-ready dict with proto field names and every field (moderation stores these)."""
    value: dict[str, Any] = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return value
