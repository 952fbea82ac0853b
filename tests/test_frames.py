"""The frames service through the gateway (REST and native gRPC), on real media made with ffmpeg.

Media is built once per module from photos that ship with scikit-image: an animated GIF, APNG and
animated WebP, an H.264 MP4 with its moov atom at the end, a VP9 WebM and an MPEG-4 MOV, all 23 frames
of 160x120 at 10 fps. A longer 640x480 clip keeps ffmpeg busy for the streaming, cancellation and
time-limit tests, which look for ffmpeg children of the frames service in /proc.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import imageio_ffmpeg
import numpy as np
import numpy.typing as npt
import pytest
from google.api import httpbody_pb2
from PIL import Image
from skimage import data as samples
from skimage.transform import resize

from clearframe.frames.v1 import frames_service_pb2 as pb
from clearframe.frames.v1 import frames_service_pb2_grpc
from clearframe_mesh.launcher import REPO_ROOT, Mesh
from clearframe_mesh.process import free_port
from clearframe_mesh.readiness import wait_serving
from clearframe_runtime.principal import KIND_API_KEY, Principal, PrincipalCodec
from clearframe_runtime.status import error_info
from tests.conftest import make_key

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
FRAMES, FPS, SIZE = 23, 10, (160, 120)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
#: The sampling rule for 23 frames: GIF-like step 5, video step 20 (first, every Nth, last).
IMAGE_RULE = [0, 5, 10, 15, 20, 22]
VIDEO_RULE = [0, 20, 22]


# --- media ---------------------------------------------------------------------------------------------


def _photo_frames(count: int, size: tuple[int, int]) -> Iterator[bytes]:
    width, height = size
    photos: list[npt.NDArray[np.uint8]] = []
    for name in PHOTOS:
        # skimage is untyped
        scaled = resize(getattr(samples, name)(), (height, width), anti_aliasing=True)  # type: ignore[no-untyped-call]
        photos.append((scaled * 255).astype(np.uint8))
    for i in range(count):
        # A different photo each frame, panned a little, so neighbouring frames really differ.
        yield np.ascontiguousarray(np.roll(photos[i % len(photos)][:, :, :3], 3 * i, axis=1)).tobytes()


def _encode(target: Path, count: int, size: tuple[int, int], fps: int, *args: str) -> bytes:
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    command += ["-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "pipe:0", *args, str(target)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    assert process.stdin is not None
    for frame in _photo_frames(count, size):
        process.stdin.write(frame)
    process.stdin.close()
    assert process.wait(timeout=120) == 0
    return target.read_bytes()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    work = tmp_path_factory.mktemp("frames-media")
    made = {
        "gif": _encode(work / "a.gif", FRAMES, SIZE, FPS),
        "mp4": _encode(work / "a.mp4", FRAMES, SIZE, FPS, "-c:v", "libx264", "-pix_fmt", "yuv420p"),
        "webm": _encode(work / "a.webm", FRAMES, SIZE, FPS, "-c:v", "libvpx-vp9"),
        "mov": _encode(work / "a.mov", FRAMES, SIZE, FPS, "-c:v", "mpeg4"),
        "apng": _encode(work / "a.apng", FRAMES, SIZE, FPS, "-f", "apng", "-plays", "0"),
        "webp": _encode(work / "a.webp", FRAMES, SIZE, FPS, "-c:v", "libwebp_anim", "-loop", "0"),
        "long": _encode(
            work / "long.mp4", 300, (640, 480), 30, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"
        ),
    }
    # The mp4 muxer's default: the index (moov) after the data, unreadable from a pipe.
    assert made["mp4"].index(b"moov") > made["mp4"].index(b"mdat")
    return made


KINDS = {
    "gif": ("gif", "image/gif", "MEDIA_KIND_ANIMATED_GIF", "gif", IMAGE_RULE, 5),
    "apng": ("apng", "image/apng", "MEDIA_KIND_ANIMATED_IMAGE", "apng", IMAGE_RULE, 5),
    "webp": ("webp_anim", "image/webp", "MEDIA_KIND_ANIMATED_IMAGE", "webp_anim", IMAGE_RULE, 5),
    "mp4": ("mov,mp4,m4a,3gp,3g2,mj2", "video/mp4", "MEDIA_KIND_VIDEO", "h264", VIDEO_RULE, 20),
    "mov": ("mov,mp4,m4a,3gp,3g2,mj2", "video/quicktime", "MEDIA_KIND_VIDEO", "mpeg4", VIDEO_RULE, 20),
    "webm": ("matroska,webm", "video/webm", "MEDIA_KIND_VIDEO", "vp9", VIDEO_RULE, 20),
}


# --- callers -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scans_key(http: httpx.Client, admin_headers: dict[str, str]) -> str:
    return make_key(http, admin_headers, "scans.create")


@pytest.fixture(scope="module")
def auth(scans_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {scans_key}"}


@pytest.fixture(scope="module")
def stub(gateway_channel: grpc.Channel) -> frames_service_pb2_grpc.FramesServiceStub:
    return frames_service_pb2_grpc.FramesServiceStub(gateway_channel)


@pytest.fixture(scope="module")
def grpc_auth(scans_key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {scans_key}")]


def extract_request(
    data: bytes,
    content_type: str = "application/octet-stream",
    sampling: pb.FrameSampling | None = None,
    output: pb.FrameOutput | None = None,
) -> pb.ExtractFramesRequest:
    return pb.ExtractFramesRequest(
        body=httpbody_pb2.HttpBody(content_type=content_type, data=data), sampling=sampling, output=output
    )


def ffmpeg_children(pid: int) -> list[int]:
    """Live (not zombie) ffmpeg processes whose parent is ``pid``, read from /proc."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z" and b"ffmpeg" in command:
            found.append(int(entry.name))
    return found


