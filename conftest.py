"""Fixtures every test may use (the `database` fixture: SQLite and PostgreSQL)."""

pytest_plugins = ("clearframe_runtime.testing",)
