"""The configuration use cases on real databases: SQLite always, PostgreSQL when configured (required in CI)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clearframe_runtime import db
from clearframe_runtime.errors import InvalidArgument, NotFound
from clearframe_runtime.testing import assert_migrations_idempotent
from services.config.adapters.sql import SqlConfigStore
from services.config.domain import (
    ChangeFeed,
    Configurations,
    EventType,
    ResolutionCache,
    Source,
    builtin_document,
)
from services.config.ports import Actor

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
ME = Actor(changed_by="k_test", source_ip="192.0.2.10", user_agent="pytest/1")


@pytest.fixture
async def configs(database: str) -> AsyncIterator[Configurations]:
    await db.migrate(database, MIGRATIONS)
    engine = db.create_engine(database)
    yield Configurations(SqlConfigStore(db.session_factory(engine)), ResolutionCache(600), ChangeFeed(10))
    await engine.dispose()


def document(approve: float = 10) -> dict[str, Any]:
    body = copy.deepcopy(builtin_document("public_site"))
    body["scoring_config"]["thresholds"]["auto_approve_under"] = approve
    return body


async def test_migrations_are_idempotent(database: str, configs: Configurations) -> None:
    await configs.put("paysite", "42", document(), ME)
    await assert_migrations_idempotent(database, MIGRATIONS)


async def test_every_put_is_a_new_version_and_the_document_round_trips(configs: Configurations) -> None:
    versions = [(await configs.put("paysite", "42", document(approve), ME)).version for approve in (1, 2, 3)]
    assert versions == [1, 2, 3]
    active, _ = await configs.get("paysite", "42")
    assert active.version == 3 and active.is_active
    assert active.document == document(3)
    page = await configs.audit("paysite", "", limit=0, offset=0, page_size=0, page_token="")
    assert [r.action for r in page.records] == ["update", "update", "create"]
    newest = page.records[0]
    assert (newest.changed_by, newest.source_ip, newest.user_agent) == ("k_test", "192.0.2.10", "pytest/1")
    assert newest.changes == document(3)
    assert newest.previous_values is not None and newest.previous_values.version == 2
    assert newest.previous_values.document == document(2)


async def test_resolution_order_and_fallback_after_delete(configs: Configurations) -> None:
    resolved, _ = await configs.resolve("store", "m1")
    assert resolved.source is Source.BUILTIN_DEFAULT and resolved.config.version == 0
    with pytest.raises(NotFound) as missing:
        await configs.get("store", "m1")
    assert missing.value.reason == "CONFIG_NOT_FOUND"

    await configs.put("store", "", document(5), ME)
    resolved, _ = await configs.resolve("store", "m1")
    assert resolved.source is Source.INTENT_GLOBAL  # the cached default was dropped by the change
    await configs.put("store", "m1", document(7), ME)
    resolved, _ = await configs.resolve("store", "m1")
    assert resolved.source is Source.MODEL_OVERRIDE and resolved.config.document == document(7)

    deleted = await configs.delete("store", "m1", ME)
    assert not deleted.is_active
    config, _ = await configs.get("store", "m1")
    assert config.model_id is None and config.document == document(5)
    with pytest.raises(NotFound):
        await configs.delete("store", "m1", ME)

    # A PUT after DELETE continues the numbering (history is kept) and is audited as a creation.
    again = await configs.put("store", "m1", document(8), ME)
    assert again.version == 2
    page = await configs.audit("store", "m1", limit=10, offset=0, page_size=0, page_token="")
    assert [(r.action, r.version) for r in page.records] == [("create", 2), ("delete", 1), ("create", 1)]


async def test_cache_hits_until_cleared(configs: Configurations) -> None:
    await configs.put("private", "", document(), ME)
    configs.clear_cache("private", "")
    _, first = await configs.get("private", "")
    _, second = await configs.get("private", "")
    assert (first.cached, second.cached) == (False, True)
    assert configs.clear_cache("", "") >= 1
    _, third = await configs.get("private", "")
    assert not third.cached


async def test_invalid_put_stores_nothing(configs: Configurations) -> None:
    bad = document()
    bad["scoring_config"]["detection_weights"]["GENITALIA"] = 101
    with pytest.raises(InvalidArgument) as failure:
        await configs.put("paysite", "", bad, ME)
    assert failure.value.field == "scoring_config.detection_weights.GENITALIA"
    page = await configs.audit("paysite", "", limit=10, offset=0, page_size=0, page_token="")
    assert page.total == 0


async def test_update_mask_keeps_the_rest(configs: Configurations) -> None:
    await configs.put("paysite", "", document(), ME)
    patch = {"scoring_config": {"thresholds": {"auto_approve_under": 1, "auto_flag_over": 2, "auto_reject_over": 3}}}
    updated = await configs.put("paysite", "", patch, ME, update_mask=["scoring_config.thresholds"])
    assert updated.version == 2
    assert updated.document["scoring_config"]["thresholds"]["auto_reject_over"] == 3
    assert updated.document["blip_config"] == document()["blip_config"]
    with pytest.raises(NotFound):
        await configs.put("store", "x", patch, ME, update_mask=["scoring_config.thresholds"])


async def test_audit_pagination(configs: Configurations) -> None:
    for approve in range(5):
        await configs.put("public_site", "", document(approve), ME)
    first = await configs.audit("public_site", "", limit=2, offset=0, page_size=0, page_token="")
    assert (len(first.records), first.total, first.limit, first.offset) == (2, 5, 2, 0)
    second = await configs.audit("public_site", "", limit=0, offset=0, page_size=2, page_token=first.next_page_token)
    assert second.offset == 2 and second.records[0].version == 3
    by_offset = await configs.audit("public_site", "", limit=2, offset=4, page_size=0, page_token="")
    assert [r.version for r in by_offset.records] == [1] and by_offset.next_page_token == ""
    with pytest.raises(InvalidArgument):
        await configs.audit("public_site", "", limit=501, offset=0, page_size=0, page_token="")
    with pytest.raises(InvalidArgument):
        await configs.audit("public_site", "", limit=1, offset=0, page_size=0, page_token="garbage")


async def test_concurrent_puts_get_distinct_versions(configs: Configurations) -> None:
    results = await asyncio.gather(*(configs.put("paysite", "race", document(i), ME) for i in range(4)))
    assert sorted(c.version for c in results) == [1, 2, 3, 4]
    active = await configs.snapshot("paysite", "race")
    assert len(active) == 1 and active[0].version == 4


async def test_changes_are_published_and_replayed(configs: Configurations) -> None:
    subscription = configs.feed.subscribe("paysite", None)
    start = await configs.revision()
    await configs.put("paysite", "m9", document(3), ME)
    await configs.delete("paysite", "m9", ME)
    live = [subscription.queue.get_nowait(), subscription.queue.get_nowait()]
    assert [(e.type, e.action, e.config.version) for e in live] == [
        (EventType.UPDATED, "create", 1),
        (EventType.DEACTIVATED, "delete", 1),
    ]
    assert live[0].resolved.source is Source.MODEL_OVERRIDE
    assert live[1].resolved.source is Source.BUILTIN_DEFAULT
    assert live[0].revision < live[1].revision
    replayed = await configs.replay(start, "paysite", None)
    assert [e.revision for e in replayed] == [e.revision for e in live]
