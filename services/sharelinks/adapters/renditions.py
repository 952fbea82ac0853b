"""Renditions of approved media made with ffmpeg: :class:`services.sharelinks.ports.RenditionMaker`.

Each call is one ffmpeg run in a private temporary directory (source file in, output file out: the MP4's
``+faststart`` rewrites its output file, so it cannot stream to a pipe); the directory is removed after.
The run is killed at the time limit (:class:`~clearframe_runtime.errors.DeadlineExceeded`) and when the
caller is cancelled.

What comes out (the sizes rule is in :func:`_scale`):

* ``mp4`` — H.264 (libx264, ``veryfast``, CRF 23), yuv420p, even width and height, moov atom first
  (``+faststart``), no audio, every source frame at its own time;
* ``webp`` — WebP (libwebp_anim, quality 75, looping forever): animated from an animated source, a still
  WebP from a still one (libwebp writes a single frame as a plain still image), transparency kept;
* ``poster`` — the first frame as a baseline JPEG;
* :meth:`FfmpegRenditionMaker.blurred_preview` — the first frame at most 320 px high under a Gaussian
  blur of 32 px (nothing recognisable is left), as JPEG;
* :meth:`FfmpegRenditionMaker.review_frame` — one frame (by its index in decoding order) as it is, at
  most 1280 px a side, as JPEG, for the review page's unblurred view.

MP4 and JPEG have no alpha: transparent pixels of PNG/APNG and WebP sources are laid on white first (a
GIF's come out of ffmpeg's decoder white).
Metadata of the source (titles, GPS of phone videos) is not copied.

Sources are GIF, PNG/APNG, JPEG, WebP (still and animated: this ffmpeg build has a ``webp_anim``
demuxer and decoder), MP4/MOV, WebM/Matroska and AVI, named by their content type; only the demuxers of
that type may read the source. Any error ffmpeg logs while reading it fails the rendition (sources come
approved, i.e. decoded cleanly by the frames service, so an error here means damage, not a quirk).
"""

from __future__ import annotations

import re
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

import structlog

from clearframe_runtime.errors import DeadlineExceeded
from clearframe_runtime.ffmpeg import run_to_end
from services.sharelinks.ports import RenditionFailed, RenditionOutput, RenditionSpec

log = structlog.get_logger(__name__)

#: Height of the small renditions.
SMALL_HEIGHT = 200
#: Tallest blurred preview.
PREVIEW_HEIGHT = 320

RENDITIONS: tuple[RenditionSpec, ...] = (
    RenditionSpec("mp4", "mp4", None),
    RenditionSpec("webp", "webp", None),
    RenditionSpec("poster", "poster", None),
    RenditionSpec(f"mp4-{SMALL_HEIGHT}", "mp4", SMALL_HEIGHT),
    RenditionSpec(f"webp-{SMALL_HEIGHT}", "webp", SMALL_HEIGHT),
    RenditionSpec(f"poster-{SMALL_HEIGHT}", "poster", SMALL_HEIGHT),
)

#: Content type of each kind's output.
CONTENT_TYPES = {"mp4": "video/mp4", "webp": "image/webp", "poster": "image/jpeg"}
#: Frame rate of the animated WebP made from a video.
VIDEO_WEBP_FPS = 12

#: Content type of a source → the only ffmpeg demuxers allowed to read it.
_DEMUXERS = {
    "image/gif": "gif",
    "image/png": "apng,png_pipe",
    "image/apng": "apng,png_pipe",
    "image/jpeg": "jpeg_pipe",
    "image/webp": "webp_anim,webp_pipe",
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/webm": "matroska",
    "video/x-matroska": "matroska",
    "video/x-msvideo": "avi",
}
#: Sources that may carry transparency (which MP4 and JPEG cannot). Not GIF: its transparency is all or
#: nothing and ffmpeg's GIF decoder gives transparent pixels white colour already (a test holds it to that).
_ALPHA_SOURCES = frozenset({"image/png", "image/apng", "image/webp"})

_LOG_LINE = re.compile(r"^(?:\[[^\]]*@ 0x[0-9a-f]+\] )*\[(?P<level>\w+)\] ?(?P<text>.*)$")
_OUTPUT_VIDEO = re.compile(r"^\s*Stream #0:\d+\S*: Video: .*?, (?P<w>\d+)x(?P<h>\d+)(?=[ ,\[]|$)")
_ERROR_LEVELS = frozenset({"error", "fatal", "panic"})
#: Error lines that only repeat that an earlier error stopped ffmpeg; the cause is told before them.
_CONSEQUENCES = (
    "Error opening input",
    "Error opening output",
    "Error reinitializing filters",
    "Failed to configure input pad",
    "Task finished with error code",
    "Terminating thread with return code",
    "Could not open encoder before EOF",
    "Nothing was written into output file",
    "Conversion failed",
)
_TAIL_LINES = 4


@dataclass(frozen=True)
class _Plan:
    """One ffmpeg run: the filter graph from ``[0:v]`` to ``[out]`` and the output options."""

    content_type: str
    filters: list[str]
    output_args: list[str]


