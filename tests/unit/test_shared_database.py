"""Every service's migrations run into one shared database side by side: no table or version table clashes,
and each service's version table ends at its own scripts' head."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from clearframe_runtime import db
from clearframe_runtime.testing import head_revisions

SERVICES = Path(__file__).resolve().parents[2] / "services"


async def test_all_services_migrate_into_one_database(database: str) -> None:
    migrations = sorted(path for path in SERVICES.glob("*/migrations") if (path / "env.py").exists())
    assert {path.parent.name for path in migrations} >= {"auth", "config", "scanner", "sharelinks"}
    for path in migrations:
        await db.migrate(database, path)
    engine = db.create_engine(database)
    try:
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda c: sa.inspect(c).get_table_names()))
            for path in migrations:
                version_table = f"alembic_version_{path.parent.name}"
                assert version_table in tables
                recorded = (await connection.execute(sa.text(f"SELECT version_num FROM {version_table}"))).scalars()
                assert frozenset(recorded) == head_revisions(path), path.parent.name
    finally:
        await engine.dispose()
    assert "alembic_version" not in tables  # nobody uses Alembic's default, shared, version table
    assert {"sharelinks_assets", "config_analysis_configs", "auth_tokens", "scanner_scans"} <= tables
