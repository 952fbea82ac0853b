"""Seed 000's answers, derived honestly from Clearframe's models.

No offline model yields the original's five NSFW classes or DeepDanbooru tags, so they are derived
from OpenNSFW's unsafe probability and NudeNet's detections (README: "How /check is derived"):

* explicit evidence X = max score of exposed genitalia/anus detections;
* suggestive evidence S = max score of exposed breast/buttocks detections;
* p = OpenNSFW's unsafe probability;
* porn = max(X, p when any exposure was detected, else 0);
* sexy = min(1 − porn, max(S, p − porn));
* hentai = drawings = 0 (no drawing/anime model ships offline: reported as 0, never guessed);
* neutral = 1 − porn − sexy.

So hentai + porn + sexy (the bot's risk) and max(hentai, porn, sexy) (SuperVisOr's) stay in 0..1 and
reach "safe" exactly when neither model saw nudity. The rating tag follows the same evidence:
rating:explicit when porn ≥ 0.7, rating:questionable when max(porn, sexy) ≥ 0.4, else rating:safe.
Per-frame risk is the seed's `_risk_from`: max(hentai, porn, sexy), raised to 1.0 for rating:explicit
and 0.7 for rating:questionable, rounded to 3 decimals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.scanner.analyzers.base import Detection

EXPLICIT = frozenset({"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED"})
SUGGESTIVE = frozenset({"FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED"})
#: NudeNet classes → the tag vocabulary the seed's clients know (DeepDanbooru-style). Derived.
DANBOORU_TAGS = {
    "FEMALE_BREAST_EXPOSED": "breasts",
    "FEMALE_GENITALIA_EXPOSED": "pussy",
    "MALE_GENITALIA_EXPOSED": "penis",
    "BUTTOCKS_EXPOSED": "ass",
    "ANUS_EXPOSED": "anus",
    "MALE_BREAST_EXPOSED": "male_chest",
    "FEET_EXPOSED": "feet",
    "ARMPITS_EXPOSED": "armpits",
    "BELLY_EXPOSED": "navel",
    "FACE_FEMALE": "female_face",
    "FACE_MALE": "male_face",
    "FEMALE_BREAST_COVERED": "covered_breasts",
    "FEMALE_GENITALIA_COVERED": "covered_crotch",
    "BUTTOCKS_COVERED": "covered_ass",
    "BELLY_COVERED": "covered_navel",
    "FEET_COVERED": "footwear",
    "ARMPITS_COVERED": "covered_armpits",
    "ANUS_COVERED": "covered_anus",
}
TAG_MIN_SCORE = 0.2
RATING_RISK = {"rating:explicit": 1.0, "rating:questionable": 0.7}


@dataclass(frozen=True)
class NsfwClasses:
    drawings: float
    hentai: float
    neutral: float
    porn: float
    sexy: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in vars(self).items()}


def _max_score(detections: Iterable[Detection], labels: frozenset[str]) -> float:
    return max((d.score for d in detections if d.label in labels), default=0.0)


def nsfw_classes(unsafe: float, detections: Sequence[Detection]) -> NsfwClasses:
    explicit = _max_score(detections, EXPLICIT)
    suggestive = _max_score(detections, SUGGESTIVE)
    porn = max(explicit, unsafe if (explicit or suggestive) else 0.0)
    sexy = min(1.0 - porn, max(suggestive, unsafe - porn, 0.0))
    return NsfwClasses(drawings=0.0, hentai=0.0, neutral=max(0.0, 1.0 - porn - sexy), porn=porn, sexy=sexy)


def rating(classes: NsfwClasses) -> str:
    if classes.porn >= 0.7:
        return "rating:explicit"
    if max(classes.porn, classes.sexy) >= 0.4:
        return "rating:questionable"
    return "rating:safe"


def danbooru_tags(detections: Sequence[Detection], rating_tag: str) -> list[tuple[str, float]]:
    """Tags with score > 0.2, best first, plus the rating tag (score 1.0), as the seed's module did."""
    best: dict[str, float] = {}
    for detection in detections:
        tag = DANBOORU_TAGS.get(detection.label, detection.label.lower())
        if detection.score > TAG_MIN_SCORE:
            best[tag] = max(best.get(tag, 0.0), detection.score)
    tags = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return [(rating_tag, 1.0), *tags]


def frame_risk(classes: NsfwClasses, rating_tag: str) -> float:
    """The seed's `_risk_from`."""
    risk = max(classes.hentai, classes.porn, classes.sexy)
    risk = max(risk, RATING_RISK.get(rating_tag, 0.0))
    return round(min(risk, 1.0), 3)
