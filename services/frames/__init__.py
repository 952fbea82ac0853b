"""Frames service (see __main__.py for its state)."""
