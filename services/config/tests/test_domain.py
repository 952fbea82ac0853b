"""Validation (every rule names its field), defaults, resolution order, masks and the cache, without I/O."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from clearframe_runtime.errors import InvalidArgument
from clearframe_runtime.vocabulary import PRODUCED_LABELS
from services.config.domain import (
    MAX_WEIGHTS,
    READ_ONLY_FIELDS,
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
from services.config.tests.musenest_shipped import SHIPPED_INTENTS, UNPRODUCED, shipped


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


def thresholds(approve: float, flag: float, reject: float) -> dict[str, Any]:
    return set_path(body(), "scoring_config.thresholds", {
        "auto_approve_under": approve, "auto_flag_over": flag, "auto_reject_over": reject
    })  # fmt: skip


def test_thresholds_out_of_order_are_kept_with_a_warning_saying_what_applies() -> None:
    # MuseNest's test 3: private 95/98/100 with auto_approve_under raised to 99.
    report = validate(thresholds(99, 98, 100))
    assert report.valid and report.document is not None
    assert report.document["scoring_config"]["thresholds"]["auto_approve_under"] == 99.0
    assert report.warnings == [
        "scoring_config.thresholds.auto_approve_under (99) is above auto_flag_over (98): "
        "approval is checked first, so scores up to 99 are approved"
    ]
    report = validate(thresholds(10, 95, 90))
    assert report.valid
    assert report.warnings == [
        "scoring_config.thresholds.auto_flag_over (95) is above auto_reject_over (90): "
        "rejection is checked before flagging, so scores from 90 are rejected"
    ]
    report = validate(thresholds(92, 40, 90))
    assert report.valid
    assert report.warnings == [
        "scoring_config.thresholds.auto_approve_under (92) is not below auto_reject_over (90): "
        "approval is checked first, so every score up to 92 is approved"
    ]
    # Ordered thresholds say nothing.
    assert validate(thresholds(10, 20, 60)).warnings == []
    # Out-of-range thresholds are still errors.
    assert first_field(thresholds(99, 98, 101)) == "scoring_config.thresholds.auto_reject_over"


def test_equal_thresholds() -> None:
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


def test_read_only_fields_of_our_own_answers_are_ignored() -> None:
    """MuseNest's test 3 PUTs back the `data` of a GET: the row fields beside the body are dropped."""
    sent = body()
    sent.update(
        id=12,
        usage_intent="private",
        model_id=None,
        version=3,
        is_active=True,
        created_by="k_0123456789ab",
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
        not_run=[],
        warnings=["old"],
    )
    assert set(sent) - set(body()) == READ_ONLY_FIELDS
    document = require_valid(sent)
    assert set(document) == {"detection_config", "scoring_config", "blip_config"}
    assert document == require_valid(body())


@pytest.mark.parametrize("key", ["success", "cache_status", "data", "Version"])
def test_other_unknown_top_level_keys_are_still_refused_by_name(key: str) -> None:
    document = body()
    document[key] = 1
    assert first_field(document) == key
    with pytest.raises(InvalidArgument, match=f"{key} is not a known field"):
        require_valid(document)


def test_read_only_names_are_only_ignored_at_the_top() -> None:
    assert first_field(set_path(body(), "scoring_config.version", 1)) == "scoring_config.version"


@pytest.mark.parametrize("intent", SHIPPED_INTENTS)
def test_musenest_shipped_configurations_are_valid_and_their_unknown_weights_reported(intent: str) -> None:
    report = validate(shipped(intent))
    assert report.valid, report.errors
    assert report.document is not None
    # Kept as sent.
    assert report.document["scoring_config"]["detection_weights"] == {
        k: float(v) for k, v in shipped(intent)["scoring_config"]["detection_weights"].items()
    }
    weights = {n.field.rsplit(".", 1)[1]: n.reason for n in report.not_run if ".detection_weights." in n.field}
    assert set(weights) == UNPRODUCED[intent]
    assert all("no Clearframe analyzer produces the label" in reason for reason in weights.values())
    for label in UNPRODUCED[intent]:
        assert any(w.startswith(f"scoring_config.detection_weights.{label} has no effect: ") for w in report.warnings)


def test_any_label_name_is_a_weight_key_but_not_any_string() -> None:
    document = set_path(body(), "scoring_config.detection_weights.custom-label_2", 50)
    assert validate(document).valid
    assert [n.field for n in validate(document).not_run] == ["scoring_config.detection_weights.custom-label_2"]
    for bad in ("has space", "dotted.name", "", "x" * 65):
        document = body()
        document["scoring_config"]["detection_weights"][bad] = 1
        assert first_field(document).startswith("scoring_config.detection_weights.")
    document = body()
    document["scoring_config"]["detection_weights"] = {f"L{i}": 1 for i in range(MAX_WEIGHTS + 1)}
    assert first_field(document) == "scoring_config.detection_weights"
    # Values are still numbers 0-100 under any key.
    assert first_field(set_path(body(), "scoring_config.detection_weights.VIOLENCE", 101)) == (
        "scoring_config.detection_weights.VIOLENCE"
    )


def test_labels_the_analyzers_produce_are_not_reported() -> None:
    document = body()
    document["scoring_config"]["detection_weights"] = dict.fromkeys(PRODUCED_LABELS, 10)
    assert validate(document).not_run == []


def test_validation_errors_are_listed_for_musenests_envelope() -> None:
    document = set_path(body(), "scoring_config.detection_weights.GENITALIA", 300)
    drop_path(document, "blip_config")
    with pytest.raises(InvalidArgument) as failure:
        require_valid(document)
    assert json.loads(failure.value.metadata["validation_errors"]) == [
        "scoring_config.detection_weights.GENITALIA must be number 0-100, got number 300",
        "Missing required field: blip_config",
    ]


def test_unknown_intent_names_the_valid_options() -> None:
    with pytest.raises(InvalidArgument) as failure:
        check_usage_intent("adult_site")
    assert failure.value.metadata["valid_options"].split(",") == list(USAGE_INTENTS)


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