def wait_for_no_ffmpeg(pid: int, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while ffmpeg_children(pid):
        assert time.monotonic() - started < timeout, f"ffmpeg still running under {pid}: {ffmpeg_children(pid)}"
        time.sleep(0.02)
    return time.monotonic() - started


def frames_pid(mesh: Mesh) -> int:
    return mesh.processes["frames"].pid


# --- probe ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(KINDS))
def test_probe_reports_the_media_facts(
    http: httpx.Client, auth: dict[str, str], media: dict[str, bytes], name: str
) -> None:
    container, content_type, kind, codec, _, _ = KINDS[name]
    response = http.post(
        "/v1/media:probe", headers={**auth, "content-type": "application/octet-stream"}, content=media[name]
    )
    assert response.status_code == 200, response.text
    info = response.json()["media"]
    assert info["container"] == container
    assert info["detected_content_type"] == content_type
    assert info["kind"] == kind
    assert info["codec"] == codec
    assert (info["width"], info["height"]) == SIZE
    assert info["frame_count"] == FRAMES
    assert info["duration"] == "2.300s"
    assert info["fps"] == pytest.approx(10.0)
    assert int(info["size_bytes"]) == len(media[name])
    assert info["has_audio"] is False


# --- extraction over native gRPC -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(KINDS))
def test_extract_frames_follows_the_sampling_rule(
    stub: frames_service_pb2_grpc.FramesServiceStub,
    grpc_auth: list[tuple[str, str]],
    media: dict[str, bytes],
    name: str,
) -> None:
    _, content_type, _, _, rule, step = KINDS[name]
    replies = list(stub.ExtractFrames(extract_request(media[name], content_type), metadata=grpc_auth, timeout=30))
    assert replies[0].WhichOneof("payload") == "media" and replies[0].media.frame_count == FRAMES
    frames = [r.frame for r in replies[1:-1]]
    assert all(r.WhichOneof("payload") == "frame" for r in replies[1:-1])
    assert [f.index for f in frames] == rule
    assert [f.sample_index for f in frames] == list(range(len(rule)))
    timestamps = [f.timestamp.ToNanoseconds() / 1e9 for f in frames]
    assert timestamps == pytest.approx([i / FPS for i in rule], abs=0.002)
    assert all(a < b for a, b in itertools.pairwise(timestamps))
    for frame in frames:
        assert frame.content_type == "image/png"
        image = Image.open(io.BytesIO(frame.image))
        assert image.format == "PNG" and image.size == SIZE == (frame.width, frame.height)
    summary = replies[-1].summary
    assert (summary.frames_sent, summary.frames_decoded, summary.step_used, summary.thinned) == (
        len(rule),
        23,
        step,
        False,
    )


def test_frames_are_the_source_frames(
    stub: frames_service_pb2_grpc.FramesServiceStub, grpc_auth: list[tuple[str, str]], media: dict[str, bytes]
) -> None:
    """Frame 5 of the GIF is the photo that was encoded as frame 5 (a lossless source)."""
    replies = list(stub.ExtractFrames(extract_request(media["apng"]), metadata=grpc_auth, timeout=30))
    frame = next(r.frame for r in replies if r.WhichOneof("payload") == "frame" and r.frame.index == 5)
    decoded = np.asarray(Image.open(io.BytesIO(frame.image)).convert("RGB"))
    expected = np.frombuffer(list(_photo_frames(6, SIZE))[5], np.uint8).reshape(SIZE[1], SIZE[0], 3)
    assert np.array_equal(decoded, expected)


def test_step_cap_and_jpeg_output(
    stub: frames_service_pb2_grpc.FramesServiceStub, grpc_auth: list[tuple[str, str]], media: dict[str, bytes]
) -> None:
    request = extract_request(
        media["gif"],
        sampling=pb.FrameSampling(step=pb.StepSampling(gif_step=2), max_frames=4),
        output=pb.FrameOutput(format=pb.IMAGE_FORMAT_JPEG, max_dimension=80, jpeg_quality=70),
    )
    replies = list(stub.ExtractFrames(request, metadata=grpc_auth, timeout=30))
    frames = [r.frame for r in replies if r.WhichOneof("payload") == "frame"]
    # Step 2 selects 0, 2, …, 22 (12 frames); the cap of 4 keeps the first and the last and spreads the
    # rest evenly: positions 0, 3, 7, 11 of that list.
    assert [f.index for f in frames] == [0, 6, 14, 22]
    assert replies[-1].summary.thinned is True
    for frame in frames:
        image = Image.open(io.BytesIO(frame.image))
        assert frame.content_type == "image/jpeg" and image.format == "JPEG" and image.size == (80, 60)


def test_interval_sampling_and_rgb24(
    stub: frames_service_pb2_grpc.FramesServiceStub, grpc_auth: list[tuple[str, str]], media: dict[str, bytes]
) -> None:
    request = extract_request(
        media["webm"],
        sampling=pb.FrameSampling(interval=pb.IntervalSampling(interval={"nanos": 750_000_000})),
        output=pb.FrameOutput(format=pb.IMAGE_FORMAT_RGB24),
    )
    replies = list(stub.ExtractFrames(request, metadata=grpc_auth, timeout=30))
    frames = [r.frame for r in replies if r.WhichOneof("payload") == "frame"]
    # Multiples of 0.75 s below 2.3 s: 0, 0.75, 1.5, 2.25 → the first frames at or after 0, 0.75 and 1.5
    # (frames 0, 8, 15); none is at or after 2.25, and the last frame (22) always comes.
    assert [f.index for f in frames] == [0, 8, 15, 22]
    assert all(len(f.image) == 160 * 120 * 3 and f.content_type == "application/octet-stream" for f in frames)
    assert replies[-1].summary.step_used == 0


def test_rest_extraction_streams_ndjson(http: httpx.Client, auth: dict[str, str], media: dict[str, bytes]) -> None:
    params = {"sampling.max_frames": "3", "output.format": "IMAGE_FORMAT_JPEG"}
    with http.stream(
        "POST",
        "/v1/media:extractFrames",
        params=params,
        headers={**auth, "content-type": "image/gif"},
        content=media["gif"],
    ) as response:
        assert response.status_code == 200
        lines = [json.loads(line) for line in response.iter_lines() if line.strip()]
    assert list(lines[0]) == ["media"] and lines[0]["media"]["frame_count"] == FRAMES
    frames = [line["frame"] for line in lines[1:-1]]
    assert [f["index"] for f in frames] == [0, 10, 22]
    assert [f["timestamp"] for f in frames] == ["0s", "1s", "2.200s"]
    for frame in frames:
        assert Image.open(io.BytesIO(base64.b64decode(frame["image"]))).size == SIZE
    assert lines[-1]["summary"]["frames_sent"] == 3 and lines[-1]["summary"]["thinned"] is True


# --- streaming and cancellation ------------------------------------------------------------------------


def test_first_frame_arrives_while_ffmpeg_decodes_and_cancelling_kills_it(
    stub: frames_service_pb2_grpc.FramesServiceStub,
    grpc_auth: list[tuple[str, str]],
    media: dict[str, bytes],
    mesh: Mesh,
) -> None:
    request = extract_request(
        media["long"], sampling=pb.FrameSampling(step=pb.StepSampling(video_step=1), max_frames=300)
    )
    call = stub.ExtractFrames(request, metadata=grpc_auth, timeout=60)
    replies = iter(call)
    assert next(replies).media.frame_count == 300
    first = next(replies).frame
    assert first.index == 0 and Image.open(io.BytesIO(first.image)).size == (640, 480)
    # The stream is live: the frame came while ffmpeg is still decoding the rest.
    assert ffmpeg_children(frames_pid(mesh)), "the first frame should arrive before decoding ends"
    call.cancel()  # what the scanner does when it has seen enough
    waited = wait_for_no_ffmpeg(frames_pid(mesh))
    assert waited < 5


# --- bad input -----------------------------------------------------------------------------------------


def _gif_claiming(media: dict[str, bytes], width: int, height: int) -> bytes:
    """The GIF with its logical screen (header bytes 6-9, little endian) claiming another size."""
    data = bytearray(media["gif"])
    data[6:10] = width.to_bytes(2, "little") + height.to_bytes(2, "little")
    return bytes(data)


BadInput = tuple[Callable[[dict[str, bytes]], bytes], dict[str, str], int, str, str]
BAD_INPUT: dict[str, BadInput] = {
    # name: (body maker, query, status, reason, words in the message)
    "random bytes": (lambda m: os.urandom(4096), {}, 400, "UNSUPPORTED_MEDIA_TYPE", "supported format"),
    "text file": (
        lambda m: b"hello, this is not a video\n" * 200,
        {},
        400,
        "UNSUPPORTED_MEDIA_TYPE",
        "supported format",
    ),
    "truncated mp4": (lambda m: m["mp4"][: len(m["mp4"]) // 2], {}, 400, "MEDIA_UNDECODABLE", "moov atom not found"),
    "truncated webm": (lambda m: m["webm"][: len(m["webm"]) // 2], {}, 400, "MEDIA_UNDECODABLE", "ended prematurely"),
    "empty body": (lambda m: b"", {}, 400, "EMPTY_BODY", "empty"),
    "oversized body": (lambda m: b"\0" * (25 * 1024 * 1024 + 1), {}, 400, "PAYLOAD_TOO_LARGE", "max_input_bytes"),
    "bomb: huge sides": (lambda m: _gif_claiming(m, 60000, 60000), {}, 400, "DIMENSIONS_TOO_LARGE", "max_dimension"),
    "bomb: huge area": (lambda m: _gif_claiming(m, 8000, 8000), {}, 400, "DIMENSIONS_TOO_LARGE", "max_pixels"),
    "too many frames": (
        lambda m: m["gif"],
        {"limits.max_source_frames": "10"},
        400,
        "TOO_MANY_FRAMES",
        "23 frames; the limit max_source_frames is 10",
    ),
    "too long": (lambda m: m["mp4"], {"limits.max_duration": "1s"}, 400, "DURATION_TOO_LONG", "max_duration is 1 s"),
    "request raises a limit": (
        lambda m: m["gif"],
        {"limits.max_dimension": "10000"},
        400,
        "INVALID_LIMITS",
        "limits.max_dimension",
    ),
    "cap out of range": (lambda m: m["gif"], {"sampling.max_frames": "5000"}, 400, "INVALID_SAMPLING", "max_frames"),
}


@pytest.mark.parametrize(
    ("case", "path"),
    [
        (case, path)
        for case, (_, params, *_) in BAD_INPUT.items()
        for path in ("/v1/media:probe", "/v1/media:extractFrames")
        if path.endswith("extractFrames") or not any(k.startswith("sampling.") for k in params)
    ],
)
def test_bad_input_is_refused_quickly_with_a_reason(
    http: httpx.Client, auth: dict[str, str], media: dict[str, bytes], mesh: Mesh, case: str, path: str
) -> None:
    make, params, status, reason, words = BAD_INPUT[case]
    started = time.monotonic()
    response = http.post(path, params=params, headers={**auth, "content-type": "video/mp4"}, content=make(media))
    elapsed = time.monotonic() - started
    assert response.status_code == status, response.text
    body = response.json()
    assert body["details"][0]["reason"] == reason
    assert words in body["message"]
    assert elapsed < 5
    assert not ffmpeg_children(frames_pid(mesh))


def test_truncated_gif_ends_the_stream_with_an_error_after_the_good_frames(
    stub: frames_service_pb2_grpc.FramesServiceStub, grpc_auth: list[tuple[str, str]], media: dict[str, bytes]
) -> None:
    truncated = media["gif"][: len(media["gif"]) * 2 // 3]
    received: list[pb.ExtractFramesResponse] = []
    with pytest.raises(grpc.RpcError) as failure:
        for reply in stub.ExtractFrames(extract_request(truncated, "image/gif"), metadata=grpc_auth, timeout=30):
            received.append(reply)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(failure.value)
    assert info is not None and info.reason == "MEDIA_UNDECODABLE"
    assert "truncated or corrupt" in failure.value.details()
    # The frames before the damage were sent and are whole images; the last message repeats the status.
    frames = [r.frame for r in received if r.WhichOneof("payload") == "frame"]
    assert frames and frames[0].index == 0
    assert all(Image.open(io.BytesIO(f.image)).size == SIZE for f in frames)
    assert received[-1].WhichOneof("payload") == "error"
    assert received[-1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert received[-1].error.message == failure.value.details()


def test_rest_stream_that_fails_midway_ends_with_an_error_line(
    http: httpx.Client, auth: dict[str, str], media: dict[str, bytes]
) -> None:
    truncated = media["gif"][: len(media["gif"]) * 2 // 3]
    response = http.post("/v1/media:extractFrames", headers={**auth, "content-type": "image/gif"}, content=truncated)
    assert response.status_code == 200  # sent with the first line, before the damage was found
    lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    assert list(lines[0]) == ["media"] and "frame" in lines[1]
    error = lines[-1]["error"]
    assert error["code"] == 3 and "truncated or corrupt" in error["message"]
    assert error["details"][0]["reason"] == "MEDIA_UNDECODABLE"


def test_permission_scans_create_is_required(
    http: httpx.Client, admin_headers: dict[str, str], media: dict[str, bytes]
) -> None:
    other = make_key(http, admin_headers, "config.read")
    response = http.post("/v1/media:probe", headers={"Authorization": f"Bearer {other}"}, content=media["gif"])
    assert response.status_code == 403
    assert response.json()["details"][0]["reason"] == "INSUFFICIENT_PERMISSIONS"
    assert http.post("/v1/media:probe", content=media["gif"]).status_code == 401


# --- a frames service of its own, with a tiny decode time limit ----------------------------------------


SECRET = "frames-test-secret-0123456789"


@pytest.fixture(scope="module")
def slow_limit_frames(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """``python -m services.frames`` with CLEARFRAME_FRAMES_DECODE_TIMEOUT_S=0.5 on a free port."""
    target = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "CLEARFRAME_LISTEN": target,
        "CLEARFRAME_INTERNAL_SECRET": SECRET,
        "CLEARFRAME_FRAMES_DECODE_TIMEOUT_S": "0.5",
    }
    log = (tmp_path_factory.mktemp("frames-service") / "frames.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.frames"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_serving(target, timeout_s=30, process=process)
        yield target, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def _signed(*permissions: str) -> list[tuple[str, str]]:
    value, signature = PrincipalCodec(SECRET).encode(Principal("frames-test", KIND_API_KEY, frozenset(permissions)))
    return [("x-clearframe-principal", value), ("x-clearframe-principal-signature", signature)]


def test_decode_time_limit_kills_ffmpeg(slow_limit_frames: tuple[str, int], media: dict[str, bytes]) -> None:
    target, pid = slow_limit_frames
    request = extract_request(
        media["long"], sampling=pb.FrameSampling(step=pb.StepSampling(video_step=1), max_frames=300)
    )
    with grpc.insecure_channel(target) as channel:
        stub = frames_service_pb2_grpc.FramesServiceStub(channel)
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as failure:
            for _ in stub.ExtractFrames(request, metadata=_signed("scans.create"), timeout=30):
                pass
        elapsed = time.monotonic() - started
    assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    info = error_info(failure.value)
    assert info is not None
    assert info.reason == "EXTRACTION_TIMEOUT" and info.metadata["limit"] == "decode_timeout"
    assert "decode time limit of 0.5 s" in failure.value.details()
    assert elapsed < 5
    wait_for_no_ffmpeg(pid, timeout=2)


def test_call_deadline_kills_ffmpeg(slow_limit_frames: tuple[str, int], media: dict[str, bytes]) -> None:
    target, pid = slow_limit_frames
    request = extract_request(
        media["long"], sampling=pb.FrameSampling(step=pb.StepSampling(video_step=1), max_frames=300)
    )
    with grpc.insecure_channel(target) as channel:
        stub = frames_service_pb2_grpc.FramesServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            for _ in stub.ExtractFrames(request, metadata=_signed("scans.create"), timeout=0.2):
                pass
    assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    wait_for_no_ffmpeg(pid, timeout=2)


def test_direct_calls_need_a_signed_principal(slow_limit_frames: tuple[str, int], media: dict[str, bytes]) -> None:
    target, _ = slow_limit_frames
    with grpc.insecure_channel(target) as channel:
        stub = frames_service_pb2_grpc.FramesServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            stub.ProbeMedia(pb.ProbeMediaRequest(body=httpbody_pb2.HttpBody(data=media["gif"])), timeout=5)
        assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as failure:
            stub.ProbeMedia(
                pb.ProbeMediaRequest(body=httpbody_pb2.HttpBody(data=media["gif"])),
                metadata=_signed("config.read"),
                timeout=5,
            )
        assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
        answer = stub.ProbeMedia(
            pb.ProbeMediaRequest(body=httpbody_pb2.HttpBody(data=media["gif"])),
            metadata=_signed("scans.create"),
            timeout=5,
        )
        assert answer.media.frame_count == FRAMES
