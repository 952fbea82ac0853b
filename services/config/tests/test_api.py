"""The proto side of the config service: what our answers print is what a PUT-back may carry."""

from __future__ import annotations

from dataclasses import replace

from clearframe.config.v1 import config_service_pb2 as pb
from services.config.api import config_message
from services.config.domain import READ_ONLY_FIELDS, builtin_config
from services.config.tests.musenest_shipped import shipped


def test_read_only_fields_are_exactly_the_row_fields_our_answers_print() -> None:
    row_fields = {f.name for f in pb.AnalysisConfig.DESCRIPTOR.fields}
    body_fields = {f.name for f in pb.ConfigBody.DESCRIPTOR.fields}
    assert body_fields <= row_fields
    assert row_fields - body_fields == READ_ONLY_FIELDS


def test_answers_carry_the_warnings_and_not_run_of_the_stored_configuration() -> None:
    base = builtin_config("store")
    stored = replace(base, document=shipped("store"), version=1)
    message = config_message(stored)
    assert {n.field for n in message.not_run} == {
        "scoring_config.detection_weights.ILLEGAL_CONTENT",
        "scoring_config.detection_weights.VIOLENCE",
    }
    assert sorted(w.split(" ", 1)[0] for w in message.warnings) == [
        "scoring_config.detection_weights.ILLEGAL_CONTENT",
        "scoring_config.detection_weights.VIOLENCE",
    ]
    assert dict(message.scoring_config.detection_weights)["VIOLENCE"] == 100.0
    assert not message.HasField("model_id")
    assert list(config_message(base).warnings) == []