def _even(expression: str) -> str:
    return f"max(2,trunc(({expression})/2)*2)"


def _scale(kind: str, height: int | None) -> str | None:
    """The scale filter of a kind at a height (None: no scaling).

    Never upscales: the height is ``min(height, source height)``; the width is that height times the
    source's aspect ratio, rounded. H.264 in yuv420p needs even sides, so an MP4's height is rounded
    down to even (at least 2) and its width is the even number nearest to that height times the aspect
    ratio, no wider than the source: a 101x77 GIF gives a 100x76 MP4, a 101x77 WebP and poster; at
    height 200 a 640x360 video gives 356x200 for all three.
    """
    even = kind == "mp4"
    if height is None:
        return f"scale=w='{_even('iw')}':h='{_even('ih')}'" if even else None
    target = f"min({height},ih)"
    if even:
        # From the even height, but neither from more than the source's height (a 3000x1 source gives
        # 3000x2, not 6000x2) nor wider than the source.
        return f"scale=w='{_even(f'min(iw,min(oh,{target})*a+1)')}':h='{_even(target)}'"
    return f"scale=w='max(1,trunc(oh*a+0.5))':h='{target}'"


# Transparency onto white: a copy of the frame painted opaque white, the frame laid over it. In YUV, not
# RGB: on 783 frames at 640x421 this costs 1.1 s in YUV, 2.4 s in RGBA (x264 itself takes 1.5 s).
_ON_WHITE = (
    "format=yuva420p,split[fg][bg];[bg]drawbox=c=white@1:replace=1:t=fill,format=yuv420p[white];"
    "[white][fg]overlay=format=yuv420"
)
# JPEG is full range; converting in the scaler avoids the deprecated yuvj formats.
_JPEG_PIXELS = "scale=out_range=full,format=yuv420p"
_JPEG_ARGS = ["-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-color_range", "pc", "-f", "image2", "-update", "1"]


def _plan(spec: RenditionSpec, source_type: str) -> _Plan:
    if spec.kind not in CONTENT_TYPES:
        raise ValueError(f"unknown rendition kind {spec.kind!r}")
    if spec.height is not None and spec.height < 2:
        raise ValueError(f"rendition height must be at least 2, not {spec.height}")
    filters = [f for f in [_scale(spec.kind, spec.height)] if f]
    flatten = source_type in _ALPHA_SOURCES
    if spec.kind == "mp4":
        if flatten:
            filters.append(_ON_WHITE)
        filters.append("format=yuv420p")
        args = [
            "-fps_mode", "passthrough",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-f", "mp4",
        ]  # fmt: skip
    elif spec.kind == "webp":
        if source_type.startswith("video/"):
            # A video's every frame as WebP is some 40 times its MP4 (10 s at 30 fps: 5.8 MB, 4.3 s to make);
            # at a GIF's frame rate it stays a reasonable animation.
            filters.append(f"fps={VIDEO_WEBP_FPS}")
        # compression_level 2 encodes about twice as fast as the default 4, for some 5 % more bytes.
        args = [
            "-fps_mode", "passthrough",
            "-c:v", "libwebp_anim", "-quality", "75", "-compression_level", "2", "-loop", "0", "-f", "webp",
        ]  # fmt: skip
    else:
        if flatten:
            filters.append(_ON_WHITE)
        filters.append(_JPEG_PIXELS)
        args = list(_JPEG_ARGS)
    return _Plan(CONTENT_TYPES[spec.kind], filters, args)


def _preview_plan(source_type: str) -> _Plan:
    # At least 16 px a side (gblur corrupts its heap on frames one pixel wide), at most four times as
    # wide as high: a degenerate source gives a stretched preview, which blurred is as good as any.
    filters = [f"scale=w='min(4*{PREVIEW_HEIGHT},max(16,trunc(oh*a+0.5)))':h='max(16,min({PREVIEW_HEIGHT},ih))'"]
    if source_type in _ALPHA_SOURCES:
        filters.append(_ON_WHITE)
    # A Gaussian of a tenth of the full preview height: shapes and colours stay, faces and text do not.
    # (boxblur's radius could follow the size, but it refuses planes under 2 px.)
    filters += ["format=yuv420p", f"gblur=sigma={PREVIEW_HEIGHT // 10}:steps=3", _JPEG_PIXELS]
    return _Plan("image/jpeg", filters, list(_JPEG_ARGS))


#: Largest side of a review frame (the page shows it at most some 60 % of a screen high).
REVIEW_FRAME_MAX = 1280


def _review_frame_plan(source_type: str, frame_index: int) -> _Plan:
    if frame_index < 0:
        raise ValueError(f"frame_index must be 0 or more, not {frame_index}")
    # Frames counted as decoded (as the frames service numbers them: every decoded frame, passthrough),
    # then scaled down only, keeping the aspect ratio (boxes are drawn in fractions of the frame).
    filters = [
        f"select='eq(n\\,{frame_index})'",
        f"scale=w='min(iw,{REVIEW_FRAME_MAX})':h='min(ih,{REVIEW_FRAME_MAX})':force_original_aspect_ratio=decrease",
    ]
    if source_type in _ALPHA_SOURCES:
        filters.append(_ON_WHITE)
    filters.append(_JPEG_PIXELS)
    return _Plan("image/jpeg", filters, ["-fps_mode", "passthrough", *_JPEG_ARGS])


