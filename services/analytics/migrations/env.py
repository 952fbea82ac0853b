"""Alembic environment of the analytics service (events and their hourly rollups)."""

from clearframe_runtime.db import run_alembic_env
from services.analytics.adapters.sql import metadata

run_alembic_env(metadata, version_table="alembic_version_analytics")
