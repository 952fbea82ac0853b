"""Names more than one service speaks, written once: the usage intents, the NudeNet 320n classes and
MuseNest's mapping of those classes onto the labels its weights are given under.

The config service validates configurations against them; the scanner maps the detector's output rows
onto them and decides with them; moderation filters by intent.
"""

from __future__ import annotations

#: The usage intents of seed 004 (MuseNest); every configuration, scan and review case has one.
USAGE_INTENTS: tuple[str, ...] = ("public_site", "paysite", "store", "private")

#: The 18 classes of the NudeNet 320n detector, in the model's output order (rows 4..21 of ``output0``).
NUDENET_LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

#: MuseNest's mapping: these raw NudeNet labels are weighted (and reported) under the mapped name.
LABEL_MAP: dict[str, str] = {
    "FEMALE_GENITALIA_EXPOSED": "GENITALIA",
    "MALE_GENITALIA_EXPOSED": "GENITALIA",
    "FEMALE_BREAST_EXPOSED": "BREAST_EXPOSED",
    "MALE_BREAST_EXPOSED": "BREAST_EXPOSED",
    "FACE_FEMALE": "FACE_DETECTED",
    "FACE_MALE": "FACE_DETECTED",
}

#: Mapped label → the ``detection_config.nudenet_components`` switch that enables it.
COMPONENT_OF: dict[str, str] = {
    "BREAST_EXPOSED": "breast_detection",
    "GENITALIA": "genitalia_detection",
    "BUTTOCKS_EXPOSED": "buttocks_detection",
    "ANUS_EXPOSED": "anus_detection",
    "FACE_DETECTED": "face_detection",
}

#: Every label a Clearframe analyzer produces that a detection weight can apply to: the raw NudeNet
#: classes and the mapped names.
PRODUCED_LABELS: frozenset[str] = frozenset(NUDENET_LABELS) | frozenset(LABEL_MAP.values())


def map_label(label: str) -> str:
    """The name a detection is weighted under: MuseNest's mapped label, else the label itself."""
    return LABEL_MAP.get(label, label)