class FfmpegRenditionMaker:
    """:class:`services.sharelinks.ports.RenditionMaker` backed by the ffmpeg binary.

    ``threads`` bounds the threads of one run (decoder, filters and encoder each); how many runs go at
    once is the caller's choice.
    """

    def __init__(self, ffmpeg: str, *, timeout_s: float = 120, threads: int = 1):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._ffmpeg = ffmpeg
        self._timeout_s = timeout_s
        self._threads = threads

    async def make(self, source: bytes, content_type: str, spec: RenditionSpec) -> RenditionOutput:
        return await self._run(spec.name, source, content_type, _plan(spec, _base_type(content_type)))

    async def blurred_preview(self, source: bytes, content_type: str) -> RenditionOutput:
        return await self._run("blurred", source, content_type, _preview_plan(_base_type(content_type)))

    async def review_frame(self, source: bytes, content_type: str, frame_index: int) -> RenditionOutput:
        plan = _review_frame_plan(_base_type(content_type), frame_index)
        return await self._run(f"frame {frame_index}", source, content_type, plan)

    async def _run(self, name: str, source: bytes, content_type: str, plan: _Plan) -> RenditionOutput:
        demuxers = _DEMUXERS.get(_base_type(content_type))
        if demuxers is None:
            raise RenditionFailed(f"no renditions of {content_type or 'media without a content type'}")
        if not source:
            raise RenditionFailed("the source is empty")
        workdir = Path(tempfile.mkdtemp(prefix="clearframe-rendition-"))  # mode 0700: ours alone
        try:
            source_path, output_path = workdir / "source", workdir / "output"
            # Written and read on the loop's thread: a worker thread still writing when the caller is
            # cancelled would race the removal below; on local disk this is milliseconds.
            source_path.write_bytes(source)
            threads = str(self._threads)
            command = [
                self._ffmpeg,
                "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info", "-xerror",
                "-filter_threads", threads, "-filter_complex_threads", threads,
                "-threads", threads,
                "-format_whitelist", demuxers, "-protocol_whitelist", "file",
                "-i", str(source_path),
                "-filter_complex", f"[0:v:0]{','.join(plan.filters) or 'null'}[out]", "-map", "[out]",
                "-map_metadata", "-1", "-map_chapters", "-1",
                "-threads", threads,
                *plan.output_args,
                str(output_path),
            ]  # fmt: skip
            try:
                finished = await run_to_end(command, timeout_s=self._timeout_s)
            except TimeoutError:
                log.warning("rendition.timeout", rendition=name, timeout_s=self._timeout_s)
                raise DeadlineExceeded(f"the {name} rendition took longer than {self._timeout_s:g} s") from None
            except OSError as exc:
                raise RenditionFailed(f"ffmpeg could not be started: {exc.strerror or exc}") from exc
            paths = {str(source_path): "the source", str(output_path): "the output", str(workdir): "the work folder"}
            width, height, errors, tail = _read_log(finished.stderr, paths)
            if finished.returncode != 0 or errors:
                causes = [line for line in errors if not line.startswith(_CONSEQUENCES)] or errors or tail
                why = "; ".join(causes[:_TAIL_LINES]) or f"ffmpeg exited with status {finished.returncode}"
                if finished.returncode < 0:  # killed by a signal: its last words, not the log before them
                    why = f"ffmpeg died of {_signal_name(-finished.returncode)}: {'; '.join(tail[-1:])}"
                log.warning("rendition.failed", rendition=name, returncode=finished.returncode, why=why)
                raise RenditionFailed(f"the {name} rendition failed: {why}")
            data = _read_if_exists(output_path)
            if not data or not width or not height:
                raise RenditionFailed(f"the {name} rendition failed: ffmpeg wrote no {plan.content_type} output")
            return RenditionOutput(name=name, content_type=plan.content_type, width=width, height=height, data=data)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _base_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _read_if_exists(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _read_log(stderr: str, paths: dict[str, str]) -> tuple[int, int, list[str], list[str]]:
    """The output's frame size (as the encoder was opened), the error lines and the last lines of the log."""
    width = height = 0
    errors: list[str] = []
    texts: list[str] = []
    in_output = False
    for raw in stderr.splitlines():
        match = _LOG_LINE.match(raw)
        level, text = (match["level"], match["text"].rstrip()) if match else ("info", raw.rstrip())
        for path, label in paths.items():
            text = text.replace(f"'{path}'", label).replace(path, label)
        if not text.strip():
            continue
        texts.append(text.strip())
        if level in _ERROR_LEVELS:
            errors.append(text.strip())
        elif text.startswith("Output #0"):
            in_output = True
        elif in_output and not width and (size := _OUTPUT_VIDEO.match(text)):
            width, height = int(size["w"]), int(size["h"])
    return width, height, errors, texts[-_TAIL_LINES:]
