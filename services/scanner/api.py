"""gRPC face of the scanner: /v1 scans and the seed-000 routes (/check, /batch, /stats)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import structlog
from google.api import httpbody_pb2
from google.protobuf import duration_pb2, json_format, timestamp_pb2
from google.rpc import status_pb2

from clearframe.scanner.v1 import scanner_service_pb2 as pb
from clearframe.scanner.v1 import scanner_service_pb2_grpc as pb_grpc
from clearframe.scanner.v1 import types_pb2 as types
from clearframe_runtime.errors import AlreadyExists, DomainError, InvalidArgument, NotFound
from clearframe_runtime.pagination import decode_page_token, encode_page_token, page_size
from clearframe_runtime.principal import TRUSTED_HEADERS, Principal, PrincipalCodec
from clearframe_runtime.status import status_code
from services.scanner import decision as decisions
from services.scanner import media
from services.scanner.analyzers.base import AnalysisContext, Frame, TextInput
from services.scanner.pipeline import NUDENET, ScanOutcome, ScanPipeline
from services.scanner.ports import ScanRecord, ScanStore
from services.scanner.settings import ScannerSettings

log = structlog.get_logger(__name__)

ANALYSIS_VERSION = "clearframe-scanner/1.0"
USAGE_INTENTS = ("public_site", "paysite", "store", "private")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ASSET_RE = re.compile(r"^[0-9a-f]{16}$")
#: Seed-000 core modules, in the order /check answers them; every other analyzer follows as its own key.
LEGACY_CORE = ("nsfw_scanner", "tagging", "deepdanbooru_tags", "statistics", "image_storage")
#: What seed 000's /batch needs: the five NSFW classes and the tags (see legacy.py).
LEGACY_BATCH_ANALYZERS = frozenset({NUDENET, "opennsfw"})
VERDICTS = {
    decisions.APPROVED: types.VERDICT_APPROVED,
    decisions.FLAGGED: types.VERDICT_FLAGGED,
    decisions.REJECTED: types.VERDICT_REJECTED,
}
MEDIA_TYPES = {
    "image": types.MEDIA_TYPE_IMAGE,
    "animated_gif": types.MEDIA_TYPE_ANIMATED_GIF,
    "video": types.MEDIA_TYPE_VIDEO,
}


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def _risk_level(score: float) -> Any:
    if score >= 90:
        return types.RISK_LEVEL_CRITICAL
    if score >= 60:
        return types.RISK_LEVEL_HIGH
    if score >= 25:
        return types.RISK_LEVEL_MEDIUM
    return types.RISK_LEVEL_LOW


def _forwarded(context: grpc.aio.ServicerContext) -> tuple[tuple[str, str], ...]:
    """The signed principal, passed on to the frames and config services on the caller's behalf."""
    return tuple(
        (k, v) for k, v in (context.invocation_metadata() or ()) if k in TRUSTED_HEADERS and isinstance(v, str)
    )


class Scanner:
    """Use cases shared by the /v1 and the legacy routes."""

    def __init__(self, settings: ScannerSettings, pipeline: ScanPipeline, store: ScanStore, policies: Any):
        self.settings = settings
        self.pipeline = pipeline
        self.store = store
        self.policies = policies
        #: Called with every completed scan and the policy that decided it (moderation records the
        #: decision, opens review cases, delivers webhooks). A failing listener is logged, not fatal.
        self.listeners: list[Callable[[pb.Scan, decisions.Policy], Awaitable[None]]] = []

    async def analyze(
        self,
        data: bytes,
        content_type: str,
        text: TextInput,
        *,
        usage_intent: str,
        model_id: str,
        metadata: tuple[tuple[str, str], ...],
        gif_step: int | None = None,
        video_step: int | None = None,
    ) -> tuple[ScanOutcome, str]:
        """Run the pipeline over an image or a GIF/video; returns the outcome and the media type."""
        context = AnalysisContext(
            text=text, usage_intent=usage_intent, model_id=model_id, timeout_s=self.settings.scanner_timeout_s
        )
        if media.is_animated_or_video(data, content_type):
            outcome = await self.pipeline.scan_media(
                data,
                content_type,
                context,
                gif_step=gif_step or self.settings.scanner_gif_step,
                video_step=video_step or self.settings.scanner_video_step,
                max_frames=self.settings.scanner_max_frames,
                metadata=metadata,
            )
            kind = outcome.facts.kind if outcome.facts else "video"
            return outcome, kind if kind in MEDIA_TYPES else "video"
        image = media.decode_image(data, max_pixels=self.settings.scanner_max_pixels)
        return await self.pipeline.scan_image(Frame(image=image), context), "image"


