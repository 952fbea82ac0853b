"""The four global configurations MuseNest ships (its scripts/migrate_current_settings.sql), as the JSON
bodies a PUT carries. Facts read from that file; used by the unit tests and the gateway tests."""

from __future__ import annotations

from typing import Any

#: intent → (weights, (approve, flag, reject), (underage, child), extra keywords, image_description /
#: description_analysis)
_SHIPPED: dict[str, tuple[dict[str, float], tuple[float, float, float], tuple[float, float], list[str], bool]] = {
    "public_site": (
        {
            "BREAST_EXPOSED": 30,
            "GENITALIA": 90,
            "BUTTOCKS_EXPOSED": 25,
            "ANUS_EXPOSED": 85,
            "FACE_DETECTED": 0,
            "SEXUAL_ACTIVITY": 95,
            "COVERED": 0,
            "CLOTHED": 0,
        },
        (10, 20, 85),
        (20.0, 15.0),
        ["student", "young"],
        True,
    ),
    "paysite": (
        {
            "BREAST_EXPOSED": 15,
            "GENITALIA": 45,
            "BUTTOCKS_EXPOSED": 12,
            "ANUS_EXPOSED": 35,
            "FACE_DETECTED": 0,
            "SEXUAL_ACTIVITY": 95,
            "ILLEGAL_CONTENT": 100,
        },
        (60, 80, 95),
        (50.0, 25.0),
        ["teen", "young"],
        True,
    ),
    "store": (
        {
            "BREAST_EXPOSED": 8,
            "GENITALIA": 25,
            "BUTTOCKS_EXPOSED": 6,
            "ANUS_EXPOSED": 20,
            "FACE_DETECTED": 0,
            "ILLEGAL_CONTENT": 100,
            "VIOLENCE": 100,
        },
        (85, 90, 98),
        (100.0, 50.0),
        [],
        False,
    ),
    "private": (
        {
            "BREAST_EXPOSED": 2,
            "GENITALIA": 8,
            "BUTTOCKS_EXPOSED": 1,
            "ANUS_EXPOSED": 5,
            "FACE_DETECTED": 0,
            "ILLEGAL_CONTENT": 100,
        },
        (95, 98, 100),
        (100.0, 100.0),
        [],
        False,
    ),
}

#: Weight keys of the shipped configurations that no Clearframe analyzer produces.
UNPRODUCED = {
    "public_site": {"SEXUAL_ACTIVITY", "COVERED", "CLOTHED"},
    "paysite": {"SEXUAL_ACTIVITY", "ILLEGAL_CONTENT"},
    "store": {"ILLEGAL_CONTENT", "VIOLENCE"},
    "private": {"ILLEGAL_CONTENT"},
}


def shipped(intent: str) -> dict[str, Any]:
    """MuseNest's shipped global configuration of ``intent`` (a fresh copy)."""
    weights, (approve, flag, reject), (underage, child), extra, captioning = _SHIPPED[intent]
    components = ("breast_detection", "genitalia_detection", "buttocks_detection", "anus_detection", "face_detection")
    return {
        "detection_config": {
            "nudenet_components": dict.fromkeys(components, True),
            "blip_components": {
                "age_estimation": True,
                "child_content_detection": True,
                "image_description": captioning,
            },
        },
        "scoring_config": {
            "detection_weights": dict(weights),
            "thresholds": {"auto_approve_under": approve, "auto_flag_over": flag, "auto_reject_over": reject},
            "risk_multipliers": {"underage_detected": underage, "child_content_blip": child},
        },
        "blip_config": {
            "enabled": True,
            "child_detection_keywords": ["child", "kid", "baby", "toddler", "minor", *extra],
            "age_estimation_threshold": 18,
            "description_analysis": captioning,
            "webhook_delivery": True,
        },
    }


SHIPPED_INTENTS = tuple(_SHIPPED)
