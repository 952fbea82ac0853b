"""Alembic environment of the scanner service."""

from clearframe_runtime.db import run_alembic_env
from services.scanner.adapters.sql import metadata

run_alembic_env(metadata, version_table="alembic_version_scanner")