def _signals(outcome: ScanOutcome, policy: decisions.Policy, text: TextInput) -> dict[str, Any]:
    """Age, child-content, hash and text signals gathered from the analyzers' outputs."""
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
        for match in pdq.extra.get("matches", []) if pdq else []:
            matches.append({**match, "frame_index": report.frame.index})
    text_run = outcome.analyzers.get("text")
    text_fields = text_run.media_output.extra.get("fields", {}) if text_run and text_run.media_output else {}
    return {
        "min_age": min_age,
        "faces": faces,
        "underage": underage,
        "child_terms": child_terms,
        "matches": matches,
        "text_fields": text_fields,
    }


def build_result(outcome: ScanOutcome, policy: decisions.Policy, text: TextInput) -> tuple[types.ScanResult, Any]:
    """The full ScanResult: evidence per analyzer and frame, derived legacy values, decision, reasons."""
    signals = _signals(outcome, policy, text)
    flagged_fields = sorted(k for k, v in signals["text_fields"].items() if v.get("flagged"))
    decision = decisions.decide(
        [(f.frame.index, f.detections) for f in outcome.frames],
        policy,
        underage=signals["underage"],
        child=bool(signals["child_terms"]),
        child_terms=signals["child_terms"],
        min_age=signals["min_age"],
        hash_matches=[f"{m.get('bank')}:{m.get('id', '')}" for m in signals["matches"]],
        text_flagged_fields=flagged_fields,
    )
    result = types.ScanResult(
        verdict=VERDICTS[decision.verdict],
        nudity_score=decision.nudity_score,
        risk_score=decision.risk_score,
        risk_level=_risk_level(decision.risk_score),
        human_review_required=decision.human_review_required,
        review_priority=(types.REVIEW_PRIORITY_URGENT if decision.urgent else types.REVIEW_PRIORITY_NORMAL)
        if decision.human_review_required
        else types.REVIEW_PRIORITY_UNSPECIFIED,
        tags=outcome.tags(),
        frames_total=outcome.frames_total,
        frames_analyzed=len(outcome.frames),
        analysis_version=ANALYSIS_VERSION,
        complete_time=_ts(_now()),
    )
    for name, run in outcome.analyzers.items():
        entry = result.analyzers[name]
        entry.analyzer = name
        entry.model_version = run.version
        entry.frames_analyzed = run.frames_analyzed
        entry.latency.CopyFrom(_duration(run.latency_s))
        entry.scores.update({k: float(v) for k, v in run.scores.items()})
        entry.labels.extend(
            types.ScoredLabel(label=k, score=v, origin=types.VALUE_ORIGIN_MEASURED)
            for k, v in sorted(run.labels.items(), key=lambda kv: -kv[1])
        )
        if run.error:
            entry.error.CopyFrom(status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message=run.error))
    if policy.image_description or policy.description_analysis:
        # No captioning model ships offline: say so instead of ignoring the setting.
        entry = result.analyzers["image_description"]
        entry.analyzer, entry.skipped = "image_description", True
        entry.error.CopyFrom(
            status_pb2.Status(
                code=grpc.StatusCode.UNIMPLEMENTED.value[0],
                message="image_description is enabled in the configuration but no captioning model is available "
                "offline; it did not run",
            )
        )
    frame_decisions = {f.index: f for f in decision.frames}
    for report in outcome.frames:
        evidence = result.frames.add(
            index=report.frame.index,
            width=report.frame.image.width,
            height=report.frame.image.height,
            risk_score=frame_decisions[report.frame.index].risk_score if report.frame.index in frame_decisions else 0.0,
        )
        evidence.timestamp.CopyFrom(_duration(report.frame.timestamp_s))
        for d in report.detections:
            evidence.detections.add(
                label=d.label,
                mapped_label=decisions.map_label(d.label),
                score=d.score,
                box=types.BoundingBox(x=d.box.x, y=d.box.y, width=d.box.width, height=d.box.height),
            )
        evidence.scores.update({"nsfw": report.unsafe, "legacy_risk": report.risk})
        for name, output in report.outputs.items():
            if name != NUDENET:
                evidence.scores.update({f"{name}.{k}": float(v) for k, v in output.scores.items()})
        evidence.labels.extend(
            types.ScoredLabel(label=t, score=s, origin=types.VALUE_ORIGIN_DERIVED) for t, s in report.tags
        )
    worst = max(outcome.frames, key=lambda r: r.risk, default=None)
    if worst is not None:
        classes = worst.classes
        result.legacy.CopyFrom(
            types.LegacyScores(
                nsfw_classes=types.LegacyNsfwClasses(**classes.as_dict()),
                danbooru_tags=[
                    types.ScoredLabel(label=t, score=s, origin=types.VALUE_ORIGIN_DERIVED) for t, s in worst.tags
                ],
                rating_tag=worst.rating,
                legacy_risk=outcome.max_risk,
                provenance=types.Provenance(
                    origin=types.VALUE_ORIGIN_DERIVED,
                    source_analyzers=["opennsfw", "nudenet"],
                    method="README: How /check is derived",
                ),
            )
        )
    if signals["text_fields"]:
        result.text.flagged = bool(flagged_fields)
        for field_name, info in sorted(signals["text_fields"].items()):
            result.text.fields.add(
                field=field_name,
                flagged=bool(info.get("flagged")),
                probability=float(info.get("probability", 0.0)),
                matched_terms=list(info.get("matched_terms", [])),
            )
    result.age.CopyFrom(
        types.AgeSignal(
            underage_signal=signals["underage"],
            faces_checked=signals["faces"],
            min_estimated_age_years=signals["min_age"] or 0.0,
            threshold_years=policy.age_threshold,
            child_content_signal=bool(signals["child_terms"]),
            matched_keywords=signals["child_terms"],
        )
    )
    for match in signals["matches"]:
        result.hash_matches.add(
            algorithm="pdq",
            list=str(match.get("bank", "")),
            matched_id=str(match.get("id", "")),
            distance=int(match.get("distance", 0)),
            threshold=int(match.get("threshold", 0)),
            frame_index=int(match.get("frame_index", 0)),
        )
    first = outcome.frames[0].outputs.get("pdq") if outcome.frames else None
    result.pdq_hash = str(first.extra.get("pdq", "")) if first else ""
    result.reasons.CopyFrom(
        types.StatementOfReasons(
            automated=True,
            usage_intent=policy.usage_intent,
            model_id=policy.model_id,
            config_version=policy.version,
            summary=decision.summary,
            thresholds=types.AppliedThresholds(
                auto_approve_under=policy.auto_approve_under,
                auto_flag_over=policy.auto_flag_over,
                auto_reject_over=policy.auto_reject_over,
            ),
            rules=[
                types.ReasonRule(
                    rule=r.rule,
                    description=r.description,
                    observed=r.observed,
                    threshold=r.threshold,
                    labels=list(r.labels),
                )
                for r in decision.rules
            ],
        )
    )
    return result, decision


