"""Alembic environment of the auth service."""

from clearframe_runtime.db import run_alembic_env
from services.auth.adapters.sql import metadata

run_alembic_env(metadata, version_table="alembic_version_auth")
