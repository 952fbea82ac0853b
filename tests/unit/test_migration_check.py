"""The shared migration check fails when a second migration loses rows, and refuses to prove nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clearframe_runtime import db
from clearframe_runtime.testing import assert_migrations_idempotent, database_snapshot, head_revisions
from services.config.adapters.sql import SqlConfigStore
from services.config.domain import ChangeFeed, Configurations, ResolutionCache, builtin_document
from services.config.ports import Actor

CONFIG_MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "config" / "migrations"

DESTRUCTIVE = '''"""A migration that a second `migrate` would run: it empties the table."""

from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM config_analysis_configs")


def downgrade() -> None:
    pass
'''


async def _seed(url: str) -> None:
    engine = db.create_engine(url)
    try:
        configs = Configurations(SqlConfigStore(db.session_factory(engine)), ResolutionCache(600), ChangeFeed(10))
        await configs.put("paysite", "42", builtin_document("paysite"), Actor("k_test", "192.0.2.1", "pytest"))
    finally:
        await engine.dispose()


async def test_a_migration_that_loses_rows_is_caught(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(CONFIG_MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    url = f"sqlite:///{tmp_path / 'config.db'}"
    await db.migrate(url, migrations)
    await _seed(url)
    (head,) = head_revisions(migrations)
    (migrations / "versions" / "9999_destructive.py").write_text(DESTRUCTIVE.format(head=head))
    with pytest.raises(AssertionError, match="a second migration changed rows"):
        await assert_migrations_idempotent(url, migrations)
    assert (await database_snapshot(url)).revisions == {"9999"}


async def test_an_empty_database_proves_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'config.db'}"
    await db.migrate(url, CONFIG_MIGRATIONS)
    with pytest.raises(AssertionError, match="write rows before the second migration"):
        await assert_migrations_idempotent(url, CONFIG_MIGRATIONS)


async def test_the_snapshot_sees_schema_rows_and_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'config.db'}"
    await db.migrate(url, CONFIG_MIGRATIONS)
    await _seed(url)
    snapshot = await database_snapshot(url)
    assert snapshot.revisions == head_revisions(CONFIG_MIGRATIONS)
    assert len(snapshot.rows["config_analysis_configs"]) == 1
    assert "usage_intent" in [name for name, _type, _nullable in snapshot.columns["config_analysis_configs"]]
    await assert_migrations_idempotent(url, CONFIG_MIGRATIONS)
