"""Helpers for tests that need a real database.

``CLEARFRAME_TEST_POSTGRES_URL`` names a PostgreSQL server for the tests. In CI (``CI=true``) it is
required and must answer: database tests fail there, never skip. Each user gets a fresh database that
is dropped afterwards, so runs never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


class PostgresRequired(RuntimeError):
    """CI expects PostgreSQL and it is not configured."""


def postgres_url() -> str | None:
    url = os.environ.get("CLEARFRAME_TEST_POSTGRES_URL")
    if not url and os.environ.get("CI") == "true":
        raise PostgresRequired("CI must set CLEARFRAME_TEST_POSTGRES_URL: database tests run against PostgreSQL there")
    return url or None


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
