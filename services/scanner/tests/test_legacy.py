"""Seed 000's five NSFW classes, rating tags and risk, derived from OpenNSFW and NudeNet, read with both
clients' own formulas: the Discord bot (hentai + porn + sexy; flags at 0.6, deletes at 0.95) and
SuperVisOr (max(hentai, porn, sexy) raised to 1.0 by rating:explicit and 0.7 by rating:questionable; NSFW
at ≥ 0.7)."""

from __future__ import annotations

import pytest

from services.scanner.domain.legacy import NsfwClasses, danbooru_tags, frame_risk, nsfw_classes, rating
from services.scanner.tests.fakes import detection

RATING_FLOOR = {"rating:explicit": 1.0, "rating:questionable": 0.7}


def bot_risk(classes: NsfwClasses) -> float:
    return classes.hentai + classes.porn + classes.sexy


def supervisor_score(classes: NsfwClasses, tags: list[tuple[str, float]]) -> float:
    score = max(classes.hentai, classes.porn, classes.sexy)
    for tag, _ in tags:
        score = max(score, RATING_FLOOR.get(tag, 0.0))
    return score


def derive(unsafe: float, *detections: tuple[str, float]) -> tuple[NsfwClasses, str, list[tuple[str, float]]]:
    found = [detection(label, score) for label, score in detections]
    classes = nsfw_classes(unsafe, found)
    tag = rating(classes)
    return classes, tag, danbooru_tags(found, tag)


def test_classes_sum_to_one_and_drawings_hentai_are_never_guessed() -> None:
    for unsafe, found in [
        (0.0, ()),
        (0.3, ()),
        (0.9, (("FEMALE_BREAST_EXPOSED", 0.6),)),
        (0.2, (("ANUS_EXPOSED", 0.8),)),
    ]:
        classes, _, _ = derive(unsafe, *found)
        total = classes.drawings + classes.hentai + classes.neutral + classes.porn + classes.sexy
        assert total == pytest.approx(1.0)
        assert classes.drawings == classes.hentai == 0.0


def test_safe_media_is_safe_for_both_clients() -> None:
    classes, tag, tags = derive(0.05)
    assert (classes.porn, classes.sexy, tag) == (0.0, 0.05, "rating:safe")
    assert bot_risk(classes) < 0.6
    assert supervisor_score(classes, tags) < 0.7
    assert frame_risk(classes, tag) == 0.05


def test_explicit_exposure_is_nsfw_for_both_clients() -> None:
    classes, tag, tags = derive(0.4, ("FEMALE_GENITALIA_EXPOSED", 0.85))
    assert classes.porn == 0.85  # the explicit evidence wins over p
    assert tag == "rating:explicit"
    assert 0.6 <= bot_risk(classes) < 0.95  # the bot flags it: a person looks
    assert supervisor_score(classes, tags) == 1.0
    assert frame_risk(classes, tag) == 1.0
    assert tags[0] == ("rating:explicit", 1.0) and ("pussy", 0.85) in tags
    certain, _, _ = derive(0.99, ("MALE_GENITALIA_EXPOSED", 0.97))
    assert bot_risk(certain) >= 0.95  # near-certain explicit evidence: the bot deletes


def test_suggestive_exposure_is_questionable() -> None:
    classes, tag, tags = derive(0.3, ("FEMALE_BREAST_EXPOSED", 0.55))
    # p counts as porn once an exposure was seen; sexy = min(1 − porn, max(S, p − porn)).
    assert (classes.porn, classes.sexy) == (0.3, 0.55)
    assert tag == "rating:questionable"  # max(porn, sexy) ≥ 0.4
    assert 0.6 <= bot_risk(classes) < 0.95  # the bot flags, does not delete
    assert supervisor_score(classes, tags) == 0.7
    assert frame_risk(classes, tag) == 0.7


def test_unsafe_without_exposure_is_only_sexy() -> None:
    classes, tag, _ = derive(0.65)
    assert (classes.porn, classes.sexy, tag) == (0.0, 0.65, "rating:questionable")


@pytest.mark.parametrize(
    ("porn", "sexy", "tag"),
    [
        (0.7, 0.0, "rating:explicit"),
        (0.6999, 0.0, "rating:questionable"),
        (0.0, 0.4, "rating:questionable"),
        (0.0, 0.3999, "rating:safe"),
    ],
)
def test_rating_boundaries(porn: float, sexy: float, tag: str) -> None:
    assert rating(NsfwClasses(0.0, 0.0, 1.0 - porn - sexy, porn, sexy)) == tag


def test_danbooru_tags_keep_scores_above_0_2_best_first_with_the_rating_first() -> None:
    found = [
        detection("BELLY_EXPOSED", 0.5),
        detection("FEET_EXPOSED", 0.2),  # not above 0.2
        detection("BUTTOCKS_EXPOSED", 0.9),
        detection("BUTTOCKS_EXPOSED", 0.3),  # the best of a tag is kept
        detection("SOMETHING_NEW", 0.6),  # unknown classes keep their name, lower-cased
    ]
    assert danbooru_tags(found, "rating:safe") == [
        ("rating:safe", 1.0),
        ("ass", 0.9),
        ("something_new", 0.6),
        ("navel", 0.5),
    ]


def test_as_dict_rounds_to_four_decimals() -> None:
    assert NsfwClasses(0.0, 0.0, 0.123456, 0.5, 0.376544).as_dict() == {
        "drawings": 0.0,
        "hentai": 0.0,
        "neutral": 0.1235,
        "porn": 0.5,
        "sexy": 0.3765,
    }
