"""Validation (every rule names its field), defaults, resolution order, masks and the cache, without I/O."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from clearframe_runtime.errors import InvalidArgument
from services.config.domain import (
    USAGE_INTENTS,
    ChangeFeed,
    ConfigEvent,
    EventType,
    ResolutionCache,
    Resolved,
    Source,
    apply_update_mask,
    builtin_config,
    builtin_document,
    check_model_id,
    check_usage_intent,
    describe_error,
    require_valid,
    resolve,
    validate,
)
from services.config.ports import StoredConfig


def body() -> dict[str, Any]:
    return copy.deepcopy(builtin_document("paysite"))


def set_path(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    keys = path.split(".")
    node = document
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return document


def drop_path(document: dict[str, Any], path: str) -> dict[str, Any]:
    keys = path.split(".")
    node = document
    for key in keys[:-1]:
        node = node[key]
    del node[keys[-1]]
    return document


def first_field(document: Any) -> str:
    with pytest.raises(InvalidArgument) as failure:
        require_valid(document)
    assert failure.value.reason == "VALIDATION_ERROR"
    assert failure.value.field is not None
    return failure.value.field


def test_builtin_defaults_are_valid_for_every_intent() -> None:
    for intent in USAGE_INTENTS:
        report = validate(builtin_document(intent))
        assert report.valid, report.errors
        assert report.not_run == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("scoring_config.detection_weights.GENITALIA", 120),
        ("scoring_config.detection_weights.GENITALIA", -1),
        ("scoring_config.detection_weights.GENITALIA", "85"),
        ("scoring_config.detection_weights.GENITALIA", True),
        ("scoring_config.detection_weights.GENITALS", 10),
        ("scoring_config.thresholds.auto_approve_under", 101),
        ("scoring_config.thresholds.auto_flag_over", -5),
        ("scoring_config.thresholds.auto_reject_over", None),
        ("scoring_config.risk_multipliers.underage_detected", -0.5),
        ("scoring_config.risk_multipliers.child_content_blip", "high"),
        ("detection_config.nudenet_components.breast_detection", "yes"),
        ("detection_config.blip_components.image_description", 1),
        ("blip_config.enabled", None),
        ("blip_config.age_estimation_threshold", 17.5),
        ("blip_config.age_estimation_threshold", 0),
        ("blip_config.age_estimation_threshold", 81),
        ("blip_config.child_detection_keywords", "child"),
        ("blip_config.webhook_delivery", "true"),
        ("scoring_config.thresholds", [1, 2, 3]),
    ],
)
def test_bad_values_name_their_field(path: str, value: Any) -> None:
    assert first_field(set_path(body(), path, value)) == path


@pytest.mark.parametrize("keyword", ["", "   ", 7, None])
def test_keywords_must_be_non_empty_strings(keyword: Any) -> None:
    document = set_path(body(), "blip_config.child_detection_keywords", ["child", keyword])
    assert first_field(document) == "blip_config.child_detection_keywords[1]"


@pytest.mark.parametrize(
    "path",
    [
        "detection_config",
        "scoring_config",
        "blip_config",
        "detection_config.nudenet_components",
        "detection_config.nudenet_components.anus_detection",
        "scoring_config.thresholds.auto_flag_over",
        "blip_config.child_detection_keywords",
    ],
)
def test_missing_fields_are_named(path: str) -> None:
    assert first_field(drop_path(body(), path)) == path


def test_missing_top_level_object_uses_the_seeds_wording() -> None:
    report = validate(drop_path(body(), "blip_config"))
    assert [describe_error(e) for e in report.errors] == ["Missing required field: blip_config"]
    with pytest.raises(InvalidArgument, match="Missing required field: blip_config"):
        require_valid(drop_path(body(), "blip_config"))


@pytest.mark.parametrize(
    "path",
    ["extra", "detection_config.extra", "detection_config.nudenet_components.feet_detection", "blip_config.model"],
)
def test_unknown_fields_are_refused_by_name(path: str) -> None:
    assert first_field(set_path(body(), path, True)) == path


def test_body_must_be_an_object() -> None:
    assert not validate([1, 2]).valid
    assert not validate(None).valid


def test_thresholds_must_be_ordered() -> None:
    document = set_path(body(), "scoring_config.thresholds", {
        "auto_approve_under": 50, "auto_flag_over": 40, "auto_reject_over": 90
    })  # fmt: skip
    assert first_field(document) == "scoring_config.thresholds.auto_approve_under"
    document = set_path(body(), "scoring_config.thresholds", {
        "auto_approve_under": 10, "auto_flag_over": 95, "auto_reject_over": 90
    })  # fmt: skip
    assert first_field(document) == "scoring_config.thresholds.auto_flag_over"
    # Equal thresholds are allowed (the seed's paysite example: 95 / 100 / 100), with a warning when nothing
    # can be flagged between approval and the flag threshold.
    document = set_path(body(), "scoring_config.thresholds", {
        "auto_approve_under": 95, "auto_flag_over": 95, "auto_reject_over": 100
    })  # fmt: skip
    report = validate(document)
    assert report.valid and any("auto_approve_under equals auto_flag_over" in w for w in report.warnings)


def test_every_error_is_reported_and_the_message_lists_them() -> None:
    document = set_path(body(), "scoring_config.detection_weights.GENITALIA", 300)
    set_path(document, "blip_config.age_estimation_threshold", 200)
    report = validate(document)
    assert [e.field for e in report.errors] == [
        "scoring_config.detection_weights.GENITALIA",
        "blip_config.age_estimation_threshold",
    ]
    with pytest.raises(InvalidArgument) as failure:
        require_valid(document)
    assert "GENITALIA must be number 0-100, got number 300" in failure.value.message
    assert "age_estimation_threshold" in failure.value.message
    assert failure.value.metadata["errors"] == "2"


def test_raw_nudenet_labels_can_be_weighted() -> None:
    document = set_path(body(), "scoring_config.detection_weights.FEMALE_GENITALIA_COVERED", 5)
    assert require_valid(document)["scoring_config"]["detection_weights"]["FEMALE_GENITALIA_COVERED"] == 5.0


def test_numbers_are_normalised() -> None:
    document = set_path(body(), "blip_config.age_estimation_threshold", 21.0)
    normalised = require_valid(document)
    assert normalised["blip_config"]["age_estimation_threshold"] == 21
    assert isinstance(normalised["blip_config"]["age_estimation_threshold"], int)


def test_components_without_a_model_are_reported_not_run() -> None:
    document = set_path(body(), "detection_config.blip_components.image_description", True)
    set_path(document, "blip_config.description_analysis", True)
    report = validate(document)
    assert report.valid
    assert [n.field for n in report.not_run] == [
        "detection_config.blip_components.image_description",
        "blip_config.description_analysis",
    ]
    assert all("will not run" in w for w in report.warnings[-2:])
    # With the auxiliary analyses switched off nothing is claimed to run, so nothing is reported.
    set_path(document, "blip_config.enabled", False)
    assert validate(document).not_run == []


def test_weight_of_a_switched_off_detection_warns() -> None:
    document = set_path(body(), "detection_config.nudenet_components.genitalia_detection", False)
    warnings = validate(document).warnings
    assert any(w.startswith("scoring_config.detection_weights.GENITALIA has no effect") for w in warnings)


def test_usage_intents_and_model_ids() -> None:
    for intent in USAGE_INTENTS:
        assert check_usage_intent(intent) == intent
    with pytest.raises(InvalidArgument) as failure:
        check_usage_intent("adult_site")
    assert (failure.value.field, failure.value.reason) == ("usage_intent", "INVALID_USAGE_INTENT")
    assert check_model_id("") is None
    assert check_model_id("model-123_a") == "model-123_a"
    for bad in ("audit", "a/b", "x" * 65, "ü", "../etc"):
        with pytest.raises(InvalidArgument) as bad_model:
            check_model_id(bad)
        assert bad_model.value.reason == "INVALID_MODEL_ID"


def _row(intent: str, model_id: str | None, version: int) -> StoredConfig:
    return StoredConfig(
        id=version,
        usage_intent=intent,
        model_id=model_id,
        document=builtin_document(intent),
        version=version,
        is_active=True,
        created_by="t",
        created_at=None,
        updated_at=None,
    )


def test_resolution_order() -> None:
    model, global_ = _row("paysite", "m1", 3), _row("paysite", None, 7)
    assert resolve("paysite", model, global_) == Resolved(model, Source.MODEL_OVERRIDE)
    assert resolve("paysite", None, global_) == Resolved(global_, Source.INTENT_GLOBAL)
    fallback = resolve("paysite", None, None)
    assert fallback.source is Source.BUILTIN_DEFAULT
    assert fallback.config.version == 0 and fallback.config.id == 0
    assert fallback.config == builtin_config("paysite")


def test_update_mask_takes_only_the_named_paths() -> None:
    base = body()
    patch = {"scoring_config": {"thresholds": {"auto_approve_under": 1, "auto_flag_over": 2, "auto_reject_over": 3}}}
    merged = apply_update_mask(base, patch, ["scoring_config.thresholds"])
    assert merged["scoring_config"]["thresholds"]["auto_flag_over"] == 2
    assert merged["blip_config"] == base["blip_config"]
    weight = apply_update_mask(base, {"scoring_config": {"detection_weights": {"GENITALIA": 1}}}, [
        "scoring_config.detection_weights.GENITALIA"
    ])  # fmt: skip
    assert weight["scoring_config"]["detection_weights"]["GENITALIA"] == 1
    with pytest.raises(InvalidArgument) as failure:
        apply_update_mask(base, patch, ["scoring_config.nope"])
    assert failure.value.reason == "INVALID_UPDATE_MASK"


def test_cache_expires_and_clears_by_scope() -> None:
    now = [0.0]
    cache = ResolutionCache(600, clock=lambda: now[0])
    value = resolve("paysite", None, None)
    cache.put(("paysite", None), value)
    cache.put(("paysite", "m1"), value)
    cache.put(("store", None), value)
    now[0] = 10
    hit = cache.get(("paysite", None))
    assert hit is not None and hit[1].cached and hit[1].age_s == 10 and hit[1].expires_in_s == 590
    assert cache.clear("paysite", "m1") == 1
    assert cache.clear("paysite") == 1
    now[0] = 700
    assert cache.get(("store", None)) is None


async def test_feed_delivers_to_matching_subscribers_and_cuts_off_slow_ones() -> None:
    feed = ChangeFeed(max_subscribers=3)
    everything, paysite, store = (
        feed.subscribe(None, None),
        feed.subscribe("paysite", None),
        feed.subscribe("store", None),
    )
    resolved = resolve("paysite", None, None)
    event = ConfigEvent(EventType.UPDATED, 1, "create", resolved.config, "me", None, resolved)  # type: ignore[arg-type]
    feed.publish(event)
    assert everything.queue.get_nowait() is event and paysite.queue.get_nowait() is event
    assert store.queue.empty()
    with pytest.raises(Exception, match="too many watch streams"):
        feed.subscribe(None, None)
    for _ in range(1001):
        feed.publish(event)
    assert everything.overflowed and feed.subscribers == 1
