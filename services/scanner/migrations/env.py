"""Alembic environment of the scanner service (scans, tag counts, moderation)."""

from clearframe_runtime.db import run_alembic_env
from services.scanner.adapters.sql import metadata
from services.scanner.moderation.adapters import sql as moderation_tables  # noqa: F401  (registers the tables)

run_alembic_env(metadata, version_table="alembic_version_scanner")
