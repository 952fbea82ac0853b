"""The media decoder: ffmpeg (through ffmpeg-python) reading media from memory.

The input lives in a sealed memfd, never on disk. ffmpeg opens it as ``/proc/self/fd/N`` (the fd is
passed to the child), so the input is seekable: an MP4 whose moov atom sits at the end cannot be read
from a pipe, but is read from memory this way.

Two runs per call:

* probe — demux only (``-c copy -f null``): container, codec, size, duration from ffmpeg's input dump,
  the frame count from ``-progress`` (packets of the first video stream), errors from its log;
* decode — one ``showinfo`` log line per decoded frame giving its index and presentation time, then
  (``select``) only the frames whose pixels the caller asked for, scaled and converted to packed RGB24 on
  stdout (``-f rawvideo``, a pipe read a frame at a time by a worker thread); each frame is handed on as
  soon as it is read, so callers see frames while ffmpeg is still decoding. Sampling 16 of a video's 300
  frames thus scales, converts and copies 16, not 300 (every frame is still decoded: video frames depend
  on each other). The last frame always carries its pixels: when the container announced more frames than
  it held, the real last frame is decoded a second time.

Safety: only the configured demuxers may read input (``-format_whitelist``: ffmpeg would otherwise read
a text file as "tty" video), only the file protocol (``-protocol_whitelist``), decoders refuse frames
over ``-max_pixels``, a timer kills ffmpeg at the deadline, and leaving a run early (error, caller
cancelled, ``kill()``) kills it too. Any error ffmpeg logs while reading or decoding the media makes the
media undecodable: frames that followed it are not handed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import ffmpeg  # ffmpeg-python
import structlog

from clearframe_runtime.errors import Internal, InvalidArgument
from services.frames.ports import DecodedFrame, OversizedFrame, ProbedMedia, undecodable

log = structlog.get_logger(__name__)

#: What the default demuxer list reads, for error messages.
SUPPORTED = "GIF, APNG, WebP, PNG, JPEG, MP4/MOV, WebM/Matroska, AVI"
_GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info")
_STDERR_LIMIT = 1 << 20
#: The frame pipe's size: Linux lets an unprivileged process raise it to 1 MiB (fs/pipe-max-size).
_PIPE_SIZE = 1 << 20
#: Terms of one select expression (ffmpeg's expression parser refuses somewhere above 100).
_MAX_SELECT_TERMS = 64
_LOG_PREFIX = re.compile(r"^(?:\[[^\]]*@ 0x[0-9a-f]+\] )*\[(?P<level>\w+)\] ?(?P<text>.*)$")
_INPUT = re.compile(r"^Input #0, (?P<container>.+), from ")
_DURATION = re.compile(r"^\s*Duration: (?:(?P<h>\d+):(?P<m>\d+):(?P<s>[\d.]+)|N/A)")
_STREAM = re.compile(r"^\s*Stream #0:\d+\S*: (?P<type>Video|Audio|Subtitle|Data|Attachment): (?P<codec>[\w-]+)")
_SIZE = re.compile(r", (?P<w>\d+)x(?P<h>\d+)(?=[ ,\[]|$)")
_FPS = re.compile(r", (?P<fps>[\d.]+)(?P<k>k?) fps")
_BRAND = re.compile(r"^\s*major_brand\s*:\s*(?P<brand>\S+)")
_PICTURE_SIZE = re.compile(r"Picture size (?P<w>\d+)x(?P<h>\d+) (?:is invalid|exceeds)")
_SHOWINFO = re.compile(r"\bn:\s*(?P<n>\d+)\s+pts:\s*\S+\s+pts_time:(?P<t>\S+)")
#: Messages that only repeat that the input could not be opened; the specific cause precedes them.
_CONSEQUENCES = (
    "Error opening input",
    "Error opening input file",
    "Error opening input files",
    "Invalid data found when processing input",
    "Conversion failed",
    "Error opening output",
    "Could not write header",
    "Nothing was written",
)


def select_expression(indices: frozenset[int], max_terms: int = _MAX_SELECT_TERMS) -> str | None:
    """An ffmpeg ``select`` expression true exactly for the frame numbers ``n`` in ``indices``: one term per
    run of evenly spaced indices (sampling every Nth frame gives one or two), None when that needs more
    than ``max_terms`` terms."""
    ordered = sorted(indices)
    terms: list[str] = []
    i = 0
    while i < len(ordered):
        start = ordered[i]
        if i + 1 == len(ordered):
            terms.append(f"eq(n,{start})")
            break
        step = ordered[i + 1] - start
        j = i + 1
        while j + 1 < len(ordered) and ordered[j + 1] - ordered[j] == step:
            j += 1
        end = ordered[j]
        if j == i + 1:
            terms.append(f"eq(n,{start})")  # two indices are no run: the second may start the next one
            i += 1
            continue
        spacing = "" if step == 1 else f"*not(mod(n-{start},{step}))"
        terms.append(f"between(n,{start},{end}){spacing}")
        i = j + 1
    if len(terms) > max_terms:
        return None
    return "+".join(terms) or "0"


def _read_frame(fd: int, size: int) -> bytes | None:
    """Exactly ``size`` bytes from the pipe (blocking; run in a worker thread), None at its end."""
    first = os.read(fd, size)
    if len(first) == size or not first:
        return first or None
    parts, got = [first], len(first)
    while got < size:
        chunk = os.read(fd, size - got)
        if not chunk:
            return None
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


@dataclass(frozen=True)
class _LogLine:
    level: str
    text: str

    @property
    def is_error(self) -> bool:
        return self.level in ("error", "fatal", "panic")


def _parse_log_line(raw: str) -> _LogLine | None:
    match = _LOG_PREFIX.match(raw)
    if match is None:
        return None
    return _LogLine(match["level"], match["text"].strip())


def _content_type(container: str, codec: str, brand: str) -> str:
    names = set(container.split(","))
    if names & {"gif", "gif_pipe"}:
        return "image/gif"
    if "apng" in names:
        return "image/apng"
    if names & {"webp_anim", "webp_pipe"}:
        return "image/webp"
    if "png_pipe" in names:
        return "image/png"
    if "jpeg_pipe" in names:
        return "image/jpeg"
    if "mov" in names:
        return "video/quicktime" if brand == "qt" else "video/mp4"
    if "matroska" in names:
        return "video/webm" if codec in ("vp8", "vp9", "av1") else "video/x-matroska"
    if "avi" in names:
        return "video/x-msvideo"
    return "application/octet-stream"


def _clean(text: str, path: str) -> str:
    return text.replace(path, "the input").rstrip(".")


class FfmpegDecoder:
    """:class:`services.frames.ports.MediaDecoder` backed by the ffmpeg binary."""

    def __init__(self, executable: str, *, allowed_formats: Sequence[str]):
        self._executable = executable
        self._formats = ",".join(f.strip() for f in allowed_formats if f.strip())
        if not self._formats:
            raise ValueError("at least one ffmpeg demuxer must be allowed")

    @contextlib.asynccontextmanager
    async def open(self, data: bytes) -> AsyncIterator[_FfmpegMedia]:
        fd = os.memfd_create("clearframe-media", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        media: _FfmpegMedia | None = None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            # Read-only from here on: nothing ffmpeg does can change what was uploaded.
            fcntl.fcntl(
                fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
            )
            media = _FfmpegMedia(self._executable, self._formats, fd)
            yield media
        finally:
            if media is not None:
                media.kill()
            os.close(fd)


class _FfmpegMedia:
    def __init__(self, executable: str, formats: str, fd: int):
        self._executable = executable
        self._formats = formats
        self._fd = fd
        self._path = f"/proc/self/fd/{fd}"
        self._running: set[asyncio.subprocess.Process] = set()

    def kill(self) -> None:
        for process in list(self._running):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()

    def _input(self, max_pixels: int) -> Any:
        return ffmpeg.input(
            self._path, format_whitelist=self._formats, protocol_whitelist="file", max_pixels=max_pixels
        )

    def _command(self, stream: Any, *extra_global: str) -> list[str]:
        command: list[str] = ffmpeg.compile(stream, cmd=self._executable)
        return [command[0], *_GLOBAL_ARGS, *extra_global, *command[1:]]

    async def _spawn(self, command: list[str], stdout: int = asyncio.subprocess.PIPE) -> asyncio.subprocess.Process:
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stdout,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(self._fd,),
                limit=_STDERR_LIMIT,
            )
        except OSError as exc:
            log.error("ffmpeg.unavailable", executable=self._executable, error=str(exc))
            raise Internal("the frame decoder is unavailable", reason="FFMPEG_FAILED") from exc
        self._running.add(process)
        return process

    async def _finish(self, process: asyncio.subprocess.Process) -> None:
        """Kill the process if it still runs, reap it and read its pipes to the end.

        Reading to the end lets asyncio close the pipes' transport now, not at interpreter exit. The
        process is dead, so that takes no longer than the pipe buffers hold.
        """
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        try:
            await asyncio.shield(process.communicate())
        finally:
            self._running.discard(process)

    # --- probe -----------------------------------------------------------------------------------------

    async def probe(self, *, max_pixels: int, deadline: float) -> ProbedMedia:
        stream = self._input(max_pixels)["v:0"].output("-", format="null", c="copy")
        process = await self._spawn(self._command(stream, "-progress", "pipe:1"))
        loop = asyncio.get_running_loop()
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            self.kill()

        timer = loop.call_at(deadline, expire)
        try:
            stdout, stderr = await process.communicate()
        finally:
            timer.cancel()
            await self._finish(process)
        if expired:
            raise TimeoutError
        return self._read_probe(stdout.decode(errors="replace"), stderr.decode(errors="replace"), process.returncode)

    def _read_probe(self, progress: str, log_text: str, returncode: int | None) -> ProbedMedia:
        container = codec = brand = ""
        width = height = 0
        duration = fps = 0.0
        has_audio = has_video = False
        errors: list[_LogLine] = []
        in_input = False
        for raw in log_text.splitlines():
            line = _parse_log_line(raw)
            if line is None:
                continue
            if line.is_error:
                errors.append(line)
                continue
            text = line.text
            if match := _INPUT.match(text):
                container, in_input = match["container"], True
                continue
            if text.startswith(("Stream mapping:", "Output #")):
                in_input = False
            if not in_input:
                continue
            if (match := _DURATION.match(text)) and match["h"] is not None:
                duration = int(match["h"]) * 3600 + int(match["m"]) * 60 + float(match["s"])
            elif match := _BRAND.match(text):
                brand = brand or match["brand"]
            elif match := _STREAM.match(text):
                if match["type"] == "Audio":
                    has_audio = True
                elif match["type"] == "Video" and not has_video:
                    has_video, codec = True, match["codec"]
                    if size := _SIZE.search(text):
                        width, height = int(size["w"]), int(size["h"])
                    if rate := _FPS.search(text):
                        fps = float(rate["fps"]) * (1000 if rate["k"] else 1)

        for line in errors:
            if size := _PICTURE_SIZE.search(line.text):
                raise OversizedFrame(int(size["w"]), int(size["h"]))
        if errors:
            self._raise_for(errors)
        if not container:
            raise Internal("the frame decoder failed", reason="FFMPEG_FAILED")
        if not has_video:
            raise InvalidArgument(
                f"the media ({container}) has no video stream", field="body", reason="UNSUPPORTED_MEDIA_TYPE"
            )
        if returncode != 0 or not width or not height:
            raise undecodable("ffmpeg could not read its frame size")

        frames, out_time = 0, 0.0
        for raw in progress.splitlines():
            key, _, value = raw.partition("=")
            if key == "frame" and value.strip().isdigit():
                frames = int(value)
            elif key == "out_time_us" and value.strip().lstrip("-").isdigit():
                out_time = max(int(value) / 1e6, 0.0)
        return ProbedMedia(
            container=container,
            codec=codec,
            width=width,
            height=height,
            frame_count=frames,
            duration_s=duration or out_time,
            declared_fps=fps,
            has_audio=has_audio,
            content_type=_content_type(container, codec, brand),
        )

    def _raise_for(self, errors: list[_LogLine]) -> None:
        # "Format not on whitelist" (a demuxer we do not allow) and a bare "Invalid data found" (no
        # demuxer recognised it) both mean: not media we read. Anything more specific is damage.
        specific = [e for e in errors if not e.text.startswith(_CONSEQUENCES) and "not on whitelist" not in e.text]
        if not specific:
            raise InvalidArgument(
                f"the media is not an image or video in a supported format ({SUPPORTED})",
                field="body",
                reason="UNSUPPORTED_MEDIA_TYPE",
            )
        raise undecodable(_clean(specific[0].text, self._path))

    # --- decode ----------------------------------------------------------------------------------------

    async def frames(
        self,
        *,
        width: int,
        height: int,
        max_pixels: int,
        deadline: float,
        pixels_for: frozenset[int] | None = None,
    ) -> AsyncGenerator[DecodedFrame, None]:
        # showinfo sees every decoded frame (its index and time reach the caller); with ``pixels_for`` only
        # those frames go on through select to be scaled, converted and piped.
        stream = self._input(max_pixels)["v:0"].filter("showinfo", checksum=0)
        expression = None if pixels_for is None else select_expression(pixels_for)
        if expression is None:
            pixels_for = None  # too scattered for one expression: every frame carries its pixels
        else:
            stream = stream.filter("select", expression)
        stream = (
            stream.filter("scale", width, height, flags="area")
            .filter("format", "rgb24")
            .output("pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough")
        )
        # Frames come through a pipe of our own, read by a worker thread a whole frame per call: asyncio's
        # pipe transport would wake the event loop for every 256 KiB chunk and copy each frame three times,
        # which cost more CPU than ffmpeg's decoding for videos whose frames are mostly not sampled.
        pixels_fd, ffmpeg_fd = os.pipe()
        with contextlib.suppress(OSError):  # a larger pipe: fewer reads per frame (best effort, ≤ 1 MiB)
            fcntl.fcntl(pixels_fd, fcntl.F_SETPIPE_SZ, min(width * height * 3, _PIPE_SIZE))
        try:
            process = await self._spawn(self._command(stream), stdout=ffmpeg_fd)
        except BaseException:
            os.close(pixels_fd)
            raise
        finally:
            os.close(ffmpeg_fd)
        assert process.stderr is not None
        loop = asyncio.get_running_loop()
        reading: asyncio.Future[bytes | None] | None = None
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            self.kill()

        timer = loop.call_at(deadline, expire)
        # Frame facts and errors from the log, in log order: an error logged before a frame's showinfo
        # line makes that frame (and everything after) suspect.
        events: asyncio.Queue[tuple[int, float] | _LogLine | None] = asyncio.Queue()
        reader = asyncio.create_task(self._read_log(process.stderr, events))
        frame_bytes = width * height * 3
        last_timestamp = 0.0
        # A frame without pixels waits for the next one: if it turns out to be the last, it gets its pixels
        # from a second run (the last frame always carries them).
        waiting: DecodedFrame | None = None
        try:
            while True:
                event = await events.get()
                if expired:
                    raise TimeoutError
                if isinstance(event, _LogLine):
                    raise undecodable(_clean(event.text, self._path))
                if event is None:
                    break
                index, timestamp = event
                last_timestamp = timestamp = max(timestamp, last_timestamp)
                if pixels_for is not None and index not in pixels_for:
                    if waiting is not None:
                        yield waiting
                    waiting = DecodedFrame(index, timestamp, b"", width, height)
                    continue
                reading = loop.run_in_executor(None, _read_frame, pixels_fd, frame_bytes)
                pixels = await reading
                reading = None
                if pixels is None:  # end of output (a cut-off last frame is not a frame)
                    break
                if waiting is not None:
                    yield waiting
                    waiting = None
                yield DecodedFrame(index, timestamp, pixels, width, height)
            returncode = await process.wait()
            await reader
            if expired:
                raise TimeoutError
            while not events.empty():
                event = events.get_nowait()
                if isinstance(event, _LogLine):
                    raise undecodable(_clean(event.text, self._path))
            if returncode != 0:
                log.warning("ffmpeg.failed", returncode=returncode)
                raise undecodable(f"ffmpeg stopped with status {returncode}")
            if waiting is not None:
                yield await self._with_pixels(waiting, max_pixels=max_pixels, deadline=deadline)
        finally:
            timer.cancel()
            reader.cancel()
            await asyncio.wait({reader})  # stderr has one reader at a time: let it stop first
            await self._finish(process)
            if reading is not None:  # ffmpeg is dead: the worker's read ends (EOF) before the pipe closes
                await asyncio.wait({reading})
            os.close(pixels_fd)

    async def _with_pixels(self, frame: DecodedFrame, *, max_pixels: int, deadline: float) -> DecodedFrame:
        """``frame`` with its pixels, decoded again (the container said there were more frames than there were,
        so the real last frame was not among those asked for)."""
        log.info("ffmpeg.last_frame_again", index=frame.index)
        frames = self.frames(
            width=frame.width,
            height=frame.height,
            max_pixels=max_pixels,
            deadline=deadline,
            pixels_for=frozenset({frame.index}),
        )
        try:
            async for decoded in frames:
                if decoded.index == frame.index and decoded.rgb:
                    return decoded
        finally:
            await frames.aclose()
        raise undecodable(f"frame {frame.index} could not be decoded a second time")

    @staticmethod
    async def _read_log(
        stderr: asyncio.StreamReader, events: asyncio.Queue[tuple[int, float] | _LogLine | None]
    ) -> None:
        try:
            async for raw_line in stderr:
                raw = raw_line.decode(errors="replace").rstrip()
                line = _parse_log_line(raw)
                if line is None:
                    continue
                if line.is_error:
                    events.put_nowait(line)
                elif match := _SHOWINFO.search(line.text):
                    try:
                        timestamp = float(match["t"])
                    except ValueError:  # NOPTS: keep the previous frame's time
                        timestamp = 0.0
                    events.put_nowait((int(match["n"]), timestamp))
        finally:
            events.put_nowait(None)