def _legacy_body(status: int, payload: Mapping[str, Any] | str) -> tuple[int, httpbody_pb2.HttpBody]:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return status, httpbody_pb2.HttpBody(content_type="application/json", data=data.encode())


class ScannerServicer(pb_grpc.ScannerServiceServicer):
    def __init__(self, scanner: Scanner, codec: PrincipalCodec, image_store: Path):
        self._scanner = scanner
        self._codec = codec
        self._image_store = image_store
        self._background: set[asyncio.Task[pb.Scan]] = set()

    # --- /v1 ----------------------------------------------------------------------------------------

    async def CreateScan(self, request: pb.CreateScanRequest, context: grpc.aio.ServicerContext):
        caller = self._codec.require(context, "scans.create")
        settings = self._scanner.settings
        data, content_type = request.body.data, request.body.content_type or "application/octet-stream"
        usage_intent = request.usage_intent or "public_site"
        if usage_intent not in USAGE_INTENTS:
            raise InvalidArgument(
                f"usage_intent must be one of {', '.join(USAGE_INTENTS)}",
                field="usage_intent",
                reason="INVALID_USAGE_INTENT",
            )
        for name, value, pattern, reason in (
            ("model_id", request.model_id, ID_RE, "INVALID_MODEL_ID"),
            ("scan_id", request.scan_id, ID_RE, "INVALID_SCAN_ID"),
            ("asset_id", request.asset_id, ASSET_RE, "INVALID_ARGUMENT"),
        ):
            if value and not pattern.match(value):
                raise InvalidArgument(f"{name} {value!r} is malformed", field=name, reason=reason)
        if (
            len(request.title) > 300
            or len(request.description) > 5000
            or len(request.tags) > 50
            or any(len(t) > 100 for t in request.tags)
        ):
            raise InvalidArgument(
                "title ≤ 300, description ≤ 5000 chars, ≤ 50 tags of ≤ 100 chars", field="title", reason="TEXT_TOO_LONG"
            )
        if not data:
            raise InvalidArgument("the request body (the media) is empty", field="body", reason="EMPTY_BODY")
        if len(data) > settings.scanner_max_media_bytes:
            raise InvalidArgument(
                f"media is {len(data)} bytes; at most {settings.scanner_max_media_bytes}",
                field="body",
                reason="PAYLOAD_TOO_LARGE",
            )
        scan_id = request.scan_id
        if not scan_id and request.request_id:
            scan_id = "r" + hashlib.sha256(f"{caller.subject}\0{request.request_id}".encode()).hexdigest()[:32]
            existing = await self._scanner.store.get(scan_id)
            if existing is not None:
                return pb.CreateScanResponse(scan=json_format.Parse(existing.document, pb.Scan()))
        elif scan_id and await self._scanner.store.get(scan_id) is not None:
            raise AlreadyExists(
                f"scan {scan_id!r} already exists", reason="SCAN_ALREADY_EXISTS", metadata={"scan_id": scan_id}
            )
        scan = pb.Scan(
            scan_id=scan_id or uuid.uuid4().hex,
            asset_id=request.asset_id,
            state=pb.SCAN_STATE_RUNNING,
            content_type=content_type,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            usage_intent=usage_intent,
            model_id=request.model_id,
            title=request.title,
            tags=list(request.tags),
            description=request.description,
            creator=caller.subject,
            create_time=_ts(_now()),
        )
        text = TextInput(title=request.title, description=request.description, tags=tuple(request.tags))
        metadata = _forwarded(context)
        location = ("location", f"/v1/scans/{scan.scan_id}")
        if request.return_immediately:
            await self._save(scan)
            task = asyncio.create_task(self._complete(scan, data, content_type, text, metadata))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            await context.send_initial_metadata((("x-http-status", "202"), location))
            return pb.CreateScanResponse(scan=scan)
        completed = await self._complete(scan, data, content_type, text, metadata, raise_errors=True)
        # Headers only once the scan succeeded: a failure answers its own status, never a 201.
        await context.send_initial_metadata((("x-http-status", "201"), location))
        return pb.CreateScanResponse(scan=completed)

    async def _complete(
        self,
        scan: pb.Scan,
        data: bytes,
        content_type: str,
        text: TextInput,
        metadata: tuple[tuple[str, str], ...],
        *,
        raise_errors: bool = False,
    ) -> pb.Scan:
        try:
            outcome, kind = await self._scanner.analyze(
                data, content_type, text, usage_intent=scan.usage_intent, model_id=scan.model_id, metadata=metadata
            )
            policy = await self._scanner.policies.resolve(scan.usage_intent, scan.model_id, metadata)
            result, _ = build_result(outcome, policy, text)
        except DomainError as exc:
            if raise_errors:
                raise
            scan.state = pb.SCAN_STATE_FAILED
            scan.error.CopyFrom(status_pb2.Status(code=status_code(exc).value[0], message=exc.message))
            scan.complete_time.CopyFrom(_ts(_now()))
            await self._save(scan)
            return scan
        scan.media_type = MEDIA_TYPES[kind]
        scan.state = pb.SCAN_STATE_SUCCEEDED
        scan.result.CopyFrom(result)
        scan.complete_time.CopyFrom(result.complete_time)
        await self._save(scan)
        await self._scanner.store.record_tags([t for t in result.tags if t != "rating:safe"])
        for listener in self._scanner.listeners:
            try:
                await listener(scan, policy)
            except Exception:  # the scan itself succeeded and is stored
                log.exception("scan.listener_failed", scan_id=scan.scan_id)
        log.info(
            "scan.completed",
            scan_id=scan.scan_id,
            verdict=types.Verdict.Name(result.verdict),
            frames=result.frames_analyzed,
            risk=result.risk_score,
        )
        return scan

    async def _save(self, scan: pb.Scan) -> None:
        await self._scanner.store.save(
            ScanRecord(
                scan_id=scan.scan_id,
                state=pb.ScanState.Name(scan.state),
                media_type=types.MediaType.Name(scan.media_type),
                content_type=scan.content_type,
                size_bytes=scan.size_bytes,
                sha256=scan.sha256,
                usage_intent=scan.usage_intent,
                model_id=scan.model_id,
                asset_id=scan.asset_id,
                creator=scan.creator,
                verdict=types.Verdict.Name(scan.result.verdict) if scan.HasField("result") else "",
                created_at=scan.create_time.ToDatetime(tzinfo=UTC),
                completed_at=scan.complete_time.ToDatetime(tzinfo=UTC) if scan.HasField("complete_time") else None,
                document=json_format.MessageToJson(scan, indent=None),
            )
        )

    async def GetScan(self, request: pb.GetScanRequest, context: grpc.aio.ServicerContext):
        self._codec.require(context, "moderation.read")
        if not ID_RE.match(request.scan_id):
            raise InvalidArgument("scan_id is malformed", field="scan_id", reason="INVALID_SCAN_ID")
        record = await self._scanner.store.get(request.scan_id)
        if record is None:
            raise NotFound(f"scan {request.scan_id!r} does not exist", reason="SCAN_NOT_FOUND")
        return pb.GetScanResponse(scan=json_format.Parse(record.document, pb.Scan()))

    async def ListScans(self, request: pb.ListScansRequest, context: grpc.aio.ServicerContext):
        self._codec.require(context, "moderation.read")
        size = page_size(request.page_size)
        filters = (
            request.asset_id,
            int(request.verdict),
            request.usage_intent,
            request.model_id,
            request.start_time.ToJsonString() if request.HasField("start_time") else "",
            request.end_time.ToJsonString() if request.HasField("end_time") else "",
        )
        offset = decode_page_token(request.page_token, filters)
        records = await self._scanner.store.list_scans(
            asset_id=request.asset_id,
            verdict=types.Verdict.Name(request.verdict) if request.verdict else "",
            usage_intent=request.usage_intent,
            model_id=request.model_id,
            start=request.start_time.ToDatetime(tzinfo=UTC) if request.HasField("start_time") else None,
            end=request.end_time.ToDatetime(tzinfo=UTC) if request.HasField("end_time") else None,
            offset=offset,
            limit=size + 1,
        )
        return pb.ListScansResponse(
            scans=[json_format.Parse(r.document, pb.Scan()) for r in records[:size]],
            next_page_token=encode_page_token(offset + size, filters) if len(records) > size else "",
        )

    async def ListTagStats(self, request: pb.ListTagStatsRequest, context: grpc.aio.ServicerContext):
        self._codec.require(context, "moderation.read")
        size = page_size(request.page_size)
        offset = decode_page_token(request.page_token, ())
        tags, total = await self._scanner.store.tag_stats(offset, size + 1)
        return pb.ListTagStatsResponse(
            tags=[pb.TagStat(label=label, count=count) for label, count in tags[:size]],
            recorded_count=total,
            next_page_token=encode_page_token(offset + size, ()) if len(tags) > size else "",
        )

    # --- seed 000 -----------------------------------------------------------------------------------

    async def _legacy_reply(
        self, context: grpc.aio.ServicerContext, status: int, body: httpbody_pb2.HttpBody
    ) -> httpbody_pb2.HttpBody:
        await context.send_initial_metadata((("x-http-status", str(status)),))
        return body

    def _legacy_caller(self, context: grpc.aio.ServicerContext, permission: str) -> Principal | None:
        caller = self._codec.caller(context)
        return caller if caller.authenticated and caller.has(permission) else None

    async def LegacyCheck(self, request: pb.LegacyCheckRequest, context: grpc.aio.ServicerContext):
        if self._legacy_caller(context, "scans.create") is None:
            return await self._legacy_reply(context, *_legacy_body(403, '{"error":"forbidden"}'))
        status, body = await self._legacy_check(request.body, context)
        return await self._legacy_reply(context, status, body)

    async def _legacy_check(self, body: httpbody_pb2.HttpBody, context: grpc.aio.ServicerContext):
        settings = self._scanner.settings
        try:
            parts = media.parse_multipart(body.data, body.content_type)
        except media.MalformedMultipart as exc:
            return _legacy_body(400, {"error": f"malformed multipart body: {exc}"})
        part = parts.get("image")
        if part is None or not part.data:
            return _legacy_body(400, '{"error":"image missing"}')
        if len(part.data) > settings.scanner_max_image_bytes:
            return _legacy_body(413, '{"error":"payload too large"}')
        try:
            image = media.decode_image(part.data, max_pixels=settings.scanner_max_pixels)
        except InvalidArgument:
            return _legacy_body(400, '{"error":"invalid image"}')
        outcome = await self._scanner.pipeline.scan_image(
            Frame(image=image), AnalysisContext(timeout_s=settings.scanner_timeout_s)
        )
        report = outcome.frames[0]
        answer: dict[str, Any] = {}
        answer["modules.nsfw_scanner"] = report.classes.as_dict()
        nudenet_run = outcome.analyzers.get(NUDENET)
        nudenet_error = nudenet_run.error if nudenet_run is not None else "nudenet is not configured"
        if nudenet_error:
            answer["modules.tagging"] = {"error": nudenet_error}
            answer["modules.deepdanbooru_tags"] = {"error": nudenet_error}
        else:
            answer["modules.tagging"] = {
                "tags": [
                    {"label": d.label.lower(), "score": round(d.score, 4)}
                    for d in sorted(report.detections, key=lambda d: -d.score)
                ]
            }
            answer["modules.deepdanbooru_tags"] = {"tags": [{"label": t, "score": round(s, 4)} for t, s in report.tags]}
        labels = [t["label"] for t in answer["modules.tagging"].get("tags", [])] + [
            t for t, _ in report.tags if t != "rating:safe"
        ]
        answer["modules.statistics"] = {"recorded": await self._scanner.store.record_tags(labels)}
        answer["modules.image_storage"] = await asyncio.to_thread(self._store_image, image, part.data, report)
        for name, run in outcome.analyzers.items():
            if run.error:
                answer[f"modules.{name}"] = {"error": run.error}
            else:
                frame_output = report.outputs.get(name) or run.media_output
                answer[f"modules.{name}"] = {
                    "scores": frame_output.scores if frame_output else {},
                    "labels": [{"label": k, "score": v} for k, v in (frame_output.labels if frame_output else [])],
                    **(
                        {
                            "detections": [
                                {
                                    "label": d.label,
                                    "score": round(d.score, 4),
                                    "box": [d.box.x, d.box.y, d.box.width, d.box.height],
                                }
                                for d in frame_output.detections
                            ]
                        }
                        if frame_output and frame_output.detections
                        else {}
                    ),
                }
        return _legacy_body(200, answer)

    def _store_image(self, image: Any, data: bytes, report: Any) -> dict[str, Any]:
        """The seed's image_storage module: keep a downscaled copy with its metadata."""
        digest = hashlib.sha256(data).hexdigest()
        relative = Path("images") / digest[:2] / f"{digest}.jpg"
        target = self._image_store / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        copy = image.copy()
        copy.thumbnail((512, 512))
        copy.save(target, "JPEG", quality=85)
        return {
            "path": str(relative),
            "metadata": {
                "width": image.width,
                "height": image.height,
                "sha256": digest,
                "tags": [t for t, _ in report.tags],
                "nsfw": report.classes.as_dict(),
                "rating": report.rating,
            },
        }

    async def LegacyBatch(self, request: pb.LegacyBatchRequest, context: grpc.aio.ServicerContext):
        if self._legacy_caller(context, "scans.create") is None:
            return await self._legacy_reply(context, *_legacy_body(403, '{"error":"forbidden"}'))
        settings = self._scanner.settings
        try:
            parts = media.parse_multipart(request.body.data, request.body.content_type)
        except media.MalformedMultipart as exc:
            return await self._legacy_reply(context, *_legacy_body(400, {"error": f"malformed multipart body: {exc}"}))
        part = parts.get("file")
        if part is None or not part.data:
            return await self._legacy_reply(context, *_legacy_body(400, '{"error":"file missing"}'))
        if len(part.data) > settings.scanner_max_media_bytes:
            return await self._legacy_reply(context, *_legacy_body(413, '{"error":"payload too large"}'))
        mime = part.content_type or "application/octet-stream"
        # The seed chose the step by the part's MIME type: "video" in it → the video step, else the GIF step.
        step = settings.scanner_video_step if "video" in mime else settings.scanner_gif_step
        try:
            outcome = await self._scanner.pipeline.scan_media(
                part.data,
                mime,
                AnalysisContext(timeout_s=settings.scanner_timeout_s),
                gif_step=step,
                video_step=step,
                max_frames=settings.scanner_max_frames,
                metadata=_forwarded(context),
                # The seed's /batch ran only the NSFW and tagging modules; its answer needs nothing else.
                only=LEGACY_BATCH_ANALYZERS,
            )
        except InvalidArgument as exc:
            return await self._legacy_reply(context, *_legacy_body(400, {"error": f"invalid media: {exc.message}"}))
        await self._scanner.store.record_tags([t for t in outcome.tags() if t != "rating:safe"])
        answer = {"risk": round(outcome.max_risk, 3), "tags": outcome.tags(), "frameCount": len(outcome.frames)}
        return await self._legacy_reply(context, *_legacy_body(200, answer))

    async def LegacyStats(self, request: pb.LegacyStatsRequest, context: grpc.aio.ServicerContext):
        if (
            self._legacy_caller(context, "scans.create") is None
            and self._legacy_caller(context, "moderation.read") is None
        ):
            return await self._legacy_reply(context, *_legacy_body(403, '{"error":"forbidden"}'))
        tags, total = await self._scanner.store.tag_stats(0, 5)
        return await self._legacy_reply(
            context, *_legacy_body(200, {"count": total, "top_tags": [label for label, _ in tags]})
        )
