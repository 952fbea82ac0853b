"""The scanner's use cases: create and complete a scan (still image or GIF/video), recover and drain
background scans, and seed 000's /check, /batch and /stats.

Background scans (``return_immediately``) run as tasks of this process. The uploaded bytes are never
stored, so a scan cannot outlive its process: on SIGTERM :meth:`Scanner.drain` lets running scans finish
within the grace period and marks the rest FAILED (``SCAN_INTERRUPTED``); on start :meth:`Scanner.recover`
marks FAILED every scan this instance left RUNNING (killed before it could drain), and every other
instance's RUNNING scan older than ``orphan_after_s`` (and again every half of that, for instances that never
come back). The client submits the media again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import structlog
from PIL import Image

from clearframe_runtime.errors import AlreadyExists, DomainError, InvalidArgument, canonical_code
from clearframe_runtime.vocabulary import USAGE_INTENTS
from services.scanner import media
from services.scanner.analyzers.base import AnalysisContext, Frame, TextInput
from services.scanner.domain import decision as decisions
from services.scanner.domain.model import MEDIA_TYPES, Failure, Scan, ScanState
from services.scanner.domain.pipeline import NUDENET, OPENNSFW, FrameReport, ScanOutcome, ScanPipeline
from services.scanner.domain.results import build_result
from services.scanner.ports import EvidenceImageStore, PolicySource, ScanStore

log = structlog.get_logger(__name__)

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ASSET_RE = re.compile(r"^[0-9a-f]{16}$")
#: What seed 000's /batch needs: the five NSFW classes and the tags (see legacy.py).
LEGACY_BATCH_ANALYZERS = frozenset({NUDENET, OPENNSFW})
INTERRUPTED = "SCAN_INTERRUPTED"

Metadata = tuple[tuple[str, str], ...]
Listener = Callable[[Scan, decisions.Policy], Awaitable[None]]
FailureListener = Callable[[Scan], Awaitable[None]]


@dataclass(frozen=True)
class ScanLimits:
    max_image_bytes: int = 10 * 1024 * 1024
    max_media_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000
    gif_step: int = 5
    video_step: int = 20
    max_frames: int = 60
    timeout_s: float = 60.0
    #: Another instance's RUNNING scan older than this is orphaned (its process is gone).
    orphan_after_s: float = 600.0


@dataclass(frozen=True)
class NewScan:
    """A request to scan media (POST /v1/scans)."""

    data: bytes
    content_type: str = "application/octet-stream"
    usage_intent: str = ""
    model_id: str = ""
    scan_id: str = ""
    request_id: str = ""
    asset_id: str = ""
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    return_immediately: bool = False

    @property
    def text(self) -> TextInput:
        return TextInput(title=self.title, description=self.description, tags=self.tags)


class Created(Enum):
    EXISTING = "existing"  # the same request_id was seen before: its scan, unchanged
    ACCEPTED = "accepted"  # return_immediately: RUNNING, completes in the background
    COMPLETED = "completed"


class LegacyRefusal(Exception):
    """A seed-000 route refuses its input; ``kind`` is what the api maps to the seed's status."""

    MISSING, TOO_LARGE, INVALID = "missing", "too_large", "invalid"

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def check_new_scan(request: NewScan, limits: ScanLimits) -> str:
    """Validate a new scan; returns its usage intent (default public_site)."""
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
    if not request.data:
        raise InvalidArgument("the request body (the media) is empty", field="body", reason="EMPTY_BODY")
    if len(request.data) > limits.max_media_bytes:
        raise InvalidArgument(
            f"media is {len(request.data)} bytes; at most {limits.max_media_bytes}",
            field="body",
            reason="PAYLOAD_TOO_LARGE",
        )
    return usage_intent


def idempotent_scan_id(creator: str, request_id: str) -> str:
    """The scan id of a request_id: per caller, so two callers' request ids never collide."""
    return "r" + hashlib.sha256(f"{creator}\0{request_id}".encode()).hexdigest()[:32]


def recorded_tags(tags: list[str]) -> list[str]:
    """Tags that count in /stats: every tag but rating:safe."""
    return [t for t in tags if t != "rating:safe"]


