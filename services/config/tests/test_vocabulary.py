"""The shared vocabulary the config service validates against (runtime/clearframe_runtime/vocabulary.py)."""

from __future__ import annotations

from clearframe_runtime.vocabulary import COMPONENT_OF, LABEL_MAP, NUDENET_LABELS, PRODUCED_LABELS, map_label
from services.config.domain import SCHEMA


def test_musenests_mapping_of_the_nudenet_classes() -> None:
    mapped = {label: map_label(label) for label in NUDENET_LABELS}
    assert {label for label, name in mapped.items() if name != label} == set(LABEL_MAP)
    assert mapped["FEMALE_GENITALIA_EXPOSED"] == mapped["MALE_GENITALIA_EXPOSED"] == "GENITALIA"
    assert mapped["FEMALE_BREAST_EXPOSED"] == mapped["MALE_BREAST_EXPOSED"] == "BREAST_EXPOSED"
    assert mapped["FACE_FEMALE"] == mapped["FACE_MALE"] == "FACE_DETECTED"
    assert mapped["BUTTOCKS_EXPOSED"] == "BUTTOCKS_EXPOSED" and mapped["FEMALE_GENITALIA_COVERED"] == (
        "FEMALE_GENITALIA_COVERED"
    )
    # Labels that are not NudeNet's keep their name (MuseNest's ILLEGAL_CONTENT, …).
    assert map_label("ILLEGAL_CONTENT") == "ILLEGAL_CONTENT"


def test_every_switch_governs_a_produced_label_and_exists_in_the_schema() -> None:
    switches = SCHEMA["detection_config"]["nudenet_components"]
    assert set(COMPONENT_OF.values()) == set(switches)
    assert set(COMPONENT_OF) <= PRODUCED_LABELS
    assert len(NUDENET_LABELS) == len(set(NUDENET_LABELS)) == 18
