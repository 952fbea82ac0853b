"""Adapters of the scanner: Triton, the frames service, SQL storage."""