class Scanner:
    """Use cases shared by the /v1 and the legacy routes."""

    def __init__(
        self,
        limits: ScanLimits,
        pipeline: ScanPipeline,
        store: ScanStore,
        policies: PolicySource,
        images: EvidenceImageStore,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        runner: str = "",
    ):
        self.limits = limits
        self.pipeline = pipeline
        self.store = store
        self.policies = policies
        self.images = images
        self._clock = clock
        self._new_id = new_id
        self.runner = runner
        #: Called with every completed scan and the policy that decided it (moderation records the
        #: decision, opens review cases, delivers webhooks). A failing listener is logged, not fatal.
        self.listeners: list[Listener] = []
        #: Called with every stored scan that ended FAILED (moderation tells the decision feed's
        #: watchers: the asset has no decision and shows an error). A failing listener is logged.
        self.failure_listeners: list[FailureListener] = []
        self._background: dict[asyncio.Task[Scan], Scan] = {}

    # --- /v1 ------------------------------------------------------------------------------------------

    async def create(self, request: NewScan, creator: str, metadata: Metadata) -> tuple[Scan, Created]:
        usage_intent = check_new_scan(request, self.limits)
        scan_id = request.scan_id
        if not scan_id and request.request_id:
            scan_id = idempotent_scan_id(creator, request.request_id)
            existing = await self.store.get(scan_id)
            if existing is not None:
                return existing, Created.EXISTING
        elif scan_id and await self.store.get(scan_id) is not None:
            raise AlreadyExists(
                f"scan {scan_id!r} already exists", reason="SCAN_ALREADY_EXISTS", metadata={"scan_id": scan_id}
            )
        scan = Scan(
            scan_id=scan_id or self._new_id(),
            state=ScanState.RUNNING,
            content_type=request.content_type or "application/octet-stream",
            size_bytes=len(request.data),
            sha256=hashlib.sha256(request.data).hexdigest(),
            usage_intent=usage_intent,
            created_at=self._clock(),
            asset_id=request.asset_id,
            model_id=request.model_id,
            title=request.title,
            tags=request.tags,
            description=request.description,
            creator=creator,
            runner=self.runner,
        )
        if request.return_immediately:
            await self.store.save(scan)
            task = asyncio.create_task(self.complete(scan, request.data, request.text, metadata))
            self._background[task] = scan
            task.add_done_callback(self._finished)
            return scan, Created.ACCEPTED
        completed = await self.complete(scan, request.data, request.text, metadata, raise_errors=True)
        return completed, Created.COMPLETED

    def _finished(self, task: asyncio.Task[Scan]) -> None:
        self._background.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("scan.background_failed", error=repr(task.exception()))

    @property
    def running(self) -> int:
        """Background scans of this process still running."""
        return len(self._background)

    async def analyze(
        self, data: bytes, content_type: str, text: TextInput, *, usage_intent: str, model_id: str, metadata: Metadata
    ) -> tuple[ScanOutcome, str]:
        """Run the pipeline over an image or a GIF/video; returns the outcome and the media type."""
        context = AnalysisContext(
            text=text, usage_intent=usage_intent, model_id=model_id, timeout_s=self.limits.timeout_s
        )
        if media.is_animated_or_video(data, content_type):
            outcome = await self.pipeline.scan_media(
                data,
                content_type,
                context,
                gif_step=self.limits.gif_step,
                video_step=self.limits.video_step,
                max_frames=self.limits.max_frames,
                metadata=metadata,
            )
            kind = outcome.facts.kind if outcome.facts else "video"
            return outcome, kind if kind in MEDIA_TYPES else "video"
        image = media.decode_image(data, max_pixels=self.limits.max_pixels)
        return await self.pipeline.scan_image(Frame(image=image), context), "image"

    async def complete(
        self, scan: Scan, data: bytes, text: TextInput, metadata: Metadata, *, raise_errors: bool = False
    ) -> Scan:
        """Analyze and decide a RUNNING scan, store it SUCCEEDED (or FAILED), tell the listeners."""
        try:
            outcome, kind = await self.analyze(
                data,
                scan.content_type,
                text,
                usage_intent=scan.usage_intent,
                model_id=scan.model_id,
                metadata=metadata,
            )
            policy = await self.policies.resolve(scan.usage_intent, scan.model_id, metadata)
            result, _ = build_result(outcome, policy, text, self._clock())
        except DomainError as exc:
            if raise_errors:
                raise
            failed = replace(
                scan,
                state=ScanState.FAILED,
                error=Failure(canonical_code(exc), exc.message, exc.reason or ""),
                completed_at=self._clock(),
            )
            await self.store.save(failed)
            await self._notify_failed(failed)
            return failed
        done = replace(
            scan, media_type=kind, state=ScanState.SUCCEEDED, result=result, completed_at=result.completed_at
        )
        await self.store.save(done)
        await self.store.record_tags(recorded_tags(list(result.tags)))
        await self._notify(done, policy)
        log.info(
            "scan.completed",
            scan_id=done.scan_id,
            verdict=result.verdict,
            frames=result.frames_analyzed,
            risk=result.risk_score,
        )
        return done

    async def _notify(self, scan: Scan, policy: decisions.Policy) -> None:
        for listener in self.listeners:
            try:
                await listener(scan, policy)
            except Exception:  # the scan itself succeeded and is stored
                log.exception("scan.listener_failed", scan_id=scan.scan_id)

    async def _notify_failed(self, scan: Scan) -> None:
        for listener in self.failure_listeners:
            try:
                await listener(scan)
            except Exception:  # the failure itself is stored on the scan
                log.exception("scan.failure_listener_failed", scan_id=scan.scan_id)

    def _interrupted(self, scan: Scan, why: str) -> Scan:
        return replace(
            scan,
            state=ScanState.FAILED,
            completed_at=self._clock(),
            error=Failure("ABORTED", f"{why}; the media was not kept, submit it again", INTERRUPTED),
        )

    async def drain(self, timeout_s: float) -> int:
        """Let background scans finish within ``timeout_s``; the rest are cancelled and stored FAILED.
        Returns how many were cut short."""
        if not self._background:
            return 0
        log.info("scan.draining", running=len(self._background), grace_s=timeout_s)
        _, pending = await asyncio.wait(list(self._background), timeout=timeout_s)
        for task in pending:
            task.cancel()
        cut = [self._background.get(task) for task in pending]
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for scan in cut:
            if scan is not None:
                interrupted = self._interrupted(scan, "the scanner shut down before this scan finished")
                await self.store.save(interrupted)
                await self._notify_failed(interrupted)
        if cut:
            log.warning("scan.drain_cut_short", scans=len(cut))
        return len(cut)

    async def recover(self) -> list[str]:
        """Finish (FAILED) every scan left RUNNING by a process that is gone; returns their ids. At start
        that is every scan of this instance; later, only what another instance left past orphan_after_s."""
        orphaned_before = self._clock() - timedelta(seconds=self.limits.orphan_after_s)
        mine = {scan.scan_id for scan in self._background.values()}
        finished = []
        for scan in await self.store.running():
            if scan.scan_id in mine:
                continue
            if scan.runner == self.runner or scan.created_at < orphaned_before:
                interrupted = self._interrupted(scan, "the scanner stopped before this scan finished")
                await self.store.save(interrupted)
                await self._notify_failed(interrupted)
                finished.append(scan.scan_id)
        if finished:
            log.warning("scan.recovered_as_failed", scans=finished)
        return finished

    async def sweep_orphans(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        """Run :meth:`recover` every ``orphan_after_s / 2`` until cancelled, so scans of an instance that
        died and never came back (a replaced pod) do not stay RUNNING."""
        while True:
            await sleep(self.limits.orphan_after_s / 2)
            try:
                await self.recover()
            except Exception:  # the store is down: try again next round
                log.exception("scan.sweep_failed")

    # --- seed 000 -------------------------------------------------------------------------------------

    async def legacy_check(self, data: bytes | None) -> dict[str, Any]:
        """Seed 000's /check of one image: its flat ``modules.*`` answer."""
        if not data:
            raise LegacyRefusal(LegacyRefusal.MISSING, "image missing")
        if len(data) > self.limits.max_image_bytes:
            raise LegacyRefusal(LegacyRefusal.TOO_LARGE, "payload too large")
        try:
            image = media.decode_image(data, max_pixels=self.limits.max_pixels)
        except InvalidArgument as exc:
            raise LegacyRefusal(LegacyRefusal.INVALID, "invalid image") from exc
        outcome = await self.pipeline.scan_image(Frame(image=image), AnalysisContext(timeout_s=self.limits.timeout_s))
        report = outcome.frames[0]
        answer: dict[str, Any] = {"modules.nsfw_scanner": report.classes.as_dict()}
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
        labels = [t["label"] for t in answer["modules.tagging"].get("tags", [])] + recorded_tags(
            [t for t, _ in report.tags]
        )
        answer["modules.statistics"] = {"recorded": await self.store.record_tags(labels)}
        answer["modules.image_storage"] = await self._keep_image(image, data, report)
        for name, run in outcome.analyzers.items():
            if run.error:
                answer[f"modules.{name}"] = {"error": run.error}
                continue
            output = report.outputs.get(name) or run.media_output
            entry: dict[str, Any] = {
                "scores": output.scores if output else {},
                "labels": [{"label": k, "score": v} for k, v in (output.labels if output else [])],
            }
            if output and output.detections:
                entry["detections"] = [
                    {"label": d.label, "score": round(d.score, 4), "box": [d.box.x, d.box.y, d.box.width, d.box.height]}
                    for d in output.detections
                ]
            answer[f"modules.{name}"] = entry
        return answer

    async def _keep_image(self, image: Image.Image, data: bytes, report: FrameReport) -> dict[str, Any]:
        """The seed's image_storage module: a downscaled copy with its metadata."""
        digest = hashlib.sha256(data).hexdigest()
        path = await self.images.keep(digest, image)
        return {
            "path": path,
            "metadata": {
                "width": image.width,
                "height": image.height,
                "sha256": digest,
                "tags": [t for t, _ in report.tags],
                "nsfw": report.classes.as_dict(),
                "rating": report.rating,
            },
        }

    async def legacy_batch(self, data: bytes | None, mime: str, metadata: Metadata) -> dict[str, Any]:
        """Seed 000's /batch of a GIF or video: max risk, tags, and the number of frames extracted."""
        if not data:
            raise LegacyRefusal(LegacyRefusal.MISSING, "file missing")
        if len(data) > self.limits.max_media_bytes:
            raise LegacyRefusal(LegacyRefusal.TOO_LARGE, "payload too large")
        mime = mime or "application/octet-stream"
        # The seed chose the step by the part's MIME type: "video" in it → the video step, else the GIF step.
        step = self.limits.video_step if "video" in mime else self.limits.gif_step
        try:
            outcome = await self.pipeline.scan_media(
                data,
                mime,
                AnalysisContext(timeout_s=self.limits.timeout_s),
                gif_step=step,
                video_step=step,
                max_frames=self.limits.max_frames,
                metadata=metadata,
                # The seed's /batch ran only the NSFW and tagging modules; its answer needs nothing else.
                only=LEGACY_BATCH_ANALYZERS,
            )
        except InvalidArgument as exc:
            raise LegacyRefusal(LegacyRefusal.INVALID, f"invalid media: {exc.message}") from exc
        await self.store.record_tags(recorded_tags(outcome.tags()))
        return {
            "risk": round(outcome.max_risk, 3),
            "tags": outcome.tags(),
            "frameCount": self.frames_extracted(outcome),
        }

    def frames_extracted(self, outcome: ScanOutcome) -> int:
        """Seed 000's frameCount: the frames it extracted (all frames of the file, capped at max_frames),
        not the ones it scanned. The frames service reports the file's frame count before any frame."""
        total = outcome.facts.frame_count if outcome.facts is not None else 0
        return min(max(total, len(outcome.frames)), self.limits.max_frames)

    async def legacy_stats(self) -> dict[str, Any]:
        tags, total = await self.store.tag_stats(0, 5)
        return {"count": total, "top_tags": [label for label, _ in tags]}
