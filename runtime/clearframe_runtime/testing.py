"""Helpers for tests that need a real database.

``CLEARFRAME_TEST_POSTGRES_URL`` names a PostgreSQL server for the tests. In CI (``CI=true``) it is
required and must answer: database tests fail there, never skip. Each user gets a fresh database that
is dropped afterwards, so runs never see each other's rows.

:func:`assert_migrations_idempotent` is every service's check that running its migrations again (each
replica does at start) keeps the schema, the rows and the revision as they were.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from clearframe_runtime import db


class PostgresRequired(RuntimeError):
    """CI expects PostgreSQL and it is not configured."""


def postgres_url() -> str | None:
    url = os.environ.get("CLEARFRAME_TEST_POSTGRES_URL")
    if not url and os.environ.get("CI") == "true":
        raise PostgresRequired("CI must set CLEARFRAME_TEST_POSTGRES_URL: database tests run against PostgreSQL there")
    return url or None


@contextmanager
def database_for(kind: str, directory: Path, name: str) -> Iterator[str]:
    """A fresh database's URL for a store contract suite's backend: ``"sqlite"`` (a file ``<name>.db`` in
    ``directory``) or ``"postgres"`` (a temporary database on CLEARFRAME_TEST_POSTGRES_URL's server).
    PostgreSQL is skipped only when no server is named (never in CI, where that fails); a named server that
    does not answer fails the tests."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'{name}.db'}"
        return
    if kind != "postgres":
        raise ValueError(f"no database of kind {kind!r}")
    try:
        server = postgres_url()
    except PostgresRequired as exc:
        pytest.fail(str(exc))
    if server is None:
        pytest.skip("CLEARFRAME_TEST_POSTGRES_URL is not set (CI sets it and requires PostgreSQL)")
    with temporary_postgres_database(server) as url:
        yield url


@contextmanager
def temporary_postgres_database(server_url: str) -> Iterator[str]:
    """Create a uniquely named database on the server, yield its URL, drop it afterwards."""
    import asyncpg

    plain = server_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"clearframe_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(plain, timeout=10)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{plain.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, then a PostgreSQL database (skipped locally without the server,
    failing in CI). Offered to every test by the repository's conftest.py."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    try:
        url = postgres_url()
    except PostgresRequired as exc:
        pytest.fail(str(exc))
    if url is None:
        pytest.skip("CLEARFRAME_TEST_POSTGRES_URL is not set (CI sets it and requires PostgreSQL)")
    with temporary_postgres_database(url) as database_url:
        yield database_url


VERSION_TABLE_PREFIX = "alembic_version"


@dataclass(frozen=True)
class DatabaseSnapshot:
    """What a user of the database would notice: every table's columns and indexes, and every row."""

    columns: dict[str, list[tuple[str, str, bool]]]
    indexes: dict[str, list[tuple[str, tuple[str, ...], bool]]]
    rows: dict[str, list[tuple[str, ...]]]
    #: The revisions recorded in the Alembic version table(s).
    revisions: frozenset[str]

    def data_rows(self) -> int:
        return sum(len(rows) for name, rows in self.rows.items() if not name.startswith(VERSION_TABLE_PREFIX))


def _snapshot(connection: sa.Connection) -> DatabaseSnapshot:
    inspector = sa.inspect(connection)
    columns: dict[str, list[tuple[str, str, bool]]] = {}
    indexes: dict[str, list[tuple[str, tuple[str, ...], bool]]] = {}
    rows: dict[str, list[tuple[str, ...]]] = {}
    revisions: set[str] = set()
    for name in sorted(inspector.get_table_names()):
        columns[name] = [(c["name"], str(c["type"]), bool(c["nullable"])) for c in inspector.get_columns(name)]
        indexes[name] = sorted(
            (str(i["name"]), tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
            for i in inspector.get_indexes(name)
        )
        table = sa.Table(name, sa.MetaData(), autoload_with=connection)
        found = list(connection.execute(sa.select(table)))
        rows[name] = sorted(tuple(repr(value) for value in row) for row in found)
        if name.startswith(VERSION_TABLE_PREFIX):
            revisions.update(str(row[0]) for row in found)
    return DatabaseSnapshot(columns, indexes, rows, frozenset(revisions))


async def database_snapshot(url: str) -> DatabaseSnapshot:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_snapshot)
    finally:
        await engine.dispose()


def head_revisions(script_location: Path) -> frozenset[str]:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


async def assert_migrations_idempotent(url: str, script_location: Path) -> None:
    """Run the migrations of ``script_location`` again on a database that already holds rows, and check
    that the schema, every row and the recorded revision (the scripts' head) are unchanged.

    The caller migrates and writes some rows first, through the service's own store.
    """
    before = await database_snapshot(url)
    assert before.data_rows() > 0, "write rows before the second migration, or the check proves nothing"
    await db.migrate(url, script_location)
    after = await database_snapshot(url)
    assert after.columns == before.columns, "a second migration changed the tables' columns"
    assert after.indexes == before.indexes, "a second migration changed the indexes"
    assert after.rows == before.rows, "a second migration changed rows"
    assert after.revisions == head_revisions(script_location), "the database is not at the scripts' head"
