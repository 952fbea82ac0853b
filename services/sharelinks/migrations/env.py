"""Alembic environment of the sharelinks service (assets, their tags and renditions, the feed's cursor)."""

from clearframe_runtime.db import run_alembic_env
from services.sharelinks.adapters.sql import metadata

run_alembic_env(metadata, version_table="alembic_version_sharelinks")
