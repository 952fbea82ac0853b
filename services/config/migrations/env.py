"""Alembic environment of the config service."""

from clearframe_runtime.db import run_alembic_env
from services.config.adapters.sql import metadata

run_alembic_env(metadata, version_table="alembic_version_config")
